"""An idle pymosh-server: it wakes only for the heartbeats, once per interval with a
client that heart-beats (its own goes out with the client's: pymosh.frontend.heartbeat), and
an idle turn leaves the registry record, the history log and the stream carrier alone.

A real Server (pty, loopback UDP socket, registry record) with a simulated clock: the event
loop's wait is replaced by one that advances the clock to the server's deadline or to the
client's next send (its heartbeat ``lag`` ms late, like a client on a loaded machine; none once the
client falls ``silent``). Counters, not timings.
"""

from __future__ import annotations

import os
import select
from typing import Any

import pytest

from pymosh.crypto.key import new_key
from pymosh.frontend import registry
from pymosh.frontend import server as server_module
from pymosh.frontend.heartbeat import HOLD
from pymosh.frontend.loop import EventLoop
from pymosh.frontend.pty_host import PtyHost
from pymosh.frontend.resume import register
from pymosh.network.connection import FAST_START_RTTVAR, FAST_START_SRTT, Connection
from pymosh.network.endpoint import Endpoint
from pymosh.network.sender import ACK_INTERVAL
from pymosh.network.transport import Transport
from pymosh.network.udp import ClientSocket, ServerSocket
from pymosh.statesync.complete import CompleteTerminal
from pymosh.statesync.hello import CLIENT_FEATURES
from pymosh.statesync.user_stream import UserStream
from pymosh.wire.protobuf import Hello

SIMULATED = 150_000.0  # ms: several dozen heartbeats


class Stop(Exception):
    pass


class IdleRun:
    """A Server and an in-process pymosh client (hello with scrollback and streams)."""

    def __init__(self, monkeypatch, command=("/bin/sleep", "600"), key=None) -> None:
        self.now = 1_000_000.0
        monkeypatch.setattr(server_module, "now_ms", lambda: self.now)
        key = key or new_key()
        self.sock = ServerSocket("127.0.0.1", "0")
        self.pty = PtyHost(list(command), dict(os.environ), 80, 24)
        self.server = server_module.Server(self.sock, key, self.pty, 80, 24)
        register(self.server, self.sock.port, ["sleep"])
        self.csock = ClientSocket(("127.0.0.1", self.sock.port), self.now)
        conn = Connection(
            key,
            False,
            remote_addr=self.csock.server_addr,
            now=self.now,
            family=self.csock.family,
            initial_srtt=FAST_START_SRTT,
            initial_rttvar=FAST_START_RTTVAR,
        )
        self.client = Endpoint(
            Transport(UserStream(), CompleteTerminal(80, 24), conn, self.now), self.csock
        )
        self.client.transport.current_state.push_hello(Hello(1, CLIENT_FEATURES, 1000))
        self.client.transport.current_state.push_resize(80, 24)
        self.end = self.now + SIMULATED
        self.lag = 0.0  # ms each client send is late
        self.silent = float("inf")  # the client sends nothing from then on
        # (when, keystrokes the user types, or something else that happens then)
        self.keys: list[tuple[float, Any]] = []
        self.signals: list[int] = []  # the next wait returns these
        # per turn: (time, datagram in, timer expired, datagrams the server sent by then)
        self.log: list[tuple[float, bool, bool, int]] = []
        self.client_sends: list[float] = []
        self.client_due = self.client_at = 0.0  # the client's send due, and when it goes
        self.server.loop.wait = self.wait  # type: ignore[method-assign]

    def wait(self, timeout_ms: float) -> tuple[set[int], list[int]]:
        while True:
            self.client.receive(self.now)
            due = self.now + self.client.wait_time(self.now)
            if due != self.client_due:
                # (its heartbeat is late, not the ack or input the test is not about)
                late = self.lag if self.client.transport.sender.heartbeat_only() else 0
                self.client_due, self.client_at = due, due + late
            client_wait = self.client_at - self.now
            if self.now + client_wait >= self.silent:
                client_wait = float("inf")
            step = min(timeout_ms, client_wait)
            if self.keys and self.keys[0][0] <= self.now + step:
                # the user types while the server sleeps
                at, data = self.keys.pop(0)
                timeout_ms -= max(at - self.now, 0)
                self.now = max(at, self.now)
                if callable(data):
                    data()
                else:
                    self.client.transport.current_state.push_keystroke(data)
                continue
            break
        if self.now + step > self.end:
            raise Stop
        self.now += step
        if client_wait <= timeout_ms:
            if self.client.send(self.now):
                self.client_sends.append(self.now)
        ready, _, _ = select.select([self.sock.sock.fileno(), self.pty.fd], [], [], 0.05)
        lane = self.server.lane  # (while armed, the idle lane owns the counters)
        sent = (
            lane.datagrams_sent if lane.armed else self.server.transport.connection.datagrams_sent
        )
        self.log.append((self.now, bool(ready), client_wait > timeout_ms, sent))
        signals, self.signals = self.signals, []
        return set(ready), signals

    def turns(self, since: float, until: float = float("inf")):
        """(time, datagram in, timer expired, sent) of each turn in [since, until)."""
        log = self.log
        return [
            (at, got, timer, log[i + 1][3] > sent)
            for i, (at, got, timer, sent) in enumerate(log[:-1])
            if since <= at < until
        ]

    def run(self) -> None:
        with pytest.raises(Stop):
            self.server._run()

    def close(self) -> None:
        if self.server.durable is not None:
            self.server.durable.close()
        self.server.loop.close()
        self.pty.close()
        self.sock.close()
        self.csock.close()


@pytest.fixture
def idle(monkeypatch):
    run = IdleRun(monkeypatch)
    yield run
    run.close()


@pytest.mark.parametrize("lag", [0.0, HOLD / 4, HOLD / 2])
def test_an_idle_server_wakes_once_per_heartbeat_interval(idle, monkeypatch, lag):
    writes: list[str] = []
    real_write = registry.write_record
    monkeypatch.setattr(
        registry, "write_record", lambda d, r: (writes.append(r.state), real_write(d, r))
    )
    idle.lag = lag  # the client's heartbeat comes later than the server's is due
    idle.run()
    server = idle.server
    assert server.terminal.hello is not None and server.history is not None  # pymosh client
    turns = idle.turns(idle.log[0][0] + 10_000)
    span = turns[-1][0] - turns[0][0]
    heartbeats = span / (ACK_INTERVAL + lag)  # the client's period
    arrivals = [sent for _, got, _, sent in turns if got]
    # the client's heartbeat wakes the server, which sends its own in the same turn; its
    # own timer never wakes it (the client's comes within the hold)
    assert abs(len(arrivals) - heartbeats) <= 2 and all(arrivals)
    assert len(turns) == len(arrivals)
    # as many datagrams as Mosh's server sends: one per interval
    sent = server.transport.connection.datagrams_sent
    assert SIMULATED / (ACK_INTERVAL + lag) - 2 <= sent <= SIMULATED / ACK_INTERVAL + 6
    # the record: written once, when the client is first heard; never again while attached
    assert writes == ["attached"]


def test_a_silent_client_gets_moshs_heartbeat_rhythm(idle):
    idle.lag = HOLD / 4
    idle.silent = idle.now + 30_000  # the client's last heartbeat is before then
    idle.end = idle.silent + 30_000  # (before the server detaches from a silent client)
    idle.run()
    last_heard = idle.client_sends[-1]
    sends = [at for at, _, _, sent in idle.turns(last_heard) if sent]
    gaps = [b - a for a, b in zip(sends, sends[1:])]
    # the server's answers the client's last heartbeat; the next waits for the client's
    # next (which never comes) at most HOLD; every later one goes out on Mosh's timer
    assert sends[0] == last_heard
    assert ACK_INTERVAL <= gaps[0] <= ACK_INTERVAL + HOLD
    assert len(gaps) >= 8 and gaps[1:] == [ACK_INTERVAL] * (len(gaps) - 1)
    # and while the client still heart-beat, it was one wake-up per interval
    before = idle.turns(idle.log[0][0] + 10_000, last_heard)
    assert before and all(got and sent for _, got, _, sent in before)


def test_keystrokes_are_not_held_with_the_heartbeat(monkeypatch):
    run = IdleRun(monkeypatch, ("/bin/cat",))
    try:
        start = run.now
        # typed at several phases of the heartbeat interval, once the phase has locked
        typed = [start + 20_000 + k * 7_100 + (k * 450) % ACK_INTERVAL for k in range(8)]
        letters = [bytes([ord("a") + k]) for k in range(len(typed))]
        run.keys = list(zip(typed, letters))
        run.end = typed[-1] + 5_000
        run.run()
        row = run.client.transport.latest_remote_state().terminal
        text = "".join(row.get_cell(0, c)[0] or " " for c in range(80))
        assert all(letter.decode() in text for letter in letters)
        # every keystroke's arrival turn sent its echo (the same turn: ECHO_WAIT), whatever
        # the heartbeat's hold
        for at in typed:
            arrival = next(t for t in run.turns(at) if t[1])
            assert arrival[3], f"no echo in the turn the keystroke typed at {at} arrived"
            assert arrival[0] - at <= 5  # the client's send mindelay, no hold
    finally:
        run.close()


def test_an_idle_turn_leaves_the_record_history_and_streams_alone(idle, monkeypatch):
    from pymosh.frontend import resume
    from pymosh.frontend.forwarding import Forwarding
    from pymosh.frontend.registry import DETACHED_AFTER_S
    from pymosh.statesync.history import HistoryLog
    from pymosh.statesync.streams import Mux

    calls = {"note": 0, "pump": 0, "events": 0, "durable": 0, "forwarding": 0}

    def counting(name, real):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(
        resume.DurableSession, "_note", counting("note", resume.DurableSession._note)
    )
    monkeypatch.setattr(HistoryLog, "pump", counting("pump", HistoryLog.pump))
    monkeypatch.setattr(Mux, "take_events", counting("events", Mux.take_events))
    monkeypatch.setattr(
        resume.DurableSession, "turn", counting("durable", resume.DurableSession.turn)
    )
    monkeypatch.setattr(Forwarding, "turn", counting("forwarding", Forwarding.turn))
    idle.run()
    turns = len(idle.log)
    assert turns >= SIMULATED / ACK_INTERVAL - 4
    # a few at the start (contact, the first frames); then none while the client is heard
    assert calls["note"] <= 10
    assert calls["pump"] <= 10
    assert calls["events"] <= 10
    # the loop skips the durable session's turn while it is quiet (asked again when the
    # client may be about to count as detached: the last heartbeat's DETACHED_AFTER_S
    # later), and forwarding with nothing open
    assert calls["durable"] <= 10 + SIMULATED / (DETACHED_AFTER_S * 1000 - ACK_INTERVAL)
    assert calls["forwarding"] <= 10


def test_the_event_loop_leaves_an_unchanged_reader_set_alone(monkeypatch):
    loop = EventLoop()
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    try:
        changes: list[str] = []
        monkeypatch.setattr(loop, "add_reader", lambda fd: changes.append(f"+{fd}"))
        monkeypatch.setattr(loop, "remove_reader", lambda fd: changes.append(f"-{fd}"))
        loop.set_readers([r1])
        assert changes == [f"+{r1}"]
        monkeypatch.undo()
        loop = EventLoop()
        loop.set_readers([r1, r2])
        os.write(w2, b"x")
        assert loop.wait(1000)[0] == {r2}
        assert loop.watched() == {r1, r2}
        changes.clear()
        monkeypatch.setattr(loop, "add_reader", lambda fd: changes.append(f"+{fd}"))
        monkeypatch.setattr(loop, "remove_reader", lambda fd: changes.append(f"-{fd}"))
        loop.set_readers([r2, r1])  # the same set: nothing is re-registered
        assert changes == []
        monkeypatch.undo()
        loop.set_readers([r1])
        assert loop.wait(0)[0] == set()  # r2 is readable but no longer watched
        loop.add_reader(r2)
        loop.set_readers([r1])  # a reader added by hand is dropped again
        assert loop.wait(0)[0] == set()
        loop.close()
    finally:
        for fd in (r1, w1, r2, w2):
            os.close(fd)
