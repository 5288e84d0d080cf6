"""An idle pymosh-server: it wakes only for the heartbeats (its own and the client's), and an
idle turn leaves the registry record, the history log and the stream carrier alone.

A real Server (pty, loopback UDP socket, registry record) with a simulated clock: the event
loop's wait is replaced by one that advances the clock to the server's deadline or to the
client's next heartbeat. Counters, not timings.
"""

from __future__ import annotations

import os
import select

import pytest

from pymosh.crypto.key import new_key
from pymosh.frontend import registry
from pymosh.frontend import server as server_module
from pymosh.frontend.loop import EventLoop
from pymosh.frontend.pty_host import PtyHost
from pymosh.frontend.resume import REFRESH, register
from pymosh.network.connection import FAST_START_RTTVAR, FAST_START_SRTT, Connection
from pymosh.network.endpoint import Endpoint
from pymosh.network.sender import ACK_INTERVAL
from pymosh.network.transport import Transport
from pymosh.network.udp import ClientSocket, ServerSocket
from pymosh.statesync.complete import CompleteTerminal
from pymosh.statesync.hello import CLIENT_FEATURES
from pymosh.statesync.user_stream import UserStream
from pymosh.wire.protobuf import Hello

SIMULATED = 150_000.0  # ms: several heartbeats, two record refreshes


class Stop(Exception):
    pass


class IdleRun:
    """A Server and an in-process pymosh client (hello with scrollback and streams)."""

    def __init__(self, monkeypatch) -> None:
        self.now = 1_000_000.0
        monkeypatch.setattr(server_module, "now_ms", lambda: self.now)
        key = new_key()
        self.sock = ServerSocket("127.0.0.1", "0")
        self.pty = PtyHost(["/bin/sleep", "600"], dict(os.environ), 80, 24)
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
        # per turn: (time, datagram in, timer expired, datagrams the server sent by then)
        self.log: list[tuple[float, bool, bool, int]] = []
        self.server.loop.wait = self.wait  # type: ignore[method-assign]

    def wait(self, timeout_ms: float) -> tuple[set[int], list[int]]:
        self.client.receive(self.now)
        client_wait = self.client.wait_time(self.now)
        step = min(timeout_ms, client_wait)
        if self.now + step > self.end:
            raise Stop
        self.now += step
        if client_wait <= timeout_ms:
            self.client.send(self.now)
        ready, _, _ = select.select([self.sock.sock.fileno(), self.pty.fd], [], [], 0.05)
        sent = self.server.transport.connection.datagrams_sent
        self.log.append((self.now, bool(ready), client_wait > timeout_ms, sent))
        return set(ready), []

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


def test_an_idle_server_wakes_only_for_heartbeats(idle, monkeypatch):
    writes: list[str] = []
    real_write = registry.write_record
    monkeypatch.setattr(
        registry, "write_record", lambda d, r: (writes.append(r.state), real_write(d, r))
    )
    idle.run()
    server = idle.server
    assert server.terminal.hello is not None and server.history is not None  # pymosh client
    log = idle.log
    # each turn: why it woke, and whether it sent (the next entry's count is after it)
    turns = [
        (at, got, timer, log[i + 1][3] > sent)
        for i, (at, got, timer, sent) in enumerate(log[:-1])
        if at >= log[0][0] + 10_000
    ]
    span = turns[-1][0] - turns[0][0]
    heartbeats = span / ACK_INTERVAL
    arrivals = sum(1 for _, got, _, _ in turns if got)
    timers = [sent for _, got, timer, sent in turns if timer and not got]
    # the client's heartbeat, and the server's own: two wake-ups per ACK_INTERVAL; every
    # wake-up by the server's own timer sends one (none for bookkeeping)
    assert abs(arrivals - heartbeats) <= 2
    assert abs(len(timers) - heartbeats) <= 2 and all(timers)
    assert len(turns) == arrivals + len(timers)
    sent = server.transport.connection.datagrams_sent
    assert sent >= SIMULATED / ACK_INTERVAL - 2
    # the record: attached once, then the slow refresh of last contact (riding a heartbeat)
    assert writes[0] == "attached" and set(writes) == {"attached"}
    assert len(writes) <= 1 + SIMULATED / REFRESH + 1


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
    assert turns >= 2 * SIMULATED / ACK_INTERVAL - 4
    # a few at the start (contact, the first frames); then only the record's refreshes
    assert calls["note"] <= 10 + SIMULATED / REFRESH
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
