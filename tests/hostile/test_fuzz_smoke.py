"""Brief runs of the fuzz targets in fuzz/ (the seed corpus, then hypothesis-generated
inputs) so CI exercises them on every run, on both implementations where two exist."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pymosh.errors import DecodeError
from tests.hostile._fuzzload import load

common = load("common")
fuzz_datagram = load("fuzz_datagram")
fuzz_fragment = load("fuzz_fragment")
fuzz_protobuf = load("fuzz_protobuf")

SMOKE = settings(
    max_examples=300,
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


# ---------------------------------------------------------------- datagram opener


def test_datagram_corpus_reaches_the_upper_layers(crypto_impl):
    """The real captured datagrams in the seed corpus do authenticate (so the fuzzer
    starts inside the fragment/zlib/protobuf layers), and every seed passes."""
    opened = 0
    for seed in common.corpus("datagram"):
        fuzz_datagram.check(seed, [crypto_impl])
        if seed[0] == 2 or seed[0] == 10:
            datagram, direction = seed[1:], seed[0] >> 3
            seq, ts, reply, payload = crypto_impl.Session(fuzz_datagram.REAL_KEY).open_datagram(
                datagram, direction
            )
            assert len(payload) >= 10
            opened += 1
    assert opened == 7


@SMOKE
@given(data=st.binary(max_size=2100))
def test_datagram_random(crypto_impl, data):
    fuzz_datagram.check(data, [crypto_impl])


@SMOKE
@given(mode=st.integers(0, 255), body=st.binary(max_size=300))
def test_datagram_structured_both_implementations_agree(mode, body):
    impls = common.implementations("crypto")
    fuzz_datagram.check(bytes([mode]) + body, impls)


@SMOKE
@given(body=st.binary(min_size=4, max_size=200), bit=st.integers(0, 10_000))
def test_any_bit_flip_fails_authentication(crypto_impl, body, bit):
    session = crypto_impl.Session(common.KEY)
    datagram = bytearray(session.seal_datagram(0, 5, 1, 2, body))
    bit %= len(datagram) * 8
    datagram[bit >> 3] ^= 1 << (bit & 7)
    with pytest.raises(DecodeError):
        session.open_datagram(bytes(datagram), 0)


def test_oversize_and_short_datagrams_rejected(crypto_impl):
    session = crypto_impl.Session(common.KEY)
    big = session.seal_datagram(0, 1, 0, 0xFFFF, b"\x00" * 2100)
    with pytest.raises(DecodeError):
        session.open_datagram(big, 0)
    for n in range(24):
        with pytest.raises(DecodeError):
            session.open_datagram(os.urandom(n), 0)


# ---------------------------------------------------------------- fragment reassembly


def test_fragment_corpus():
    for seed in common.corpus("fragment"):
        fuzz_fragment.check(seed)


@SMOKE
@given(data=st.binary(max_size=400))
def test_fragment_reassembly_model(data):
    fuzz_fragment.check(data)


# ---------------------------------------------------------------- protobuf


def test_protobuf_corpus():
    for seed in common.corpus("protobuf"):
        fuzz_protobuf.check(seed)


@settings(SMOKE, max_examples=1000)
@given(data=st.binary(max_size=200))
def test_protobuf_random(data):
    fuzz_protobuf.check(data)
