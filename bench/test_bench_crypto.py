"""Crypto and packet-codec micro benchmarks: fast path, twin and bare AESOCB3 side by side.

Run: ``python -m bench`` or ``PYTHONPATH=src python -m pytest bench/test_bench_crypto.py
--benchmark-only``.
"""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESOCB3

from pymosh import _accel
from pymosh.crypto import ocb
from pymosh.network.fragment import Fragment, FragmentAssembly, Fragmenter
from pymosh.wire.protobuf import Instruction

KEY = bytes(range(16))


class _Bare:
    """cryptography's AESOCB3 with the same nonce construction, nothing else."""

    def __init__(self, key: bytes) -> None:
        self.aead = AESOCB3(key)

    def round_trip(self, seq: int, payload: bytes) -> bytes:
        nonce = b"\0\0\0\0" + seq.to_bytes(8, "big")
        return self.aead.decrypt(nonce, self.aead.encrypt(nonce, payload, None), None)


def _session_cls(name: str):
    if name == "py":
        return ocb.Session
    module = _accel.fast_module("crypto")
    if module is None:
        pytest.skip("_fastpath.crypto not built")
    return module.Session


@pytest.mark.parametrize("size", [100, 1400])
@pytest.mark.parametrize("impl", ["c", "py", "bare"])
def test_seal_open(benchmark, impl, size):
    payload = os.urandom(size)
    benchmark.group = f"seal+open {size} B"
    if impl == "bare":
        bare = _Bare(KEY)
        assert benchmark(bare.round_trip, 7, payload + b"tsts") == payload + b"tsts"
        return
    s = _session_cls(impl)(KEY)

    def round_trip() -> bytes:
        return s.open_datagram(s.seal_datagram(1, 7, 1, 2, payload), 1)[3]

    assert benchmark(round_trip) == payload


def _instruction(n: int) -> Instruction:
    # terminal-like diff: compressible but not trivially so
    diff = (b"\x1b[1;1Hhello world \x1b[7m" + os.urandom(8).hex().encode()) * (n // 48 + 1)
    return Instruction(2, 10, 11, 9, 10, diff[:n], os.urandom(9))


@pytest.mark.parametrize("impl", ["c", "py"])
def test_packet_encode(benchmark, impl):
    s = _session_cls(impl)(KEY)
    fragmenter = Fragmenter()
    ins = _instruction(3000)
    benchmark.group = "packet encode (fragment+zlib+seal, 3000 B diff)"

    def encode() -> list:
        return [
            s.seal_datagram(1, i, 1, 2, f.to_bytes())
            for i, f in enumerate(fragmenter.make_fragments(ins, 1252))
        ]

    assert len(benchmark(encode)) >= 1


@pytest.mark.parametrize("impl", ["c", "py"])
def test_packet_decode(benchmark, impl):
    s = _session_cls(impl)(KEY)
    ins = _instruction(3000)
    datagrams = [
        s.seal_datagram(1, i, 1, 2, f.to_bytes())
        for i, f in enumerate(Fragmenter().make_fragments(ins, 1252))
    ]
    benchmark.group = "packet decode (open+reassemble+inflate, 3000 B diff)"

    def decode():
        asm = FragmentAssembly()
        result = None
        for d in datagrams:
            result = asm.add(Fragment.parse(s.open_datagram(d, 1)[3]))
        return result

    assert benchmark(decode) == ins
