"""pymosh's handshake: extension 100 both ways, invisible to stock peers (protocol.md §8.1)."""

from __future__ import annotations

from pymosh.statesync.complete import CompleteTerminal
from pymosh.statesync.hello import MAX_SCROLLBACK_LINES, answer, client_hello
from pymosh.statesync.user_stream import UserStream
from pymosh.wire.protobuf import (
    FEATURE_CLIPBOARD,
    FEATURE_SCROLLBACK,
    Hello,
    HostBytes,
    Keystroke,
    Resize,
    decode_host_message,
    decode_user_message,
    encode_host_message,
    encode_user_message,
)


def test_hello_bytes_are_extension_100():
    wire = encode_user_message([Hello(1, 3, 500)])
    # instruction (field 1) holding field 100, wire type 2: key varint 802 = a2 06
    assert wire == bytes.fromhex("0a0aa206070801100318f403")
    assert decode_user_message(wire) == [Hello(1, 3, 500)]
    assert decode_host_message(encode_host_message([Hello(1, 2, 0)])) == [Hello(1, 2, 0)]


def test_decoders_without_hello_support_skip_it():
    # what a stock peer sees: Mosh's own events around an instruction it does not know
    wire = encode_user_message([Keystroke(b"a"), Hello(1, 1, 9), Resize(80, 24)])
    known_only = [e for e in decode_user_message(wire) if not isinstance(e, Hello)]
    assert known_only == [Keystroke(b"a"), Resize(80, 24)]


def test_user_stream_carries_hello_in_order():
    stream = UserStream()
    stream.push_hello(client_hello(FEATURE_SCROLLBACK, 1000))
    stream.push_resize(80, 24)
    stream.push_keystroke(b"ls\r")
    other = UserStream()
    other.apply_string(stream.init_diff())
    assert other == stream
    assert other.events[0] == Hello(1, FEATURE_SCROLLBACK, 1000)


def test_server_grants_only_what_both_have():
    asked = Hello(1, FEATURE_SCROLLBACK | FEATURE_CLIPBOARD, 10**9)
    granted = answer(asked, supported=FEATURE_SCROLLBACK)
    assert granted.features == FEATURE_SCROLLBACK
    assert granted.scrollback_lines == MAX_SCROLLBACK_LINES
    assert answer(asked, supported=0).features == 0


def test_host_state_sends_hello_once_and_only_when_set():
    server = CompleteTerminal(20, 5)
    server.act(b"hi")
    stock_view = server.init_diff()
    assert all(not isinstance(e, Hello) for e in decode_host_message(stock_view))

    server.hello = Hello(1, 0, 0)
    client = CompleteTerminal(20, 5)
    client.apply_string(server.diff_from(CompleteTerminal(20, 5)))
    assert client.hello == Hello(1, 0, 0)
    assert client.terminal.dump()["rows"] == server.terminal.dump()["rows"]
    # once the client holds it, later diffs no longer carry it
    acked = server.copy()
    server.act(b"!")
    later = decode_host_message(server.diff_from(acked))
    assert [type(e) for e in later] == [HostBytes]


def test_a_pymosh_pair_agrees_that_the_session_can_be_resumed():
    from pymosh.statesync.hello import client_hello
    from pymosh.wire.protobuf import FEATURE_RESUME

    assert answer(client_hello()).features & FEATURE_RESUME
    assert not answer(Hello(1, 0, 0)).features & FEATURE_RESUME
