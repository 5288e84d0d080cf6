"""AES-128-OCB3 session and datagram seal/open, for the twin and the fast path."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESOCB3
from hypothesis import given, settings
from hypothesis import strategies as st

from pymosh import crypto
from pymosh.crypto import parse_key
from pymosh.errors import DecodeError

KEY = bytes(range(16))


def r(n: int) -> bytes:
    return bytes(range(n))


# RFC 7253 Appendix A (key 00..0f, 128-bit tag), the rows without associated data
RFC7253 = [
    ("bbaa99887766554433221100", 0, "785407bfffc8ad9edcc5520ac9111ee6"),
    ("bbaa99887766554433221103", 8, "45dd69f8f5aae72414054cd1f35d82760b2cd00d2f99bfa9"),
    (
        "bbaa99887766554433221106",
        16,
        "5ce88ec2e0692706a915c00aeb8b2396f40e1c743f52436bdf06d8fa1eca343d",
    ),
    (
        "bbaa99887766554433221109",
        24,
        "221bd0de7fa6fe993eccd769460a0af2d6cded0c395b1c3ce725f32494b9f914d85c0b1eb38357ff",
    ),
    (
        "bbaa9988776655443322110c",
        32,
        "2942bfc773bda23cabc6acfd9bfd5835bd300f0973792ef46040c53f1432bcdfb5e1dde3bc18a5f8"
        "40b52e653444d5df",
    ),
    # draft-krovetz-ocb-03 App. A, as in mosh's own test (protocol.md §10.2)
    ("000102030405060708090a0b", 0, "197b9c3c441d3c83eafb2bef633b9182"),
    (
        "000102030405060708090a0b",
        24,
        "bea5e8798dbe7110031c144da0b26122fcfcee7a2a8d4d486ef2f52587fda0ed97dc7eede241df68",
    ),
]

S1 = (
    "00000000000000009f164d976357081cc1c8bceef905db5a02428c8571949d686f4420ca31f0060ca4"
    "3d50ffb19e12e522a8cf6e73fd36a91f68ecf470d119b52ed349b9"
)
S1_PAYLOAD = "00000000000000018000789ce360126090605460d06030e2e0629362d1083090b0620000105301de"
S2 = (
    "8000000000000001f18ba9764054bd6a8a3adee94ca5ad3d7b8500f98b1cc5cbed2e07ebe2e5a2c327b5"
    "946f81a2f427d49b2cbad23e46fe94bd32427ea0822f3c8ba8d378c83e9ed1ad7d"
)
S2_PAYLOAD = (
    "00000000000000028000789ce360126090605260d46030e2e362b1627260e46213625162cac8b4626400001edf029f"
)


@pytest.mark.parametrize("nonce_hex, n, sealed_hex", RFC7253)
def test_rfc7253_vectors(crypto_impl, nonce_hex, n, sealed_hex):
    s = crypto_impl.Session(KEY)
    nonce = bytes.fromhex(nonce_hex)
    assert s.encrypt(nonce, r(n)).hex() == sealed_hex
    assert s.decrypt(nonce, bytes.fromhex(sealed_hex)) == r(n)


def test_constants(crypto_impl):
    assert (crypto_impl.TO_SERVER, crypto_impl.TO_CLIENT) == (0, 1)


def test_package_exports_the_chosen_session():
    assert crypto.Session.__module__ in ("pymosh.crypto.ocb", "_fastpath.crypto")
    assert (crypto.TO_SERVER, crypto.TO_CLIENT) == (0, 1)


@pytest.mark.parametrize(
    "datagram, direction, seq, ts, reply, payload",
    [
        (S1, 0, 0, 0x1234, 0xFFFF, S1_PAYLOAD),
        (S2, 1, 1, 0x0102, 0x1234, S2_PAYLOAD),
    ],
)
def test_synthetic_packets(crypto_impl, datagram, direction, seq, ts, reply, payload):
    s = crypto_impl.Session(parse_key("AAECAwQFBgcICQoLDA0ODw"))
    assert s.seal_datagram(direction, seq, ts, reply, bytes.fromhex(payload)).hex() == datagram
    assert s.open_datagram(bytes.fromhex(datagram), direction) == (
        seq,
        ts,
        reply,
        bytes.fromhex(payload),
    )


def test_nonce_layout_and_direction_bit(crypto_impl):
    s = crypto_impl.Session(KEY)
    d = s.seal_datagram(1, 12, 7, 8, b"xyz")
    assert d[:8] == bytes.fromhex("800000000000000c")
    assert len(d) == 8 + 4 + 3 + 16
    # the body is plain OCB under nonce = 4 zero bytes ‖ the first 8 bytes
    plain = AESOCB3(KEY).decrypt(bytes(4) + d[:8], d[8:], None)
    assert plain == bytes.fromhex("00070008") + b"xyz"
    big = s.seal_datagram(0, (1 << 63) - 1, 0, 0, b"")
    assert big[:8] == bytes.fromhex("7fffffffffffffff")
    assert s.open_datagram(big, 0)[0] == (1 << 63) - 1


@settings(max_examples=60, deadline=None)
@given(
    seq=st.integers(0, (1 << 63) - 1),
    ts=st.integers(0, 0xFFFF),
    reply=st.integers(0, 0xFFFF),
    payload=st.binary(max_size=1300),
    direction=st.sampled_from([0, 1]),
)
def test_twin_and_fast_path_agree(seq, ts, reply, payload, direction):
    from pymosh import _accel
    from pymosh.crypto import ocb

    fast = _accel.fast_module("crypto") or ocb
    a, b = ocb.Session(KEY), fast.Session(KEY)
    d = a.seal_datagram(direction, seq, ts, reply, payload)
    assert b.seal_datagram(direction, seq, ts, reply, payload) == d
    assert (
        a.open_datagram(d, direction) == b.open_datagram(d, direction) == (seq, ts, reply, payload)
    )


def test_accepts_bytes_like(crypto_impl):
    s = crypto_impl.Session(bytearray(KEY))
    d = s.seal_datagram(0, 5, 1, 2, memoryview(b"abc"))
    assert s.open_datagram(bytearray(d), 0) == (5, 1, 2, b"abc")
    assert s.decrypt(bytes(12), memoryview(s.encrypt(bytearray(12), b"q"))) == b"q"


def test_block_counting(crypto_impl):
    s = crypto_impl.Session(KEY)
    assert s.blocks_encrypted == 0
    s.seal_datagram(0, 0, 0, 0, b"x" * 12)  # 16 plaintext bytes: 1 block
    s.seal_datagram(0, 1, 0, 0, b"x" * 13)  # 17: 2 blocks
    s.encrypt(bytes(12), b"")  # 0 blocks
    assert s.blocks_encrypted == 3


# ------------------------------------------------------------------ bad input


def _good(impl, direction=0):
    return impl.Session(KEY).seal_datagram(direction, 3, 100, 200, b"0123456789abcdef")


def test_oversize_datagram(crypto_impl):
    s = crypto_impl.Session(KEY)
    with pytest.raises(DecodeError, match="oversize"):
        s.open_datagram(os.urandom(2049), 0)
    ok = s.seal_datagram(0, 0, 0, 0, bytes(2048 - 28))  # exactly 2048 is accepted
    assert len(ok) == 2048 and s.open_datagram(ok, 0)[3] == bytes(2020)
    with pytest.raises(DecodeError, match="oversize"):
        s.open_datagram(s.seal_datagram(0, 0, 0, 0, bytes(2048 - 27)), 0)


@pytest.mark.parametrize("size", [0, 1, 8, 23])
def test_short_datagram(crypto_impl, size):
    with pytest.raises(DecodeError, match="nonce and tag"):
        crypto_impl.Session(KEY).open_datagram(bytes(size), 0)


def test_truncated_datagram(crypto_impl):
    d = _good(crypto_impl)
    s = crypto_impl.Session(KEY)
    for cut in (1, 5, 16, len(d) - 24):
        with pytest.raises(DecodeError):
            s.open_datagram(d[:-cut], 0)


def test_wrong_key(crypto_impl):
    d = _good(crypto_impl)
    with pytest.raises(DecodeError, match="integrity"):
        crypto_impl.Session(bytes(16)).open_datagram(d, 0)


def test_every_flipped_bit_is_rejected(crypto_impl):
    d = _good(crypto_impl)
    s = crypto_impl.Session(KEY)
    for i in range(len(d) * 8):
        bad = bytearray(d)
        bad[i // 8] ^= 1 << (i % 8)
        with pytest.raises(DecodeError):
            s.open_datagram(bytes(bad), 0)
    assert s.open_datagram(d, 0) == (3, 100, 200, b"0123456789abcdef")


def test_wrong_direction(crypto_impl):
    s = crypto_impl.Session(KEY)
    with pytest.raises(DecodeError, match="direction"):
        s.open_datagram(_good(crypto_impl, 0), 1)
    with pytest.raises(DecodeError, match="direction"):
        s.open_datagram(_good(crypto_impl, 1), 0)


@pytest.mark.parametrize("n", [0, 3])
def test_plaintext_without_timestamps(crypto_impl, n):
    s = crypto_impl.Session(KEY)
    nonce_tail = bytes(8)
    d = nonce_tail + s.encrypt(bytes(4) + nonce_tail, bytes(n))
    with pytest.raises(DecodeError, match="timestamps"):
        s.open_datagram(d, 0)


def test_decrypt_failures(crypto_impl):
    s = crypto_impl.Session(KEY)
    sealed = s.encrypt(bytes(12), b"hello")
    with pytest.raises(DecodeError):
        s.decrypt(bytes(12), sealed[:15])
    with pytest.raises(DecodeError):
        s.decrypt(bytes(11) + b"\x01", sealed)
    assert s.decrypt(bytes(12), sealed) == b"hello"  # context still usable after failures


def test_bad_arguments(crypto_impl):
    with pytest.raises(ValueError):
        crypto_impl.Session(bytes(15))
    with pytest.raises(ValueError):
        crypto_impl.Session(KEY).encrypt(bytes(8), b"")


def test_sequence_number_range(crypto_impl):
    s = crypto_impl.Session(KEY)
    d = s.seal_datagram(0, (1 << 63) + 5, 0, 0, b"")  # the 64th bit never leaks
    assert d[:8] == bytes.fromhex("0000000000000005")
    for bad in (-1, 1 << 64):
        with pytest.raises(OverflowError):
            s.seal_datagram(0, bad, 0, 0, b"")


@pytest.mark.parametrize("convert", [bytearray, memoryview])
def test_datagrams_take_any_buffer_and_refuse_none(crypto_impl, convert):
    """Bytes (every datagram) take a shortcut in the fast path; other buffers give the
    same datagrams, a non-buffer the twin's TypeError."""
    key = bytes(range(16))
    sealed = crypto_impl.Session(key).seal_datagram(1, 5, 100, 200, b"xyz")
    assert crypto_impl.Session(key).seal_datagram(1, 5, 100, 200, convert(b"xyz")) == sealed
    assert crypto_impl.Session(key).open_datagram(convert(sealed), 1) == (5, 100, 200, b"xyz")
    for bad in (None, 5):
        with pytest.raises(TypeError):
            crypto_impl.Session(key).open_datagram(bad, 1)
        with pytest.raises(TypeError):
            crypto_impl.Session(key).seal_datagram(1, 5, 100, 200, bad)
