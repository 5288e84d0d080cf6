"""The host state's sequenced frame log: exactly once across skipped states, bounded,
and total on garbage (DecodeError drops the instruction, as for any bad diff)."""

from __future__ import annotations

import random

import pytest

from pymosh.errors import DecodeError
from pymosh.statesync.complete import CompleteTerminal
from pymosh.statesync.stream_log import CLIENT_LOG_LIMIT, StreamLog
from pymosh.wire.protobuf import _varint


def entry(seq: int, base: int, frame: bytes) -> bytes:
    return _varint(seq) + _varint(base) + frame


def test_diff_apply_skipping_states_and_trimming():
    server = StreamLog()
    states = []
    for i in range(3):
        server.push(b"f%d" % i)
        states.append(server.copy())
    client = StreamLog()
    for item in states[2].diff_items(StreamLog()):
        client.apply(item.data)
    assert client.frames == [b"f0", b"f1", b"f2"]
    server.trim(3)  # the client acknowledged state 2
    for i in range(3, 10):
        server.push(b"f%d" % i)  # pushed after the ack: they carry base 3
        states.append(server.copy())
    for item in server.diff_items(states[2]):  # skipping states 3..8
        client.apply(item.data)
    assert client.base == 3 and client.frames == [b"f%d" % i for i in range(3, 10)]
    assert client.since(5) == ([b"f5", b"f6", b"f7", b"f8", b"f9"], 10)
    for item in server.diff_items(states[2]):  # a duplicate delivery changes nothing
        client.apply(item.data)
    assert client.next == 10 and len(client.frames) == 7
    assert server == client and server.size == sum(map(len, server.frames))


def test_a_diff_does_not_change_when_an_ack_trims_the_log():
    """The sender resends a number with a fresh diff after acks trimmed every state: the
    base on the wire is the frame's, fixed when it was pushed (else the fragmenter sees the
    same (old_num, new_num) with another diff and the session ends)."""
    live = CompleteTerminal(10, 3)
    states = []
    for i in range(3):
        live.streams.push(b"f%d" % i)
        states.append(live.copy())
    old, new = states[0], live.copy()
    before = new.diff_from(old)
    for state in (live, new, old):  # the client acknowledged ``old``
        state.subtract(old)
    assert new == live and new.diff_from(old) == live.diff_from(old) == before


def test_base_jump_past_everything_held():
    client = StreamLog()
    client.apply(entry(0, 0, b"a"))
    client.apply(entry(5, 5, b"f"))  # frames 1..4 acknowledged and consumed
    assert (client.base, client.frames) == (5, [b"f"])


@pytest.mark.parametrize(
    "body", [b"", b"\x80", entry(3, 0, b"gap"), entry(0, 1, b"x"), b"\xff" * 11]
)
def test_garbage_raises_decode_error(body):
    with pytest.raises(DecodeError):
        StreamLog().apply(body)


def test_client_log_is_bounded():
    log = StreamLog()
    seq = 0
    with pytest.raises(DecodeError):
        while True:
            log.apply(entry(seq, 0, b"x" * 16000))
            seq += 1
    assert log.size <= CLIENT_LOG_LIMIT


def test_subtract_trims_the_server_state_and_equality_ignores_the_base():
    live = CompleteTerminal(10, 3)
    live.streams.push(b"one")
    acked = live.copy()
    live.streams.push(b"two")
    live.subtract(acked)
    assert live.streams.frames == [b"two"] and live.streams.base == 1
    trimmed = acked.copy()
    trimmed.subtract(acked)
    assert trimmed == acked and trimmed.diff_from(acked) == b""


def test_random_garbage_never_crashes():
    rng = random.Random(5)
    log = StreamLog()
    for _ in range(5000):
        try:
            log.apply(rng.randbytes(rng.randrange(0, 8)))
        except DecodeError:
            pass
    assert log.size <= CLIENT_LOG_LIMIT
