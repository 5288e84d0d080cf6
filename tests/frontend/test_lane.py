"""The idle lane as a state machine fed bytes: a server transport and an in-process client
transport exchange heartbeats until the session is steady, then the lane is armed and fed
the client's datagrams (pymosh.frontend.lane; both implementations)."""

from __future__ import annotations

import math

import pytest

from pymosh.crypto.key import new_key
from pymosh.network.connection import Connection
from pymosh.network.sender import ACK_INTERVAL, SHUTDOWN_NUM
from pymosh.network.transport import Transport
from pymosh.statesync.complete import CompleteTerminal
from pymosh.statesync.user_stream import UserStream

CLIENT = ("192.0.2.1", 40000)
SERVER = ("192.0.2.2", 60001)
INF = math.inf


class Pair:
    """A server transport and a client transport on a simulated clock."""

    def __init__(self) -> None:
        key = new_key()
        self.now = 1_000_000.0
        self.server = Transport(
            CompleteTerminal(80, 24), UserStream(), Connection(key, True, now=self.now), self.now
        )
        self.client = Transport(
            UserStream(),
            CompleteTerminal(80, 24),
            Connection(key, False, remote_addr=SERVER, now=self.now),
            self.now,
        )
        self.server_seqs: list[int] = []

    def client_datagrams(self) -> list[bytes]:
        return self.client.tick(self.now)

    def to_client(self, datagrams: list[bytes]) -> None:
        for datagram in datagrams:
            self.server_seqs.append(int.from_bytes(datagram[:8], "big") & ((1 << 63) - 1))
            self.client.receive(datagram, SERVER, self.now)

    def step(self, ms: float) -> None:
        """Both ends' ordinary turns every 10 ms for ``ms``."""
        end = self.now + ms
        while self.now < end:
            for datagram in self.client_datagrams():
                self.server.receive(datagram, CLIENT, self.now)
            self.server.get_remote_diff()
            self.to_client(self.server.tick(self.now))
            self.now += 10

    def heartbeat(self) -> bytes:
        """The client's next datagram (time runs to it): a heartbeat unless it has input."""
        self.now += self.client.wait_time(self.now)
        (datagram,) = self.client_datagrams()
        return datagram


def snapshot(transport: Transport) -> dict:
    conn, sender = transport.connection, transport.sender
    return {
        "conn": {k: v for k, v in vars(conn).items() if k != "session"},
        "sent": [(e.timestamp, e.num) for e in sender.sent_states],
        "sender": (
            sender.ack_num,
            sender.last_heard,
            sender.next_ack_time,
            sender.instructions_sent,
            sender.fragmenter.next_instruction_id,
            sender.fragmenter._last_key,
        ),
        "received": [(e.timestamp, e.num, e.state.events) for e in transport.received_states],
        "current_id": transport.fragments.current_id,
    }


@pytest.fixture
def steady():
    pair = Pair()
    pair.client.current_state.push_resize(80, 24)
    pair.step(20_000)  # the first states, then heartbeats both ways
    return pair


def armed(lane_impl, pair: Pair, detach_after: float = INF, limit: float = INF):
    """The lane armed as the server's loop arms it: after the heartbeat phase's hold (here:
    none, the heartbeat stays where the sender put it)."""
    lane = lane_impl.IdleLane(pair.server)
    lane.arm(pair.now, pair.server.sender.next_ack_time, detach_after, limit)
    return lane


def test_a_heartbeat_is_answered_with_the_servers(lane_impl, steady):
    lane = armed(lane_impl, steady)
    for _ in range(5):
        datagram = steady.heartbeat()
        answer = lane.receive(datagram, CLIENT, False, steady.now)
        assert answer and lane.armed
        acked = steady.client.sender.sent_states[-1].num
        steady.to_client([answer])
        # authentic, in order, acknowledging the client's heartbeat
        assert steady.client.connection.last_heard == steady.now
        assert steady.client.sender.sent_states[0].num == acked
    assert lane.sends == 5
    lane.disarm()
    assert steady.server.connection.datagrams_received >= 5
    assert steady.server.remote_state_num == steady.client.sender.sent_states[-1].num
    steady.step(10_000)  # and the ordinary path carries on from there
    assert steady.client.connection.last_heard >= steady.now - ACK_INTERVAL - 20


def test_the_timer_sends_the_heartbeat_when_it_is_due(lane_impl, steady):
    lane = armed(lane_impl, steady)
    due = lane.deadline
    assert lane.timer(due - 1) == b""  # early: nothing
    datagram = lane.timer(due)
    assert datagram
    steady.now = due
    steady.to_client([datagram])
    assert steady.client.connection.last_heard == due
    assert lane.deadline == due + ACK_INTERVAL


def declined(steady: Pair, kind: str) -> tuple[bytes, tuple]:
    """A datagram of ``kind`` that is not the lane's, and where it comes from."""
    client = steady.client
    if kind == "keystroke":
        client.current_state.push_keystroke(b"a")
        return steady.heartbeat(), CLIENT
    if kind == "resize":
        client.current_state.push_resize(100, 30)
        return steady.heartbeat(), CLIENT
    if kind == "roam":
        return steady.heartbeat(), ("192.0.2.1", 40001)
    if kind == "forged":
        datagram = bytearray(steady.heartbeat())
        datagram[20] ^= 1
        return bytes(datagram), CLIENT
    if kind == "garbage":
        return b"\x00" * 60, CLIENT
    if kind == "shutdown":
        client.start_shutdown(steady.now)
        datagram = steady.heartbeat()
        assert client.sender.sent_states[-1].num == SHUTDOWN_NUM
        return datagram, CLIENT
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["keystroke", "resize", "roam", "forged", "garbage", "shutdown"])
def test_anything_else_disarms_the_lane_untouched(lane_impl, steady, kind):
    before = snapshot(steady.server)
    lane = armed(lane_impl, steady)
    datagram, addr = declined(steady, kind)
    assert lane.receive(datagram, addr, False, steady.now) is None
    assert not lane.armed
    assert snapshot(steady.server) == before
    # the ordinary path then takes it as usual
    steady.server.receive(datagram, addr, steady.now)


def test_a_replayed_heartbeat_is_declined(lane_impl, steady):
    lane = armed(lane_impl, steady)
    datagram = steady.heartbeat()
    assert lane.receive(datagram, CLIENT, False, steady.now)
    steady.now += 100
    assert lane.receive(datagram, CLIENT, False, steady.now) is None  # seen: not in order
    assert not lane.armed
    received = steady.server.connection.datagrams_received
    steady.server.receive(datagram, CLIENT, steady.now)
    assert steady.server.connection.out_of_order == 1
    assert steady.server.connection.datagrams_received == received + 1


def test_a_late_heartbeat_is_declined(lane_impl, steady):
    old = steady.heartbeat()  # delayed on the way: the next one overtakes it
    newer = steady.heartbeat()
    lane = armed(lane_impl, steady)
    assert lane.receive(newer, CLIENT, False, steady.now)
    assert lane.receive(old, CLIENT, False, steady.now) is None


def test_past_the_limits_events_are_the_ordinary_loops(lane_impl, steady):
    heard = steady.server.connection.last_heard
    lane = armed(lane_impl, steady, detach_after=ACK_INTERVAL / 2)
    assert lane.deadline == heard + ACK_INTERVAL / 2
    assert lane.timer(lane.deadline) is None and not lane.armed
    lane = armed(lane_impl, steady, limit=steady.now + 1)
    assert lane.receive(steady.heartbeat(), CLIENT, False, steady.now + 1) is None


def test_no_nonce_is_used_twice(lane_impl, steady):
    for round in range(6):
        lane = armed(lane_impl, steady)
        for _ in range(3):
            answer = lane.receive(steady.heartbeat(), CLIENT, False, steady.now)
            steady.to_client([answer] if answer else [])
            steady.now += 1
            out = lane.timer(lane.deadline)
            steady.now = max(steady.now, lane.deadline)
            steady.to_client([out] if out else [])
        lane.disarm()
        steady.client.current_state.push_keystroke(b"k")  # an ordinary exchange between
        steady.step(200 + 50 * round)
    seqs = steady.server_seqs
    assert len(seqs) > 30
    assert len(set(seqs)) == len(seqs) and seqs == sorted(seqs)
