"""Fragments, the Fragmenter's id rules and zlib stream, and single-slot reassembly."""

from __future__ import annotations

import os
import random
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymosh.errors import DecodeError
from pymosh.network.fragment import (
    DECOMPRESS_LIMIT,
    Fragment,
    FragmentAssembly,
    Fragmenter,
    decompress,
    fragment_capacity,
)
from pymosh.wire.protobuf import Instruction, encode_instruction

U64 = (1 << 64) - 1


def ins(new=1, diff=b"", chaff=b"", old=0, ack=0, throwaway=0):
    return Instruction(2, old, new, ack, throwaway, diff, chaff)


def test_header_layout():
    f = Fragment(0x0102030405060708, 3, True, b"abc")
    assert f.to_bytes() == bytes.fromhex("01020304050607088003") + b"abc"
    assert Fragment.parse(f.to_bytes()) == f
    g = Fragment(U64, 0x7FFF, False, b"")
    assert g.to_bytes() == bytes.fromhex("ffffffffffffffff7fff")
    assert Fragment.parse(g.to_bytes()) == g


@pytest.mark.parametrize("size", [0, 1, 9])
def test_short_fragment(size):
    with pytest.raises(DecodeError):
        Fragment.parse(bytes(size))


def test_fragment_number_limit_on_send():
    with pytest.raises(ValueError):
        Fragment(1, 0x8000, True, b"").to_bytes()


def test_capacity():
    assert fragment_capacity(1252) == 1214
    assert fragment_capacity(1216) == 1178
    assert fragment_capacity(500) == 462


def test_single_fragment_stream_is_zlib_level6():
    i = ins(diff=bytes.fromhex("0a061a0428503018"))
    frags = Fragmenter().make_fragments(i, 1252)
    assert frags == [
        Fragment(
            1,
            0,
            True,
            bytes.fromhex("789ce360126090605460d06030e2e0629362d1083090b0620000105301de"),
        )
    ]
    assert frags[0].contents == zlib.compress(encode_instruction(i), 6)


def test_id_rules():
    fr = Fragmenter()
    a = ins(new=1, chaff=b"x")
    assert fr.make_fragments(a, 1252)[0].id == 1
    assert fr.make_fragments(a, 1252)[0].id == 1  # identical: same id
    assert fr.make_fragments(ins(new=1, chaff=b"y"), 1252)[0].id == 2  # chaff differs
    assert fr.make_fragments(ins(new=1, chaff=b"y"), 1000)[0].id == 3  # MTU differs
    assert fr.make_fragments(ins(new=1, chaff=b"y", ack=1), 1000)[0].id == 4
    assert fr.make_fragments(ins(new=2, chaff=b"y", ack=1, diff=b"d"), 1000)[0].id == 5
    with pytest.raises(ValueError):  # same (old, new) must carry the same diff
        fr.make_fragments(ins(new=2, chaff=b"z", ack=1, diff=b"e"), 1000)


def test_first_instruction_is_id_1_even_if_it_looks_like_the_initial_one():
    # Mosh's initial "last instruction" has old = new = 2^64-1; ours differs anyway
    fr = Fragmenter()
    assert fr.make_fragments(ins(old=U64, new=U64), 1252)[0].id == 1


def test_multi_fragment_split_and_reassembly():
    diff = os.urandom(5000)  # incompressible: 5 fragments
    i = ins(diff=diff, chaff=b"\x01\x02")
    frags = Fragmenter().make_fragments(i, 1252)
    stream = zlib.compress(encode_instruction(i))
    assert [len(f.contents) for f in frags[:-1]] == [1214] * (len(frags) - 1)
    assert b"".join(f.contents for f in frags) == stream
    assert [f.num for f in frags] == list(range(len(frags)))
    assert [f.final for f in frags] == [False] * (len(frags) - 1) + [True]
    assert all(len(f.to_bytes()) + 28 <= 1252 for f in frags)
    order = frags[:]
    random.Random(7).shuffle(order)
    asm = FragmentAssembly()
    results = [asm.add(Fragment.parse(f.to_bytes())) for f in order]
    assert results[:-1] == [None] * (len(frags) - 1)
    assert results[-1] == i


def test_new_id_discards_partial_assembly():
    fr = Fragmenter()
    one = ins(new=1, diff=os.urandom(3000))
    two = ins(new=2, diff=os.urandom(3000))
    first = fr.make_fragments(one, 1252)
    second = fr.make_fragments(two, 1252)
    assert len(first) == len(second) == 3
    asm = FragmentAssembly()
    assert asm.add(first[0]) is None
    assert asm.add(first[1]) is None
    assert asm.add(second[0]) is None  # id 2 replaces id 1's partial assembly
    assert asm.add(first[2]) is None  # back to id 1: only this fragment is held
    assert asm.add(first[0]) is None
    assert asm.add(first[1]) == one
    for f in second[:-1]:
        assert asm.add(f) is None
    assert asm.add(second[-1]) == two


def test_duplicates():
    i = ins(diff=os.urandom(2000))
    frags = Fragmenter().make_fragments(i, 1252)
    assert len(frags) == 2
    asm = FragmentAssembly()
    assert asm.add(frags[0]) is None
    assert asm.add(frags[0]) is None  # byte-identical duplicate: fine
    with pytest.raises(DecodeError):
        asm.add(Fragment(frags[0].id, 0, False, frags[0].contents[:-1]))
    assert asm.add(frags[1]) is None  # the slot was cleared by the error
    assert asm.add(frags[0]) == i


def test_same_id_again_after_completion_starts_over():
    frags = Fragmenter().make_fragments(ins(diff=b"abc"), 1252)
    asm = FragmentAssembly()
    assert asm.add(frags[0]).diff == b"abc"
    assert asm.add(frags[0]).diff == b"abc"


def test_fragment_beyond_final_is_rejected():
    asm = FragmentAssembly()
    assert asm.add(Fragment(9, 3, False, b"x")) is None
    with pytest.raises(DecodeError):
        asm.add(Fragment(9, 1, True, b"y"))
    asm = FragmentAssembly()
    assert asm.add(Fragment(9, 1, True, b"y")) is None
    with pytest.raises(DecodeError):
        asm.add(Fragment(9, 2, False, b"x"))
    asm = FragmentAssembly()
    assert asm.add(Fragment(9, 2, True, b"y")) is None
    with pytest.raises(DecodeError):
        asm.add(Fragment(9, 1, True, b"x"))


def test_fragment_number_out_of_range():
    with pytest.raises(DecodeError):
        FragmentAssembly().add(Fragment(1, 0x8000, True, b""))


def test_assembly_memory_is_bounded():
    asm = FragmentAssembly()
    chunk = bytes(2000)
    with pytest.raises(DecodeError):
        for n in range(0x7FFF):
            assert asm.add(Fragment(5, n, False, chunk)) is None
    assert n * 2000 <= DECOMPRESS_LIMIT + 70000


@pytest.mark.parametrize(
    "stream",
    [
        b"not zlib at all",
        zlib.compress(b"\x08\x02")[:-3],  # truncated
        b"\x78\x9c",  # header only
        bytes([0x78, 0x9C]) + bytes(20),  # garbage deflate
    ],
)
def test_bad_zlib(stream):
    with pytest.raises(DecodeError):
        FragmentAssembly().add(Fragment(1, 0, True, stream))


def test_decompression_limit():
    exact = zlib.compress(bytes(DECOMPRESS_LIMIT))
    assert len(decompress(exact)) == DECOMPRESS_LIMIT
    with pytest.raises(DecodeError):
        decompress(zlib.compress(bytes(DECOMPRESS_LIMIT + 1)))


def test_valid_zlib_but_bad_protobuf():
    with pytest.raises(DecodeError):
        FragmentAssembly().add(Fragment(1, 0, True, zlib.compress(b"\x32\x05ab")))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=6))
def test_random_payloads_only_raise_decode_error(payloads):
    asm = FragmentAssembly()
    for payload in payloads:
        # a short header and zlib-looking contents make it past the first checks
        for data in (payload, bytes(8) + b"\x80\x00" + b"\x78\x9c" + payload):
            try:
                asm.add(Fragment.parse(data))
            except DecodeError:
                pass


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=3000), st.binary(max_size=16), st.sampled_from([500, 1216, 1252]))
def test_round_trip_any_instruction(diff, chaff, mtu):
    i = ins(new=3, diff=diff, chaff=chaff)
    frags = Fragmenter().make_fragments(i, mtu)
    assert all(len(f.contents) <= fragment_capacity(mtu) for f in frags)
    asm = FragmentAssembly()
    out = [asm.add(Fragment.parse(f.to_bytes())) for f in reversed(frags)]
    assert out[-1] == i and all(o is None for o in out[:-1])


def _step(asm: FragmentAssembly, fn, data: bytes):
    try:
        out = fn(asm, data)
    except DecodeError:
        out = "DecodeError"
    return out, asm.current_id, dict(asm._parts), asm._total


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 3),
            st.integers(0, 2),
            st.booleans(),
            st.sampled_from([b"", b"junk", zlib.compress(encode_instruction(ins(new=4)))]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_add_payload_is_add_of_the_parsed_fragment(frags):
    """The whole-instruction shortcut keeps the slot exactly as `add` does, for any order
    of fragments, ids, duplicates and broken contents."""
    plain, fast = FragmentAssembly(), FragmentAssembly()
    for ident, num, final, contents in frags:
        data = Fragment(ident, num, final, contents).to_bytes()
        assert _step(fast, FragmentAssembly.add_payload, data) == _step(
            plain, lambda a, d: a.add(Fragment.parse(d)), data
        )
    with pytest.raises(DecodeError):
        FragmentAssembly().add_payload(b"short")
