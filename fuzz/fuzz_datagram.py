"""Fuzz the packet opener (Session.open_datagram) and everything an opened packet feeds:
Fragment.parse -> FragmentAssembly.add -> zlib -> Instruction -> User/HostMessage.

Input layout: byte 0 = mode, rest = body.
  mode & 1 == 0: body is a raw datagram from the network (almost never authentic);
    mode & 2 picks the real session key of protocol.md §10.4 instead of the §10.3 one,
    mode & 8 the direction to open with.
  mode & 1 == 1: body[:8] is the wire nonce, body[8:] a plaintext; it is sealed with the
    session key, so the opener and the layers above it see authentic input.  Then
      mode & 2: flip one bit (index from mode >> 4 and the body) -> must fail;
      mode & 4: truncate by 1 + (mode >> 4) bytes               -> must fail;
      mode & 8: open with the other direction.
Both implementations (twin and fast path) must give the same answer.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import KEY, implementations, run_atheris  # noqa: E402

from pymosh.errors import DecodeError  # noqa: E402
from pymosh.network.fragment import Fragment, FragmentAssembly  # noqa: E402
from pymosh.wire import protobuf  # noqa: E402

SEQ_MASK = (1 << 63) - 1


REAL_KEY = bytes.fromhex("d465e7fdd259cc1f63d5d274b2a0887d")


def _open(impl, datagram: bytes, direction: int, key: bytes = KEY):
    try:
        return impl.Session(key).open_datagram(datagram, direction)
    except DecodeError:
        return None


def check(data: bytes, impls) -> None:
    if impls is None:
        impls = implementations("crypto")
    if not data:
        for impl in impls:
            assert _open(impl, b"", 0) is None
        return
    mode, body = data[0], data[1:]
    expected = None
    direction = (mode >> 3) & 1 if not mode & 1 else 0
    if mode & 1:
        wire = body[:8].ljust(8, b"\x00")
        plaintext = body[8:]
        sealer = impls[0].Session(KEY)
        datagram = wire + sealer.encrypt(b"\x00\x00\x00\x00" + wire, plaintext)
        value = int.from_bytes(wire, "big")
        direction = value >> 63
        if mode & 8:
            direction ^= 1
        must_fail = False
        if mode & 2:
            bit = ((mode >> 4) * 131 + len(body)) % (len(datagram) * 8)
            flipped = bytearray(datagram)
            flipped[bit >> 3] ^= 1 << (bit & 7)
            datagram = bytes(flipped)
            must_fail = True
        if mode & 4:
            datagram = datagram[: max(0, len(datagram) - 1 - (mode >> 4))]
            must_fail = True
        if must_fail or len(plaintext) < 4 or value >> 63 != direction or len(datagram) > 2048:
            expected = None
        else:
            expected = (
                value & SEQ_MASK,
                int.from_bytes(plaintext[0:2], "big"),
                int.from_bytes(plaintext[2:4], "big"),
                plaintext[4:],
            )
    else:
        datagram = body

    key = REAL_KEY if mode & 3 == 2 else KEY
    results = [_open(impl, datagram, direction, key) for impl in impls]
    for r in results[1:]:
        assert r == results[0], (results, datagram.hex())
    opened = results[0]
    if mode & 1:
        assert opened == expected, (opened, expected, datagram.hex())
    if opened is None:
        return
    seq, ts, ts_reply, payload = opened
    assert 0 <= seq <= SEQ_MASK and 0 <= ts <= 0xFFFF and 0 <= ts_reply <= 0xFFFF
    _feed_payload(payload)


def _feed_payload(payload: bytes) -> None:
    """What a receiver does next: only DecodeError may come out."""
    try:
        frag = Fragment.parse(payload)
    except DecodeError:
        assert len(payload) < 10
        return
    assert frag.to_bytes() == payload
    try:
        ins = FragmentAssembly().add(frag)
    except DecodeError:
        return
    if ins is None:
        return
    for decode in (protobuf.decode_user_message, protobuf.decode_host_message):
        try:
            decode(ins.diff)
        except DecodeError:
            pass


def main() -> None:
    run_atheris("datagram", check, "crypto")


if __name__ == "__main__":
    main()
