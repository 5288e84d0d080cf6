"""An idle connection's turns: wake-ups only when a datagram is due or arrives, and the cheap
path through the sender (one or two state comparisons per timer pass, no diff for a
heartbeat).

Counters, not clocks: the link is in memory and time is simulated.
"""

from __future__ import annotations

import math

from pymosh.network.connection import Connection
from pymosh.network.endpoint import Endpoint
from pymosh.network.sender import ACK_INTERVAL, CHAFF_POOL, make_chaff
from pymosh.network.transport import Transport
from pymosh.statesync.user_stream import UserStream

from .test_endpoint import SERVER, Channel

KEY = bytes(range(16))


class CountingStream(UserStream):
    """A user stream that counts the sender's comparisons, diffs and subtractions."""

    __slots__ = ("counts",)

    def __init__(self, events=None, counts=None) -> None:
        super().__init__(events)
        self.counts = counts if counts is not None else {"eq": 0, "diff": 0, "subtract": 0}

    def copy(self) -> CountingStream:
        return CountingStream(self.events[:], self.counts)

    def __eq__(self, other: object) -> bool:
        self.counts["eq"] += 1
        return super().__eq__(other)

    def diff_from(self, existing: UserStream) -> bytes:
        self.counts["diff"] += 1
        return super().diff_from(existing)

    def subtract(self, prefix: UserStream) -> None:
        self.counts["subtract"] += 1
        super().subtract(prefix)


def pair(server_state: UserStream | None = None):
    client_channel, server_channel = Channel(("198.51.100.7", 40000)), Channel(SERVER)
    client_channel.peer, server_channel.peer = server_channel, client_channel
    client = Transport(UserStream(), UserStream(), Connection(KEY, False, SERVER), 0)
    server = Transport(
        server_state if server_state is not None else UserStream(),
        UserStream(),
        Connection(KEY, True),
        0,
    )
    return Endpoint(client, client_channel), Endpoint(server, server_channel)


class Wakes:
    """An event loop for one endpoint: it wakes when its wait ends or a datagram is there."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.deadline = 0.0
        self.wakes = self.idle_wakes = self.sent = self.received = 0

    def plan(self, now: float) -> None:
        self.deadline = now + self.endpoint.wait_time(now)

    def due(self, now: float) -> bool:
        return now >= self.deadline or bool(self.endpoint.channel.inbox)  # type: ignore

    def turn(self, now: float) -> None:
        self.wakes += 1
        got = self.endpoint.receive(now)
        sent = self.endpoint.send(now)
        self.received += got
        self.sent += sent
        if not got and not sent:
            self.idle_wakes += 1
        self.plan(now)


def simulate(loops: list[Wakes], start: float, until: float) -> float:
    """Jump from one wake-up to the next (1 ms resolution for arrivals)."""
    now = start
    for loop in loops:
        loop.plan(now)
    while now < until:
        for loop in loops:
            if loop.due(now):
                loop.turn(now)
        nxt = min(loop.deadline for loop in loops)
        pending = any(loop.endpoint.channel.inbox for loop in loops)  # type: ignore
        now = now + 1 if pending or nxt <= now else min(nxt, until)
    return now


def test_an_idle_connection_wakes_only_to_send_or_receive_a_heartbeat():
    c, s = pair()
    c.transport.current_state.push_keystroke(b"x")  # contact: the server learns the client
    client, server = Wakes(c), Wakes(s)
    now = simulate([client, server], 0, 5000)
    for loop in (client, server):
        loop.wakes = loop.idle_wakes = loop.sent = loop.received = 0
    simulate([client, server], now, now + 60000)
    for loop in (client, server):
        # a heartbeat each way every ACK_INTERVAL (Mosh's cadence), nothing between them
        assert loop.idle_wakes == 0
        assert abs(loop.sent - 60000 / ACK_INTERVAL) <= 1
        assert abs(loop.received - 60000 / ACK_INTERVAL) <= 1
        assert loop.wakes <= loop.sent + loop.received


def test_the_idle_sender_compares_at_most_twice_per_timer_pass_and_never_diffs_a_heartbeat():
    counts = {"eq": 0, "diff": 0, "subtract": 0}
    c, s = pair(CountingStream(counts=counts))
    c.transport.current_state.push_keystroke(b"x")
    client, server = Wakes(c), Wakes(s)
    now = simulate([client, server], 0, 5000)
    sender = s.transport.sender
    passes = {"n": 0}
    real = sender.calculate_timers

    def counted(now: float) -> None:
        passes["n"] += 1
        real(now)

    sender.calculate_timers = counted  # type: ignore[method-assign]
    for key in counts:
        counts[key] = 0
    simulate([client, server], now, now + 30000)
    assert server.sent >= 9 and passes["n"] >= server.wakes
    # the live state against the newest sent state, and against the one assumed received
    # while a heartbeat waits for its ack (never a third time: that one was just compared)
    assert passes["n"] <= counts["eq"] < 2 * passes["n"]
    assert counts["diff"] == 0  # the timers proved each heartbeat's diff empty
    # the front changes once per acknowledged heartbeat, and only then is it subtracted
    assert counts["subtract"] <= 3 * server.sent


def test_a_change_after_an_idle_spell_is_still_sent_and_diffed():
    counts = {"eq": 0, "diff": 0, "subtract": 0}
    c, s = pair(CountingStream(counts=counts))
    c.transport.current_state.push_keystroke(b"x")
    client, server = Wakes(c), Wakes(s)
    now = simulate([client, server], 0, 10000)
    s.transport.current_state.push_keystroke(b"late")
    simulate([client, server], now, now + 1000)
    assert counts["diff"] >= 1
    assert c.transport.latest_remote_state().events == list(b"late")


def test_wait_time_is_infinite_for_a_server_without_a_client():
    _, s = pair()
    assert math.isinf(s.wait_time(0)) and s.send(0) == 0


def test_chaff_is_0_to_16_bytes_drawn_from_a_pool():
    chaff = [make_chaff() for _ in range(3 * CHAFF_POOL)]
    assert {len(c) for c in chaff} == set(range(17))
    assert len(set(chaff)) > len(chaff) // 2  # random bytes, not a repeated pattern
    make_chaff.reset()
    assert make_chaff.pool == b"" and len(make_chaff()) <= 16
