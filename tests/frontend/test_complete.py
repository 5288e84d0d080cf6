"""CompleteTerminal: diffs round-trip, message order, echo-ack timing (protocol.md §6.2–6.3)."""

from __future__ import annotations

import math

import pytest

from pymosh.errors import DecodeError
from pymosh.statesync.complete import ECHO_TIMEOUT, CompleteTerminal
from pymosh.wire.protobuf import EchoAck, HostBytes, Resize, decode_host_message


def same_screen(a: CompleteTerminal, b: CompleteTerminal) -> bool:
    """Equal as the client sees it (== also compares row generations, like Mosh's pointers)."""
    return a.echo_ack == b.echo_ack and a.terminal.dump() == b.terminal.dump()


def test_equal_states_have_empty_diff():
    a = CompleteTerminal(80, 24)
    assert a.diff_from(a.copy()) == b""
    assert a.init_diff() == b""


def test_diff_round_trips_through_a_client_copy():
    server = CompleteTerminal(40, 10)
    client = CompleteTerminal(40, 10)
    server.act(b"hello \x1b[1;31mworld\x1b[0m\r\n\xe4\xb8\xad\xe6\x96\x87 e\xcc\x81")
    diff = server.diff_from(client)
    kinds = [type(m) for m in decode_host_message(diff)]
    assert kinds == [HostBytes]
    client.apply_string(diff)
    assert same_screen(client, server)
    assert client.terminal.get_cell(0, 6)[0] == "w"


def test_resize_comes_before_the_repaint_and_echo_ack_first():
    server = CompleteTerminal(80, 24)
    reference = server.copy()
    server.terminal.resize(100, 30)
    server.act(b"x")
    server.register_input_frame(1, 0)
    assert server.set_echo_ack(ECHO_TIMEOUT)
    message = decode_host_message(server.diff_from(reference))
    assert message[0] == EchoAck(1)
    assert message[1] == Resize(100, 30)
    assert isinstance(message[2], HostBytes)
    client = reference.copy()
    client.apply_string(server.diff_from(reference))
    assert same_screen(client, server) and (client.width, client.height) == (100, 30)


def test_copy_is_independent():
    a = CompleteTerminal(20, 5)
    b = a.copy()
    a.act(b"changed")
    assert a != b
    assert b.terminal.get_cell(0, 0)[0] in ("", " ")


def test_act_returns_emulator_replies():
    term = CompleteTerminal(20, 5)
    assert term.act(b"\x1b[6n") == b"\x1b[1;1R"


def test_echo_ack_waits_echo_timeout_and_never_decreases():
    t = CompleteTerminal(80, 24)
    t.register_input_frame(1, 1000)
    assert not t.set_echo_ack(1000 + ECHO_TIMEOUT - 1)
    assert t.echo_ack == 0
    assert t.set_echo_ack(1000 + ECHO_TIMEOUT)
    assert t.echo_ack == 1
    t.register_input_frame(3, 2000)
    t.register_input_frame(4, 2010)
    assert t.wait_time(2000) == ECHO_TIMEOUT  # second-oldest record is state 3
    assert t.set_echo_ack(2000 + ECHO_TIMEOUT) and t.echo_ack == 3
    assert t.wait_time(2000 + ECHO_TIMEOUT) == 10  # now state 4 is second-oldest
    assert not t.set_echo_ack(2000 + ECHO_TIMEOUT + 5)
    assert t.set_echo_ack(2010 + ECHO_TIMEOUT) and t.echo_ack == 4
    assert t.wait_time(5000) == math.inf  # only the acknowledged record is left


def test_echo_ack_changes_make_states_unequal():
    a = CompleteTerminal(80, 24)
    b = a.copy()
    a.register_input_frame(2, 0)
    a.set_echo_ack(100)
    assert a != b
    b.apply_string(a.diff_from(b))
    assert same_screen(a, b) and b.echo_ack == 2


def test_apply_rejects_garbage_and_backwards_echo_ack():
    a = CompleteTerminal(80, 24)
    with pytest.raises(DecodeError):
        a.apply_string(b"\xff\xff\xff")
    a.echo_ack = 5
    from pymosh.wire.protobuf import encode_host_message

    with pytest.raises(DecodeError):
        a.apply_string(encode_host_message([EchoAck(4)]))
