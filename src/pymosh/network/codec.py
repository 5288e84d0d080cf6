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


# Inputs this small (every heartbeat instruction: 14-38 bytes) are deflated with a 256-entry
# hash table (memLevel 1) instead of zlib's default 32768 (memLevel 8): setting up the
# stream then clears 512 bytes instead of 64 KiB, which on an idle server's wake-up also
# evicted everything else from the caches. The bytes are the same (memLevel is not in the
# zlib header); with zlib's level 6 the smaller table changes only which positions share a
# hash chain, never which match is found, as long as no chain walk is cut short:
# - a position's candidates are the earlier positions with the same hash (all of them: no
#   window slides, no block ends early: 36 bytes are < the 127 symbols memLevel 1's buffer
#   holds); a candidate passes longest_match's first test (its first two bytes and two at
#   the current best length) only if its first three bytes equal the current string's
#   (the same hash, the same first two bytes and hash_bits >= 8 fix the third), i.e. only
#   the true candidates count, in the same order in both tables, so each search ends the
#   same as long as it sees all of them;
# - a search at position p (1 <= p <= n - 3: three bytes of lookahead) sees candidates in
#   1..p-1 (position 0 is never one), at most n - 4 = 32 of them, and zlib's level 6 walks
#   up to 128 (32 once the previous match is >= 8 bytes long): never cut short.
SMALL_INPUT = 36
SMALL_MEM_LEVEL = 1


def compress(data: bytes) -> bytes:
    """``zlib.compress(data)``: the same bytes."""
    if len(data) <= SMALL_INPUT:
        deflater = zlib.compressobj(6, zlib.DEFLATED, 15, SMALL_MEM_LEVEL)
        return deflater.compress(data) + deflater.flush()
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
