"""Byte streams riding the synchronised states through an impaired link (fake clock):
exactly-once, in-order delivery both ways across loss, reordering, duplication, roaming
and a blackout; keystrokes keep flowing; nothing goes on the wire without both hellos."""

from __future__ import annotations

import random

import pytest

from pymosh.statesync.complete import CompleteTerminal
from pymosh.statesync.streams import SESSION_IN_FLIGHT
from pymosh.statesync.user_stream import UserStream
from pymosh.wire.protobuf import EXT_HOST_STREAM_FRAME, EXT_USER_STREAM_FRAME
from tests.support.stream_sim import make


def payload(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def transfer(sim, sizes_up, sizes_down, limit):
    """Client opens streams carrying sizes_up; server opens streams carrying sizes_down."""
    up = {
        sim.cpeer.send(b"tcp:h:%d" % i, payload(i, n)): payload(i, n)
        for i, n in enumerate(sizes_up)
    }
    down = {
        sim.speer.send(b"agent", payload(100 + i, n)): payload(100 + i, n)
        for i, n in enumerate(sizes_down)
    }

    def done():
        return (
            all(bytes(sim.speer.got.get(sid, b"")) == data for sid, data in up.items())
            and all(bytes(sim.cpeer.got.get(sid, b"")) == data for sid, data in down.items())
            and sim.streams_idle()
        )

    ok = sim.run_until(done, sim.now + limit)
    for sid, data in up.items():
        assert bytes(sim.speer.got.get(sid, b"")) == data, f"up stream {sid}"
    for sid, data in down.items():
        assert bytes(sim.cpeer.got.get(sid, b"")) == data, f"down stream {sid}"
    assert ok, "streams did not close"
    assert set(up) <= sim.cpeer.closed and set(down) <= sim.speer.closed
    assert not sim.cpeer.resets and not sim.speer.resets
    return up, down


def test_clean_link_both_directions():
    sim = make(1, delay=10)
    transfer(sim, [300_000, 1, 0], [250_000, 17], 60_000)


@pytest.mark.parametrize("seed", [2, 3])
def test_loss_reorder_duplication(seed):
    sim = make(seed, delay=15, jitter=10, loss=0.03, duplicate=0.1, reorder=0.1)
    transfer(sim, [150_000, 5_000], [150_000, 9_000], 300_000)
    assert sim.link.dropped > 20


def test_roam_and_10s_blackout_mid_transfer():
    sim = make(4, delay=20, loss=0.02)
    sizes = [1_500_000]
    up = {sim.cpeer.send(b"tcp:h:1", payload(1, sizes[0])): payload(1, sizes[0])}
    down = {sim.speer.send(b"agent", payload(2, sizes[0])): payload(2, sizes[0])}
    sim.run_for(1500)
    sim.change_client_address(("203.0.113.9", 50000))  # roam
    sim.run_for(1500)
    start = sim.now
    sim.link.blackout(start, start + 10_000)  # 10 s blackout
    sim.run_until(lambda: False, start + 10_000)
    mid_up = len(sim.speer.got[next(iter(up))])
    assert mid_up < sizes[0]  # still in progress

    def done():
        return (
            all(bytes(sim.speer.got[s]) == d for s, d in up.items())
            and all(bytes(sim.cpeer.got[s]) == d for s, d in down.items())
            and sim.streams_idle()
        )

    assert sim.run_until(done, sim.now + 120_000)


def test_keystrokes_flow_while_a_stream_is_saturated():
    sim = make(5, delay=20)
    sim.speer.read_limit = 0  # a stalled reader on the server ...
    sim.cpeer.send(b"tcp:h:1", payload(1, 3_000_000))
    sim.cpeer.send(b"tcp:h:2", payload(2, 3_000_000))  # ... and a busy one
    sim.speer.read_limit = None
    sim.run_for(2000)
    typed = bytearray()
    latencies = []

    def typist(s):
        if len(typed) < 50 and s.now >= 2000 + 200 * len(typed) + 1:
            s.client.current_state.push_keystroke(b"k")
            typed.append(ord("k"))
            latencies.append([s.now, None])
        got = len(s.server_received)
        for i in range(got):
            if latencies[i][1] is None:
                latencies[i][1] = s.now

    sim.extra = typist
    assert sim.run_until(lambda: len(sim.server_received) == 50, sim.now + 30_000)
    delays = sorted(b - a for a, b in latencies)
    # one-way delay 20 ms; a keystroke never waits behind the transfer for long
    assert delays[len(delays) // 2] <= 60, delays
    assert sim.client.current_state.stream_bytes() <= SESSION_IN_FLIGHT + 20_000


def test_in_flight_bounded_on_both_carriers():
    sim = make(6, delay=50)
    sim.cpeer.send(b"t", payload(1, 2_000_000))
    sim.speer.send(b"agent", payload(2, 2_000_000))
    worst_up = worst_down = 0
    for _ in range(40):
        sim.run_for(100)
        worst_up = max(worst_up, sim.client.current_state.stream_bytes())
        worst_down = max(worst_down, sim.terminal.streams.size)
    assert 0 < worst_up <= SESSION_IN_FLIGHT
    assert 0 < worst_down <= SESSION_IN_FLIGHT


@pytest.mark.parametrize(
    "client_features, server_features, hello", [(4, 0, True), (0, 4, True), (4, 4, False)]
)
def test_nothing_streams_without_both_hellos(client_features, server_features, hello):
    sim = make(7, delay=10)
    sim = type(sim)(sim.link, client_features, server_features, hello)
    sim.cpeer.send(b"t", b"up data")
    sim.speer.send(b"agent", b"down data")
    sim.run_for(3000)
    assert not any(sim.speer.got.values()) and not any(sim.cpeer.got.values())
    # what the transports sent and hold: no extension 101/102 anywhere
    assert sim.client.current_state.stream_bytes() == 0
    assert sim.terminal.streams.size == 0 and sim.terminal.streams.next == 0
    up = sim.client.current_state.diff_from(UserStream())
    down = sim.terminal.diff_from(CompleteTerminal(80, 24))
    for ext in (EXT_USER_STREAM_FRAME, EXT_HOST_STREAM_FRAME):
        key = bytes([(ext << 3 | 2) & 0x7F | 0x80, ext >> 4])
        assert key not in up and key not in down


def test_a_client_that_missed_frames_resets_its_streams():
    """The server drops frames once a state is acknowledged; a client that did not
    consume them (never the real client) must not deliver a stream with a hole."""
    from types import SimpleNamespace

    from pymosh.statesync.hello import answer, client_hello
    from pymosh.statesync.stream_carrier import ClientCarrier
    from pymosh.statesync.streams import RESET, Mux

    host = CompleteTerminal(10, 3)
    host.hello = answer(client_hello())
    host.streams.base = 7  # frames 0..6 went by unseen
    host.streams.push(b"\x04\x01")
    transport = SimpleNamespace(
        latest_remote_state=lambda: host,
        current_state=UserStream(),
        connection=SimpleNamespace(timeout=lambda: 50),
        sent_state_last=1,
        shutdown_in_progress=lambda: False,
    )
    mux = Mux(True)
    sid = mux.open(b"t")
    carrier = ClientCarrier(mux)
    carrier.pump(transport, 0)
    assert not mux.streams and [(e.kind, e.sid) for e in mux.take_events()] == [("reset", sid)]
    frames = [e.data for e in transport.current_state.events]
    assert frames and frames[-1][0] == RESET and carrier.delivered == 8


@pytest.mark.parametrize("side", ["server", "client"])
def test_streams_add_nothing_while_shutting_down(side):
    """The shutdown state is resent unchanged under one number: a carrier that kept adding
    frames would make the sender diff (old, 2^64 - 1) twice with different bytes."""
    sim = make(8, delay=20)
    sim.cpeer.send(b"tcp:h:1", payload(1, 2_000_000))
    sim.speer.send(b"agent", payload(2, 2_000_000))
    sim.run_for(1000)
    quitting = sim.server if side == "server" else sim.client
    quitting.start_shutdown(sim.now)
    up, down = sim.client.current_state.stream_bytes(), sim.terminal.streams.next
    assert sim.run_until(quitting.shutdown_acknowledged, sim.now + 5_000)
    if side == "server":
        assert sim.terminal.streams.next == down  # no frame pushed since
    else:
        assert sim.client.current_state.stream_bytes() <= up  # acks subtract; nothing added
