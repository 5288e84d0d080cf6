from __future__ import annotations

import pytest

from pymosh.errors import DecodeError
from pymosh.network.state import SyncState
from pymosh.statesync.user_stream import UserStream
from pymosh.wire.protobuf import Keystroke, Resize, decode_user_message


def test_diff_merges_consecutive_bytes_and_isolates_resizes():
    s = UserStream()
    s.push_keystroke(b"l")
    s.push_keystroke(b"s")
    s.push_keystroke(b"\r")
    s.push_resize(100, 30)
    s.push_resize(90, 20)
    s.push_keystroke(b"\x1b[A")
    assert decode_user_message(s.init_diff()) == [
        Keystroke(b"ls\r"),
        Resize(100, 30),
        Resize(90, 20),
        Keystroke(b"\x1b[A"),
    ]


def test_wire_examples_from_protocol_doc():
    s = UserStream()
    s.push_keystroke(b"ls\r")
    assert s.init_diff() == bytes.fromhex("0a0712052203 6c730d".replace(" ", ""))
    r = UserStream()
    r.push_resize(80, 24)
    assert r.init_diff() == bytes.fromhex("0a061a0428503018")


def test_diff_is_relative_to_prefix_and_empty_when_equal():
    a = UserStream()
    a.push_keystroke(b"abc")
    b = a.copy()
    b.push_keystroke(b"de")
    assert decode_user_message(b.diff_from(a)) == [Keystroke(b"de")]
    assert a.diff_from(a.copy()) == b""
    with pytest.raises(ValueError):
        a.diff_from(b)


def test_apply_string_round_trip_and_byte_granularity():
    src = UserStream()
    src.push_resize(80, 24)
    src.push_keystroke(bytes(range(256)))
    dst = UserStream()
    dst.apply_string(src.init_diff())
    assert dst == src
    # states built from differently merged diffs are still prefixes of each other
    one = UserStream()
    one.apply_string(UserStream([*b"ab"]).init_diff())
    two = UserStream()
    two.apply_string(UserStream([*b"a"]).init_diff())
    two.apply_string(UserStream([*b"b"]).init_diff())
    assert one == two


def test_apply_string_rejects_garbage():
    s = UserStream()
    with pytest.raises(DecodeError):
        s.apply_string(b"\x0a\x05\x12")
    assert len(s) == 0


def test_subtract_drops_acknowledged_prefix_only():
    acked = UserStream()
    acked.push_keystroke(b"xy")
    cur = acked.copy()
    cur.push_resize(1, 2)
    cur.subtract(acked)
    assert cur.events == [Resize(1, 2)]
    other = UserStream([*b"zz"])
    other.subtract(acked)  # not a prefix: unchanged
    assert other.events == [*b"zz"]
    acked.subtract(acked)
    assert len(acked) == 0


def test_copy_is_independent_and_equality():
    a = UserStream([*b"q"])
    b = a.copy()
    b.push_keystroke(b"r")
    assert a != b and a == UserStream([*b"q"])
    assert a != "q"


def test_is_a_sync_state():
    def takes(state: SyncState) -> bytes:
        return state.init_diff()

    assert takes(UserStream([*b"k"]))
