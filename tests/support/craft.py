"""Build and inspect SSP datagrams directly, for tests that play a misbehaving peer."""

from __future__ import annotations

import zlib
from typing import Any, List

from pymosh.network.connection import Connection
from pymosh.network.fragment import Fragment, FragmentAssembly, fragment_capacity
from pymosh.wire.protobuf import Instruction, encode_instruction


class Peer:
    """A bare Connection plus fragmenter that sends hand-made Instructions."""

    def __init__(
        self, key: bytes, is_server: bool, crypto: Any, remote_addr: Any = None, now: float = 0
    ) -> None:
        self.conn = Connection(key, is_server, remote_addr, session_class=crypto.Session, now=now)
        self.next_id = 0
        self.assembly = FragmentAssembly()

    def datagrams(self, inst: Instruction, now: float) -> List[bytes]:
        # our own fragmenting: a misbehaving peer may reuse (old, new) with another diff
        self.next_id += 1
        data = zlib.compress(encode_instruction(inst))
        size = fragment_capacity(self.conn.mtu)
        pieces = [data[i : i + size] for i in range(0, len(data), size)]
        return [
            self.conn.make_datagram(
                Fragment(self.next_id, n, n == len(pieces) - 1, p).to_bytes(), now
            )
            for n, p in enumerate(pieces)
        ]

    def read(self, datagram: bytes, addr: Any, now: float) -> Instruction | None:
        payload = self.conn.receive(datagram, addr, now)
        if payload is None:
            return None
        return self.assembly.add(Fragment.parse(payload))


def decode(crypto: Any, key: bytes, datagrams: List[bytes], direction: int) -> List[Instruction]:
    """The Instructions carried by consecutive datagrams of one direction (no side effects)."""
    session = crypto.Session(key)
    assembly = FragmentAssembly()
    out = []
    for d in datagrams:
        _, _, _, payload = session.open_datagram(d, direction)
        inst = assembly.add(Fragment.parse(payload))
        if inst is not None:
            out.append(inst)
    return out
