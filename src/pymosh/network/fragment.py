"""Instruction ⇄ fragments: zlib compression, slicing and single-slot reassembly.

protocol.md §4: the serialized Instruction is zlib-compressed (level 6, as Mosh's
`compress()`), cut into slices of MTU − 38 bytes, each sent with a 10-byte header
(8-byte instruction id, then final << 15 | fragment number, big-endian).
"""

from __future__ import annotations

import struct

from pymosh import _accel
from pymosh.errors import DecodeError
from pymosh.value import Frozen
from pymosh.wire.protobuf import Instruction

# encode + compress, decompress + parse: in C when built (one zlib stream per process)
codec = _accel.pick("codec")

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List

HEADER = struct.Struct(">QH")
HEADER_LEN = HEADER.size  # 10


def header(ident: int, num: int, final: bool) -> bytes:
    """A fragment's 10-byte header: instruction id, then the final flag over its number."""
    return HEADER.pack(ident & U64, (0x8000 if final else 0) | num)


# Connection::ADDED_BYTES (8 seq + 4 timestamps) + Session::ADDED_BYTES (16-byte tag)
DATAGRAM_OVERHEAD = 12 + 16
MAX_FRAGMENT_NUM = 0x7FFF
DECOMPRESS_LIMIT = 4 * 1024 * 1024  # Mosh's fixed decompression buffer
# a zlib stream that inflates to at most 4 MiB is never much larger than that
MAX_ASSEMBLED = DECOMPRESS_LIMIT + 64 * 1024
U64 = (1 << 64) - 1


class Fragment(Frozen):
    __slots__ = ("id", "num", "final", "contents")
    id: int
    num: int
    final: bool
    contents: bytes

    def __init__(self, id: int, num: int, final: bool, contents: bytes) -> None:
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "num", num)
        object.__setattr__(self, "final", final)
        object.__setattr__(self, "contents", contents)

    def to_bytes(self) -> bytes:
        if not 0 <= self.num <= MAX_FRAGMENT_NUM:
            raise ValueError("fragment number out of range")
        return header(self.id, self.num, self.final) + self.contents

    @classmethod
    def parse(cls, data: bytes) -> Fragment:
        if len(data) < HEADER_LEN:
            raise DecodeError("fragment shorter than its 10-byte header")
        ident, word = HEADER.unpack_from(data)
        return cls(ident, word & MAX_FRAGMENT_NUM, bool(word & 0x8000), bytes(data[HEADER_LEN:]))


def fragment_capacity(mtu: int) -> int:
    """Fragment content bytes that fit in a datagram of `mtu` bytes (1252 → 1214)."""
    return mtu - DATAGRAM_OVERHEAD - HEADER_LEN


class Fragmenter:
    """Mosh's sender side: assigns instruction ids and cuts compressed instructions."""

    def __init__(self) -> None:
        self.next_instruction_id = 0
        # Mosh's initial "last instruction" has old/new = 2^64 − 1, so the first id is 1
        self._last_key: tuple = (None, U64, U64, None, None, None, None)
        self._last_diff: bytes | None = None

    def make_fragments(self, instruction: Instruction, mtu: int) -> List[Fragment]:
        return [Fragment.parse(payload) for payload in self.make_payloads(instruction, mtu)]

    def make_payloads(self, instruction: Instruction, mtu: int) -> List[bytes]:
        """The instruction's fragments as datagram payloads (header + contents)."""
        ins = instruction
        return self.payloads(
            ins.protocol_version,
            ins.old_num,
            ins.new_num,
            ins.ack_num,
            ins.throwaway_num,
            ins.diff if type(ins.diff) is bytes else bytes(ins.diff),
            ins.chaff if type(ins.chaff) is bytes else bytes(ins.chaff),
            mtu,
        )

    def payloads(
        self,
        protocol_version: int,
        old_num: int,
        new_num: int,
        ack_num: int,
        throwaway_num: int,
        diff: bytes,
        chaff: bytes,
        mtu: int,
    ) -> List[bytes]:
        """`make_payloads` of the Instruction with these fields, without building it (the
        sender's path: every heartbeat)."""
        size = fragment_capacity(mtu)
        if size <= 0:
            raise ValueError("MTU too small for a fragment")
        last = self._last_key
        if (
            old_num == last[1]
            and new_num == last[2]
            and self._last_diff is not None
            and diff != self._last_diff
        ):
            raise ValueError("same (old_num, new_num) with a different diff")
        key = (protocol_version, old_num, new_num, ack_num, throwaway_num, chaff, mtu)
        if key != last:
            self.next_instruction_id += 1
        self._last_key = key
        self._last_diff = diff

        compressed = codec.pack(
            protocol_version, old_num, new_num, ack_num, throwaway_num, diff, chaff
        )
        ident = self.next_instruction_id
        if len(compressed) <= size:  # every idle instruction, most others
            return [header(ident, 0, True) + compressed]
        count = -(-len(compressed) // size)
        if count - 1 > MAX_FRAGMENT_NUM:
            raise ValueError("instruction needs more than 32768 fragments")
        return [
            header(ident, i, i == count - 1) + compressed[i * size : (i + 1) * size]
            for i in range(count)
        ]


def decompress(data: bytes) -> bytes:
    """Inflate a zlib stream into at most 4 MiB, or DecodeError."""
    return codec.decompress(data, DECOMPRESS_LIMIT)


class FragmentAssembly:
    """Mosh's receiver side: one partially assembled instruction at a time (§4.2)."""

    def __init__(self) -> None:
        self.current_id: int | None = None
        self._parts: Dict[int, bytes] = {}
        self._total: int | None = None
        self._size = 0

    def _reset(self, ident: int | None) -> None:
        self.current_id = ident
        self._parts = {}
        self._total = None
        self._size = 0

    def add_payload(self, payload: bytes) -> Instruction | None:
        """`add(Fragment.parse(payload))`, without the Fragment for a whole instruction in
        one fragment (every idle one) when no other instruction is half assembled."""
        if len(payload) < HEADER_LEN:
            raise DecodeError("fragment shorter than its 10-byte header")
        ident, word = HEADER.unpack_from(payload)
        if word != 0x8000 or (ident == self.current_id and self._parts):
            return self.add(Fragment.parse(payload))
        if ident != self.current_id:
            self._reset(ident)
        try:
            return Instruction(*codec.unpack(payload[HEADER_LEN:], DECOMPRESS_LIMIT))
        except DecodeError:
            self._reset(None)
            raise

    def add(self, frag: Fragment) -> Instruction | None:
        """Take one fragment; the Instruction once all of its fragments are here.

        Inconsistent fragments (which abort the real receiver), an oversized or corrupt
        zlib stream and unparsable protobuf raise DecodeError; the slot is then cleared.
        """
        if frag.id != self.current_id:
            self._reset(frag.id)
        try:
            return self._add(frag)
        except DecodeError:
            self._reset(None)
            raise

    def _add(self, frag: Fragment) -> Instruction | None:
        if not 0 <= frag.num <= MAX_FRAGMENT_NUM:
            raise DecodeError("fragment number out of range")
        held = self._parts.get(frag.num)
        if held is not None:
            if held != frag.contents:
                raise DecodeError("duplicate fragment with different contents")
        else:
            if self._total is not None and frag.num >= self._total:
                raise DecodeError("fragment number past the final fragment")
            self._size += len(frag.contents)
            if self._size > MAX_ASSEMBLED:
                raise DecodeError("instruction too large")
            self._parts[frag.num] = bytes(frag.contents)
        if frag.final:
            total = frag.num + 1
            if self._total is not None and self._total != total:
                raise DecodeError("two different final fragments")
            if max(self._parts) >= total:
                raise DecodeError("fragment number past the final fragment")
            self._total = total
        if self._total is None or len(self._parts) < self._total:
            return None
        data = b"".join(self._parts[i] for i in range(self._total))
        ident = self.current_id
        self._reset(ident)
        return Instruction(*codec.unpack(data, DECOMPRESS_LIMIT))
