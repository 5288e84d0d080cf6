"""A small dedicated protobuf codec for Mosh's three message types.

Encoding is byte-identical to Mosh 1.4.0 (protocol.md §5.1, §6.1, §6.2): every
Instruction field is written, in field order. Decoding is strict and total: any
malformed input raises DecodeError; unknown fields and unknown extensions are skipped,
as stock peers tolerate them (§8.1).
"""

from __future__ import annotations

from pymosh.errors import DecodeError
from pymosh.value import Frozen, Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator, List, Tuple

PROTOCOL_VERSION = 2
U64 = (1 << 64) - 1

# wire types
VARINT = 0
I64 = 1
LEN = 2
I32 = 5

# ---------------------------------------------------------------- messages


class Instruction(Value):
    """TransportBuffers.Instruction."""

    __slots__ = (
        "protocol_version",
        "old_num",
        "new_num",
        "ack_num",
        "throwaway_num",
        "diff",
        "chaff",
    )

    def __init__(
        self,
        protocol_version: int = PROTOCOL_VERSION,
        old_num: int = 0,
        new_num: int = 0,
        ack_num: int = 0,
        throwaway_num: int = 0,
        diff: bytes = b"",
        chaff: bytes = b"",
    ) -> None:
        self.protocol_version = protocol_version
        self.old_num = old_num
        self.new_num = new_num
        self.ack_num = ack_num
        self.throwaway_num = throwaway_num
        self.diff = diff
        self.chaff = chaff


class Keystroke(Frozen):
    __slots__ = ("keys",)
    keys: bytes

    def __init__(self, keys: bytes) -> None:
        object.__setattr__(self, "keys", keys)


class Resize(Frozen):
    __slots__ = ("width", "height")
    width: int
    height: int

    def __init__(self, width: int, height: int) -> None:
        object.__setattr__(self, "width", width)
        object.__setattr__(self, "height", height)


class HostBytes(Frozen):
    __slots__ = ("data",)
    data: bytes

    def __init__(self, data: bytes) -> None:
        object.__setattr__(self, "data", data)


class EchoAck(Frozen):
    __slots__ = ("num",)
    num: int

    def __init__(self, num: int) -> None:
        object.__setattr__(self, "num", num)


class History(Frozen):
    """Scrollback lines (extension 101 of a HostMessage; body format: statesync/history.py)."""

    __slots__ = ("body",)
    body: bytes

    def __init__(self, body: bytes) -> None:
        object.__setattr__(self, "body", body)


class Hello(Frozen):
    """pymosh's own handshake (extension 100 both ways; stock peers skip it, §8.1).

    The client sends its hello as the first event of its user stream: ``features`` it
    wants and how many ``scrollback_lines``. The server answers, in its host state, with
    the features it grants (the intersection). No other extension is sent to a peer whose
    hello has not arrived, so a stock peer never sees anything new.
    """

    __slots__ = ("version", "features", "scrollback_lines")
    version: int
    features: int
    scrollback_lines: int

    def __init__(self, version: int = 1, features: int = 0, scrollback_lines: int = 0) -> None:
        object.__setattr__(self, "version", version)
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "scrollback_lines", scrollback_lines)


class StreamFrame(Frozen):
    """One byte-stream multiplexer frame (issue #18): extension 101 in a UserMessage,
    102 in a HostMessage; the body's format is ``pymosh.statesync.streams``'s. Sent only
    to a peer whose hello granted FEATURE_STREAMS."""

    __slots__ = ("data",)
    data: bytes

    def __init__(self, data: bytes) -> None:
        object.__setattr__(self, "data", data)


# Hello.features bits
FEATURE_SCROLLBACK = 1
FEATURE_CLIPBOARD = 2  # every OSC 52 selection, not only "c"
FEATURE_STREAMS = 4  # multiplexed byte streams (agent and port forwarding)
FEATURE_RESUME = 8  # the session can be resumed by a fresh client

# extension numbers of our own (avoid Mosh's 2..8)
EXT_HELLO = 100
EXT_USER_STREAM_FRAME = 101
EXT_HISTORY = 101
EXT_HOST_STREAM_FRAME = 102

UserMessage = list["Keystroke | Resize | Hello | StreamFrame"]
HostMessage = list["HostBytes | Resize | EchoAck | Hello | History | StreamFrame"]

# ---------------------------------------------------------------- encoding


def _varint(value: int) -> bytes:
    if value < 0x80:
        if value < 0:
            raise ValueError("varint of a negative number")
        return bytes((value,))
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _int32(value: int) -> bytes:
    # proto int32: negative values are sign-extended to 64 bits (10-byte varint)
    if not -(1 << 31) <= value < (1 << 31):
        raise ValueError("int32 out of range")
    return _varint(value & U64)


def _uint64(value: int) -> bytes:
    if not 0 <= value <= U64:
        raise ValueError("uint64 out of range")
    return _varint(value)


def _bytes_field(tag: int, data: bytes) -> bytes:
    return bytes((tag,)) + _varint(len(data)) + bytes(data)


def _ext_field(number: int, body: bytes) -> bytes:
    """A length-delimited field with a number too large for a one-byte key."""
    return _varint((number << 3) | LEN) + _varint(len(body)) + bytes(body)


def _hello_body(hello: Hello) -> bytes:
    return (
        b"\x08"
        + _uint64(hello.version)
        + b"\x10"
        + _uint64(hello.features)
        + b"\x18"
        + _uint64(hello.scrollback_lines)
    )


def encode_instruction(ins: Instruction) -> bytes:
    if not 0 <= ins.protocol_version < (1 << 32):
        raise ValueError("protocol_version out of range")
    return b"".join(
        (
            b"\x08",
            _varint(ins.protocol_version),
            b"\x10",
            _uint64(ins.old_num),
            b"\x18",
            _uint64(ins.new_num),
            b"\x20",
            _uint64(ins.ack_num),
            b"\x28",
            _uint64(ins.throwaway_num),
            _bytes_field(0x32, ins.diff),
            _bytes_field(0x3A, ins.chaff),
        )
    )


def _resize_body(r: Resize) -> bytes:
    return b"\x28" + _int32(r.width) + b"\x30" + _int32(r.height)


def _wrap(extension_body: bytes) -> bytes:
    """An `instruction` (field 1) entry of a UserMessage/HostMessage."""
    return _bytes_field(0x0A, extension_body)


def encode_user_message(events: UserMessage) -> bytes:
    out = []
    for ev in events:
        if isinstance(ev, Keystroke):
            out.append(_wrap(_bytes_field(0x12, _bytes_field(0x22, ev.keys))))
        elif isinstance(ev, Resize):
            out.append(_wrap(_bytes_field(0x1A, _resize_body(ev))))
        elif isinstance(ev, Hello):
            out.append(_wrap(_ext_field(EXT_HELLO, _hello_body(ev))))
        elif isinstance(ev, StreamFrame):
            out.append(_wrap(_ext_field(EXT_USER_STREAM_FRAME, ev.data)))
        else:
            raise TypeError(f"not a user event: {ev!r}")
    return b"".join(out)


def encode_host_message(events: HostMessage) -> bytes:
    out = []
    for ev in events:
        if isinstance(ev, HostBytes):
            out.append(_wrap(_bytes_field(0x12, _bytes_field(0x22, ev.data))))
        elif isinstance(ev, Resize):
            out.append(_wrap(_bytes_field(0x1A, _resize_body(ev))))
        elif isinstance(ev, EchoAck):
            out.append(_wrap(_bytes_field(0x3A, b"\x40" + _uint64(ev.num))))
        elif isinstance(ev, Hello):
            out.append(_wrap(_ext_field(EXT_HELLO, _hello_body(ev))))
        elif isinstance(ev, History):
            out.append(_wrap(_ext_field(EXT_HISTORY, ev.body)))
        elif isinstance(ev, StreamFrame):
            out.append(_wrap(_ext_field(EXT_HOST_STREAM_FRAME, ev.data)))
        else:
            raise TypeError(f"not a host event: {ev!r}")
    return b"".join(out)


# ---------------------------------------------------------------- decoding


def _read_varint(buf: bytes, pos: int) -> Tuple[int, int]:
    result = 0
    shift = 0
    end = len(buf)
    for _ in range(10):
        if pos >= end:
            raise DecodeError("protobuf: truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & U64, pos
        shift += 7
    raise DecodeError("protobuf: varint longer than 10 bytes")


def _fields(buf: bytes) -> Iterator[Tuple[int, int, Any]]:
    """(field number, wire type, value) for each field: value is an int (VARINT, I32, I64)
    or bytes (LEN), so a caller checks the wire type (`_expect`) before using it."""
    value: int | bytes
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = _read_varint(buf, pos)
        number, wtype = key >> 3, key & 7
        if number == 0 or number > 0x1FFFFFFF:
            raise DecodeError("protobuf: invalid field number")
        if wtype == VARINT:
            value, pos = _read_varint(buf, pos)
        elif wtype == LEN:
            length, pos = _read_varint(buf, pos)
            if length > end - pos:
                raise DecodeError("protobuf: length past the end")
            value = bytes(buf[pos : pos + length])
            pos += length
        elif wtype == I64 or wtype == I32:
            size = 8 if wtype == I64 else 4
            if size > end - pos:
                raise DecodeError("protobuf: truncated fixed field")
            value = int.from_bytes(buf[pos : pos + size], "little")
            pos += size
        else:
            # groups (3, 4) are not used by Mosh's messages; 6, 7 are invalid
            raise DecodeError(f"protobuf: unsupported wire type {wtype}")
        yield number, wtype, value


def _expect(wtype: int, want: int, what: str) -> None:
    if wtype != want:
        raise DecodeError(f"protobuf: wrong wire type for {what}")


def _as_int32(value: int) -> int:
    # int32 on the wire is a sign-extended varint; keep the low 32 bits, signed
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def decode_instruction(data: bytes) -> Instruction:
    """Parse a TransportBuffers.Instruction. Absent fields take proto2 defaults; an
    absent protocol_version decodes as 0 (the transport rejects anything but 2)."""
    ins = Instruction(protocol_version=0)
    for number, wtype, value in _fields(data):
        if number == 1:
            _expect(wtype, VARINT, "protocol_version")
            ins.protocol_version = value & 0xFFFFFFFF
        elif 2 <= number <= 5:
            _expect(wtype, VARINT, "a state number")
            setattr(ins, ("old_num", "new_num", "ack_num", "throwaway_num")[number - 2], value)
        elif number == 6:
            _expect(wtype, LEN, "diff")
            ins.diff = value
        elif number == 7:
            _expect(wtype, LEN, "chaff")
            ins.chaff = value
    return ins


def _decode_resize(body: bytes) -> Resize:
    width = height = 0
    for number, wtype, value in _fields(body):
        if number == 5:
            _expect(wtype, VARINT, "width")
            width = _as_int32(value)
        elif number == 6:
            _expect(wtype, VARINT, "height")
            height = _as_int32(value)
    return Resize(width, height)


def _decode_bytes_message(body: bytes, field: int, what: str) -> bytes:
    data = b""
    for number, wtype, value in _fields(body):
        if number == field:
            _expect(wtype, LEN, what)
            data = value  # proto2: the last occurrence wins
    return data


def _decode_echo_ack(body: bytes) -> EchoAck:
    num = 0
    for number, wtype, value in _fields(body):
        if number == 8:
            _expect(wtype, VARINT, "echo_ack_num")
            num = value
    return EchoAck(num)


def _decode_hello(body: bytes) -> Hello:
    values = [0, 0, 0]
    for number, wtype, value in _fields(body):
        if 1 <= number <= 3:
            _expect(wtype, VARINT, "a hello field")
            values[number - 1] = value
    return Hello(*values)


def _instructions(data: bytes, known: Tuple[int, ...]) -> Iterator[List[Tuple[int, bytes]]]:
    """For each `instruction` entry, its extensions as (number, body), in wire order."""
    for number, wtype, value in _fields(data):
        if number != 1:
            continue
        _expect(wtype, LEN, "instruction")
        # a repeated occurrence of an embedded message merges into the first
        # (protobuf semantics: parsing concatenated encodings = merging them)
        exts: dict = {}
        for ext_number, ext_wtype, ext_value in _fields(value):
            if ext_number in known:
                _expect(ext_wtype, LEN, "an extension")
                exts[ext_number] = exts.get(ext_number, b"") + ext_value
        yield list(exts.items())


def decode_user_message(data: bytes) -> UserMessage:
    """Keystrokes and resizes in order; unknown extensions are skipped."""
    events: UserMessage = []
    for exts in _instructions(data, (2, 3, EXT_HELLO, EXT_USER_STREAM_FRAME)):
        for number, body in exts:
            if number == 2:
                events.append(Keystroke(_decode_bytes_message(body, 4, "keys")))
            elif number == 3:
                events.append(_decode_resize(body))
            elif number == EXT_HELLO:
                events.append(_decode_hello(body))
            elif number == EXT_USER_STREAM_FRAME:
                events.append(StreamFrame(body))
    return events


def decode_host_message(data: bytes) -> HostMessage:
    """Host bytes, resizes and echo acks in order; unknown extensions are skipped."""
    events: HostMessage = []
    for exts in _instructions(data, (2, 3, 7, EXT_HELLO, EXT_HISTORY, EXT_HOST_STREAM_FRAME)):
        for number, body in exts:
            if number == 2:
                events.append(HostBytes(_decode_bytes_message(body, 4, "hoststring")))
            elif number == 3:
                events.append(_decode_resize(body))
            elif number == 7:
                events.append(_decode_echo_ack(body))
            elif number == EXT_HELLO:
                events.append(_decode_hello(body))
            elif number == EXT_HISTORY:
                events.append(History(body))
            elif number == EXT_HOST_STREAM_FRAME:
                events.append(StreamFrame(body))
    return events


__all__ = [
    "EXT_HELLO",
    "EXT_HISTORY",
    "EXT_HOST_STREAM_FRAME",
    "EXT_USER_STREAM_FRAME",
    "FEATURE_CLIPBOARD",
    "FEATURE_RESUME",
    "FEATURE_SCROLLBACK",
    "FEATURE_STREAMS",
    "PROTOCOL_VERSION",
    "EchoAck",
    "Hello",
    "History",
    "HostBytes",
    "HostMessage",
    "Instruction",
    "Keystroke",
    "Resize",
    "StreamFrame",
    "UserMessage",
    "decode_host_message",
    "decode_instruction",
    "decode_user_message",
    "encode_host_message",
    "encode_instruction",
    "encode_user_message",
]
