"""The dedicated protobuf codec: vectors, cross-check with the protobuf runtime, bad input."""

from __future__ import annotations

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from hypothesis import given, settings
from hypothesis import strategies as st

from pymosh.errors import DecodeError
from pymosh.wire.protobuf import (
    EchoAck,
    HostBytes,
    Instruction,
    Keystroke,
    Resize,
    decode_host_message,
    decode_instruction,
    decode_user_message,
    encode_host_message,
    encode_instruction,
    encode_user_message,
)

U64 = (1 << 64) - 1

# ------------------------------------------------------------------ the protobuf runtime
# Mosh's .proto files rebuilt from protocol.md §5.1/§6. Extensions are declared here as
# ordinary optional fields of the same numbers: on the wire the two are identical.


def _runtime_classes():
    f = descriptor_pb2.FieldDescriptorProto
    fp = descriptor_pb2.FileDescriptorProto(
        name="pymosh_test_mosh.proto", package="t", syntax="proto2"
    )

    def message(name, *fields):
        m = fp.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            field = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                field.type_name = ".t." + type_name

    opt, rep = f.LABEL_OPTIONAL, f.LABEL_REPEATED
    message(
        "TransportInstruction",
        ("protocol_version", 1, f.TYPE_UINT32, opt, None),
        ("old_num", 2, f.TYPE_UINT64, opt, None),
        ("new_num", 3, f.TYPE_UINT64, opt, None),
        ("ack_num", 4, f.TYPE_UINT64, opt, None),
        ("throwaway_num", 5, f.TYPE_UINT64, opt, None),
        ("diff", 6, f.TYPE_BYTES, opt, None),
        ("chaff", 7, f.TYPE_BYTES, opt, None),
    )
    message("Keystroke", ("keys", 4, f.TYPE_BYTES, opt, None))
    message("HostBytes", ("hoststring", 4, f.TYPE_BYTES, opt, None))
    message(
        "ResizeMessage",
        ("width", 5, f.TYPE_INT32, opt, None),
        ("height", 6, f.TYPE_INT32, opt, None),
    )
    message("EchoAck", ("echo_ack_num", 8, f.TYPE_UINT64, opt, None))
    message(
        "UserInstruction",
        ("keystroke", 2, f.TYPE_MESSAGE, opt, "Keystroke"),
        ("resize", 3, f.TYPE_MESSAGE, opt, "ResizeMessage"),
    )
    message(
        "HostInstruction",
        ("hostbytes", 2, f.TYPE_MESSAGE, opt, "HostBytes"),
        ("resize", 3, f.TYPE_MESSAGE, opt, "ResizeMessage"),
        ("echoack", 7, f.TYPE_MESSAGE, opt, "EchoAck"),
    )
    message("UserMessage", ("instruction", 1, f.TYPE_MESSAGE, rep, "UserInstruction"))
    message("HostMessage", ("instruction", 1, f.TYPE_MESSAGE, rep, "HostInstruction"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fp)
    classes = message_factory.GetMessageClassesForFiles([fp.name], pool)
    return (classes["t.TransportInstruction"], classes["t.UserMessage"], classes["t.HostMessage"])


PbInstruction, PbUserMessage, PbHostMessage = _runtime_classes()

u64 = st.integers(0, U64)
i32 = st.integers(-(1 << 31), (1 << 31) - 1)
resizes = st.builds(Resize, i32, i32)
user_events = st.lists(
    st.one_of(st.builds(Keystroke, st.binary(max_size=300)), resizes), max_size=8
)
host_events = st.lists(
    st.one_of(st.builds(HostBytes, st.binary(max_size=300)), resizes, st.builds(EchoAck, u64)),
    max_size=8,
)
instructions = st.builds(
    Instruction,
    st.integers(0, (1 << 32) - 1),
    u64,
    u64,
    u64,
    u64,
    st.binary(max_size=200),
    st.binary(max_size=16),
)


@settings(max_examples=150, deadline=None)
@given(instructions)
def test_instruction_matches_runtime(ins):
    data = encode_instruction(ins)
    pb = PbInstruction(
        protocol_version=ins.protocol_version,
        old_num=ins.old_num,
        new_num=ins.new_num,
        ack_num=ins.ack_num,
        throwaway_num=ins.throwaway_num,
        diff=ins.diff,
        chaff=ins.chaff,
    )
    assert pb.SerializeToString() == data
    assert decode_instruction(data) == ins
    parsed = PbInstruction.FromString(data)
    assert (parsed.old_num, parsed.new_num, parsed.diff) == (ins.old_num, ins.new_num, ins.diff)


def _pb_user(events):
    pb = PbUserMessage()
    for ev in events:
        item = pb.instruction.add()
        if isinstance(ev, Keystroke):
            item.keystroke.keys = ev.keys
        else:
            item.resize.width, item.resize.height = ev.width, ev.height
    return pb


def _pb_host(events):
    pb = PbHostMessage()
    for ev in events:
        item = pb.instruction.add()
        if isinstance(ev, HostBytes):
            item.hostbytes.hoststring = ev.data
        elif isinstance(ev, EchoAck):
            item.echoack.echo_ack_num = ev.num
        else:
            item.resize.width, item.resize.height = ev.width, ev.height
    return pb


@settings(max_examples=150, deadline=None)
@given(user_events)
def test_user_message_matches_runtime(events):
    data = encode_user_message(events)
    assert _pb_user(events).SerializeToString() == data
    assert decode_user_message(data) == events


@settings(max_examples=150, deadline=None)
@given(host_events)
def test_host_message_matches_runtime(events):
    data = encode_host_message(events)
    assert _pb_host(events).SerializeToString() == data
    assert decode_host_message(data) == events


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64))
def test_decoders_are_total(data):
    """Any bytes: either a result or DecodeError, and agreement with the runtime on
    which inputs are well-formed instructions."""
    for decode in (decode_instruction, decode_user_message, decode_host_message):
        try:
            decode(data)
        except DecodeError:
            pass
    try:
        ours = decode_instruction(data)
    except DecodeError:
        ours = None
    if ours is not None:
        # whatever we accept, the runtime accepts too, with the same values
        try:
            pb = PbInstruction.FromString(data)
        except Exception:  # noqa: BLE001 - the runtime rejects groups we also reject
            return
        assert (pb.old_num, pb.new_num, pb.ack_num, pb.throwaway_num, pb.diff, pb.chaff) == (
            ours.old_num,
            ours.new_num,
            ours.ack_num,
            ours.throwaway_num,
            ours.diff,
            ours.chaff,
        )


# ------------------------------------------------------------------ documented vectors


def test_vectors_from_protocol_md():
    assert encode_user_message([Keystroke(b"ls\r")]).hex() == "0a0712052203 6c730d".replace(" ", "")
    assert encode_user_message([Resize(80, 24)]).hex() == "0a061a0428503018"
    assert (
        encode_host_message([EchoAck(1), HostBytes(b"hi")]).hex() == "0a043a0240010a06120422026869"
    )
    s3 = Instruction(2, 5, U64, 7, 5, b"", b"")
    assert encode_instruction(s3).hex() == "0802100518ffffffffffffffffff012007280532003a00"
    assert decode_instruction(bytes.fromhex("0802100518ffffffffffffffffff012007280532003a00")) == s3
    first = bytes.fromhex("0802100018012000280032080a061a04285030183a0734d14a01ad3f38")
    ins = decode_instruction(first)
    assert ins == Instruction(
        2, 0, 1, 0, 0, bytes.fromhex("0a061a0428503018"), bytes.fromhex("34d14a01ad3f38")
    )
    assert encode_instruction(ins) == first


def test_all_instruction_fields_always_written():
    assert (
        encode_instruction(Instruction(2, 0, 0, 0, 0, b"", b"")).hex() == "08021000180020002800320"
        "03a00"
    )


def test_unknown_fields_and_extensions_are_skipped():
    # Instruction with an extra field 9 (varint) and 10 (bytes), fixed32/fixed64 fields
    extra = bytes.fromhex("480152036162635d01020304610102030405060708")
    base = encode_instruction(Instruction(2, 1, 2, 3, 4, b"d", b"c"))
    assert decode_instruction(base + extra) == Instruction(2, 1, 2, 3, 4, b"d", b"c")
    # an instruction carrying only an unknown extension (120), between two known ones
    ext100 = bytes.fromhex("0a05c2070201ff")
    data = encode_host_message([EchoAck(4)]) + ext100 + encode_host_message([HostBytes(b"x")])
    assert decode_host_message(data) == [EchoAck(4), HostBytes(b"x")]
    user = ext100 + encode_user_message([Keystroke(b"k")])
    assert decode_user_message(user) == [Keystroke(b"k")]


def test_missing_fields_take_defaults():
    assert decode_instruction(b"") == Instruction(0, 0, 0, 0, 0, b"", b"")
    assert decode_instruction(b"\x08\x02\x18\x05") == Instruction(2, 0, 5, 0, 0, b"", b"")
    assert decode_user_message(b"") == []


@pytest.mark.parametrize(
    "data",
    [
        "08",  # truncated varint
        "0880",  # truncated varint continuation
        "10ffffffffffffffffffff01",  # 11-byte varint
        "3205616263",  # length past the end
        "32",  # missing length
        "0a02",  # wrong wire type for protocol_version (LEN)
        "1201",  # wrong wire type for old_num
        "3000",  # wrong wire type for diff (varint)
        "3d00000000",  # wrong wire type for chaff (fixed32)
        "0b",  # group start
        "0e00",  # invalid wire type 6
        "0700",  # invalid wire type 7
        "0002",  # field number 0
        "4901020304",  # truncated fixed64
    ],
)
def test_malformed_instruction(data):
    with pytest.raises(DecodeError):
        decode_instruction(bytes.fromhex(data))


@pytest.mark.parametrize(
    "data",
    [
        "0801",  # instruction with wire type varint
        "0a05120322",  # instruction body past the end
        "0a02",  # truncated instruction
        "0a021201",  # keystroke length past end
        "0a021a000a021000",  # extension 2 with wire type varint
        "0a041a022a00",  # resize width with LEN wire type
        "0a04120222ff",  # keys length past end
    ],
)
def test_malformed_user_message(data):
    with pytest.raises(DecodeError):
        decode_user_message(bytes.fromhex(data))


@pytest.mark.parametrize(
    "data",
    [
        "0a053a03420100",  # echo_ack_num with LEN wire type
        "0a023801",  # echoack extension as varint
        "0a043a024080",  # truncated echo ack varint
    ],
)
def test_malformed_host_message(data):
    with pytest.raises(DecodeError):
        decode_host_message(bytes.fromhex(data))


def test_encoding_rejects_out_of_range_values():
    with pytest.raises(ValueError):
        encode_instruction(Instruction(2, -1, 0, 0, 0, b"", b""))
    with pytest.raises(ValueError):
        encode_instruction(Instruction(2, 1 << 64, 0, 0, 0, b"", b""))
    with pytest.raises(ValueError):
        encode_user_message([Resize(1 << 31, 1)])


def test_extension_7_is_unknown_to_the_server():
    # EchoAck's number means nothing in a UserMessage: skipped whatever its wire type
    data = bytes.fromhex("0a023801") + encode_user_message([Resize(3, 4)])
    assert decode_user_message(data) == [Resize(3, 4)]
    with pytest.raises(DecodeError):
        decode_host_message(data)


def test_repeated_extension_in_one_instruction_merges():
    # two keystroke extensions inside one instruction parse as one merged message
    body = bytes.fromhex("12032201611203220162")
    assert decode_user_message(b"\x0a" + bytes([len(body)]) + body) == [Keystroke(b"b")]
