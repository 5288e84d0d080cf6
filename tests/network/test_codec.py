"""The instruction codec (zlib + protobuf), twin and fast path alike: the same bytes as
``zlib.compress(encode_instruction(...))``, the same fields and errors as the Python
decoder, bounded inflation, and a zlib stream reused across instructions that never leaks
one instruction's state into the next."""

from __future__ import annotations

import os
import random
import zlib

import pytest

from pymosh.errors import DecodeError
from pymosh.network.sender import SHUTDOWN_NUM
from pymosh.wire.protobuf import Instruction, decode_instruction, encode_instruction

LIMIT = 4 * 1024 * 1024
U64 = (1 << 64) - 1

INSTRUCTIONS = [
    (2, 0, 0, 0, 0, b"", b""),
    (2, 5, 6, 7, 3, b"", os.urandom(16)),
    (2, 1, SHUTDOWN_NUM, SHUTDOWN_NUM, 1, b"\x0a\x05hello", b"x"),
    (U64 & 0xFFFFFFFF, U64, U64, U64, U64, bytes(range(256)) * 40, os.urandom(7)),
    (2, 1 << 40, (1 << 40) + 1, 127, 128, os.urandom(5000), b""),  # incompressible, > 4 KiB
    (2, 9, 10, 11, 9, b"ab" * 200000, b"c"),  # inflates past any small scratch buffer
]


@pytest.mark.parametrize("fields", INSTRUCTIONS)
def test_pack_is_mosh_bytes(codec_impl, fields):
    assert codec_impl.pack(*fields) == zlib.compress(encode_instruction(Instruction(*fields)))


def test_compress_is_zlib_level6(codec_impl):
    rng = random.Random(17)
    for size in (0, 1, 36, 37, 40, 4095, 4096, 70000, 36):
        data = bytes(rng.randrange(4) for _ in range(size))
        assert codec_impl.compress(data) == zlib.compress(data, 6)
        # the stream is reused: the same input again gives the same bytes again
        assert codec_impl.compress(data) == zlib.compress(data, 6)


def _small_inputs():
    """Inputs up to SMALL_INPUT bytes that stress zlib's matching: every binary string up to
    12 bytes, random strings over alphabets of 1 to 256 letters (few letters: long matches
    and long hash chains), runs and repeats, and bytes whose 3-byte strings collide in a
    256-entry hash table but not in zlib's default one."""
    from pymosh.network.codec import SMALL_INPUT

    for size in range(13):
        for bits in range(1 << size):
            yield bytes((bits >> i) & 1 for i in range(size))
    rng = random.Random(36)
    for size in range(SMALL_INPUT + 1):
        for letters in (1, 2, 3, 4, 8, 16, 256):
            for _ in range(40):
                yield bytes(rng.randrange(letters) for _ in range(size))
        for period in range(1, 9):
            unit = bytes(rng.randrange(256) for _ in range(period))
            yield (unit * SMALL_INPUT)[:size]
        # h8(a, b, c) = (a << 6 ^ b << 3 ^ c) & 255: a and a + 4 (and b, b + 32) collide
        yield bytes((0x41 + 4 * (i % 3) + 32 * (i % 2)) & 255 for i in range(size))


def _heartbeats():
    """Heartbeat instructions as a server or client sends them: state numbers of 1 to 4
    varint bytes (about 13 hours, 72 days, 25 years of heartbeats), 0 to 16 bytes of chaff."""
    rng = random.Random(3)
    for low, high in ((0, 127), (128, 16383), (16384, (1 << 21) - 1), (1 << 21, (1 << 28) - 1)):
        for chaff in range(17):
            for _ in range(20):
                new = rng.randint(low + 1, high)
                ack = rng.randint(low, high)
                yield encode_instruction(
                    Instruction(
                        2, new - 1, new, ack, new - rng.randrange(2), b"", os.urandom(chaff)
                    )
                )


def test_small_inputs_are_zlibs_bytes(codec_impl):
    """Inputs up to SMALL_INPUT bytes take a deflate stream with a small hash table (its
    reset is cheap): the bytes must be zlib.compress's (memLevel is not in the header, and
    pymosh.network.codec.SMALL_INPUT argues why no match differs; this checks it)."""
    from pymosh.network.codec import SMALL_INPUT

    sizes = set()
    for data in _small_inputs():
        assert codec_impl.compress(data) == zlib.compress(data), data
        sizes.add(len(data))
    assert sizes == set(range(SMALL_INPUT + 1))
    beats = 0
    for data in _heartbeats():
        assert codec_impl.compress(data) == zlib.compress(data), data
        beats += len(data) <= SMALL_INPUT
    assert beats > 1000  # most heartbeats take the small stream


@pytest.mark.parametrize("fields", INSTRUCTIONS)
def test_unpack_round_trip(codec_impl, fields):
    assert codec_impl.unpack(codec_impl.pack(*fields), LIMIT) == fields


def test_unpack_after_a_bad_stream(codec_impl):
    """A stream that failed halfway leaves nothing behind for the next one."""
    good = codec_impl.pack(2, 1, 2, 3, 1, b"diff", b"")
    with pytest.raises(DecodeError):
        codec_impl.unpack(good[:-5], LIMIT)
    with pytest.raises(DecodeError):
        codec_impl.unpack(good[:8] + b"\xff" * 20, LIMIT)
    assert codec_impl.unpack(good, LIMIT) == (2, 1, 2, 3, 1, b"diff", b"")


@pytest.mark.parametrize("fields", INSTRUCTIONS[:3])
def test_pack_rejects_out_of_range(codec_impl, fields):
    for i, bad in ((0, 1 << 32), (0, -1), (1, -1), (2, 1 << 64), (4, U64 + 1)):
        args = list(fields)
        args[i] = bad
        with pytest.raises(ValueError):
            codec_impl.pack(*args)


def test_decompress_limit(codec_impl):
    for size in (0, 1, 8191, 8192, 8193, 100000):
        assert codec_impl.decompress(zlib.compress(bytes(size)), size) == bytes(size)
        with pytest.raises(DecodeError):
            codec_impl.decompress(zlib.compress(bytes(size + 1)), size)
    assert codec_impl.decompress(zlib.compress(b""), 0) == b""


def test_decompress_ignores_bytes_after_the_stream(codec_impl):
    assert codec_impl.decompress(zlib.compress(b"abc") + b"trailing", 10) == b"abc"


@pytest.mark.parametrize(
    "stream",
    [b"", b"x", b"not zlib at all", zlib.compress(b"\x08\x02" * 100)[:-3], b"\x78\x9c\xff\xff"],
)
def test_bad_streams(codec_impl, stream):
    with pytest.raises(DecodeError):
        codec_impl.decompress(stream, LIMIT)
    with pytest.raises(DecodeError):
        codec_impl.unpack(stream, LIMIT)


def _outcome(fn, data):
    try:
        return fn(data)
    except DecodeError as exc:
        return f"DecodeError: {exc}"


HOSTILE_PROTOBUF = [
    b"",
    b"\x08",  # truncated varint
    b"\x08" + b"\xff" * 10 + b"\x01",  # varint longer than 10 bytes
    b"\x08" + b"\xff" * 9 + b"\x7f",  # 10-byte varint, bits past 64
    b"\x00\x01",  # field 0
    b"\x0a\x00",  # protocol_version as bytes
    b"\x12\x01a",  # a state number as bytes
    b"\x30\x01",  # diff as a varint
    b"\x3d\x00\x00\x00\x00",  # chaff as fixed32
    b"\x09" + bytes(8),  # protocol_version as fixed64
    b"\x32\x05ab",  # length past the end
    b"\x15\x00\x00",  # truncated fixed32
    b"\x0b",  # a group
    b"\x0e",  # wire type 6
    b"\x08\x02\x08\x03",  # the last occurrence wins
    b"\x08\x82\x80\x80\x80\x10",  # protocol_version past 32 bits: the low 32 kept
    b"\xf8\xff\xff\xff\x0f\x00",  # the largest field number
    b"\x80\x80\x80\x80\x10\x00",  # a field number past 2^29 - 1
    b"\xa0\x06\x05\xa2\x06\x01z\x32\x01d",  # unknown fields skipped
    b"\x3a\x02ch\x32\x00",
]


@pytest.mark.parametrize("data", HOSTILE_PROTOBUF)
def test_parse_matches_the_protobuf_decoder(codec_impl, data):
    def reference(raw: bytes):
        ins = decode_instruction(raw)
        return tuple(getattr(ins, name) for name in Instruction.__slots__)

    assert _outcome(codec_impl.parse, data) == _outcome(reference, data)
    assert _outcome(lambda raw: codec_impl.unpack(zlib.compress(raw), LIMIT), data) == _outcome(
        reference, data
    )


def _reference_unpack(stream: bytes, limit: int):
    """Inflate all of it with zlib, then check the limit; parse with the protobuf module."""
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(stream)
    except zlib.error:
        raise DecodeError("bad zlib stream") from None
    if not inflater.eof or len(raw) > limit:
        raise DecodeError("zlib stream truncated or larger than the limit")
    ins = decode_instruction(raw)
    return tuple(getattr(ins, name) for name in Instruction.__slots__)


def test_random_input_matches_the_reference(codec_impl):
    rng = random.Random(4242)
    pieces = [b"\x08", b"\x10", b"\x32", b"\x3a", b"\x80", b"\xff", b"\x00", b"\x05", b"\x0b"]
    for _ in range(3000):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randrange(12)))
        data += bytes(rng.randrange(256) for _ in range(rng.randrange(4)))
        stream = zlib.compress(data)
        cut = stream[: rng.randrange(len(stream) + 1)]
        if rng.randrange(4) == 0 and cut:
            cut = cut[:-1] + bytes([cut[-1] ^ 1 << rng.randrange(8)])
        limit = rng.choice((4, 64, LIMIT))
        # (which error may differ: a stream over the limit is not inflated to its end)
        got = _outcome(lambda s, n=limit: codec_impl.unpack(s, n), cut)
        want = _outcome(lambda s, n=limit: _reference_unpack(s, n), cut)
        assert got == want or (got[:12] == want[:12] == "DecodeError:"), (cut, limit)


@pytest.mark.parametrize("convert", [bytearray, memoryview])
def test_any_buffer_is_taken_like_bytes_and_none_is_refused(codec_impl, convert):
    """Bytes (what the datagram path passes) take a shortcut in the fast path; any other
    buffer gives the same results, and a non-buffer the same TypeError as the twin's."""
    stream = codec_impl.pack(2, 1, 2, 3, 1, b"diff", b"chaff")
    assert codec_impl.pack(2, 1, 2, 3, 1, convert(b"diff"), convert(b"chaff")) == stream
    assert codec_impl.unpack(convert(stream), LIMIT) == (2, 1, 2, 3, 1, b"diff", b"chaff")
    assert codec_impl.decompress(convert(zlib.compress(b"abc")), 10) == b"abc"
    assert codec_impl.compress(convert(b"")) == zlib.compress(b"")
    for bad in (None, 5):
        with pytest.raises(TypeError):
            codec_impl.pack(2, 1, 2, 3, 1, bad, b"")
        with pytest.raises(TypeError):
            codec_impl.unpack(bad, LIMIT)
