"""Instruction ⇄ zlib stream (protocol.md §4, §5.1): the pure-Python twin of _fastpath.codec.

`pack` encodes an Instruction's seven fields (pymosh.wire.protobuf, byte-identical to
Mosh) and compresses them like Mosh's ``compress()`` (zlib level 6); `unpack` inflates at
most ``limit`` bytes and parses them. The fast path gives the same bytes and errors
without building a zlib state per instruction.
"""

from __future__ import annotations

import zlib

from pymosh.errors import DecodeError
from pymosh.wire.protobuf import Instruction, decode_instruction, encode_instruction

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Tuple

    Fields = Tuple[int, int, int, int, int, bytes, bytes]

TRUNCATED = "zlib stream truncated or larger than the limit"
BAD_STREAM = "bad zlib stream"


def compress(data: bytes) -> bytes:
    return zlib.compress(data)


def decompress(data: bytes, limit: int) -> bytes:
    """Inflate one zlib stream into at most ``limit`` bytes (bytes after its end are
    ignored), or DecodeError (corrupt, truncated, or inflating to more than ``limit``)."""
    if limit < 0:
        raise ValueError("negative limit")
    inflater = zlib.decompressobj()
    try:
        if limit:
            out, pending = inflater.decompress(data, limit), inflater.unconsumed_tail
        else:  # (a max_length of 0 means no limit to zlib)
            out, pending = b"", data
        if not inflater.eof:
            # either truncated or larger than the limit; one more byte tells which
            if inflater.decompress(pending, 1) or not inflater.eof:
                raise DecodeError(TRUNCATED)
    except zlib.error:
        raise DecodeError(BAD_STREAM) from None
    return out


def pack(
    protocol_version: int,
    old_num: int,
    new_num: int,
    ack_num: int,
    throwaway_num: int,
    diff: bytes,
    chaff: bytes,
) -> bytes:
    """The zlib stream of the encoded Instruction (field order, every field, like Mosh)."""
    ins = Instruction(protocol_version, old_num, new_num, ack_num, throwaway_num, diff, chaff)
    return compress(encode_instruction(ins))


def parse(data: bytes) -> Fields:
    """The seven fields of an encoded Instruction, in field order, or DecodeError."""
    ins = decode_instruction(data)
    return (
        ins.protocol_version,
        ins.old_num,
        ins.new_num,
        ins.ack_num,
        ins.throwaway_num,
        ins.diff,
        ins.chaff,
    )


def unpack(data: bytes, limit: int) -> Fields:
    """``parse(decompress(data, limit))``."""
    return parse(decompress(data, limit))
