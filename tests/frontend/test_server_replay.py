"""A resumed client gets the session's history (statesync/archive.py) through the real
`Server` loop, in-process on a fake clock: the old client sees 1..300 scroll, dies, 301..600
scroll while nobody listens, the session is resumed with a fresh key, and the new client's
history is one marker line, then every line that scrolled, once, in order, then the new ones.
"""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import pytest

import pymosh.frontend.server as server_mod
from pymosh.network.connection import Connection
from pymosh.network.transport import Transport
from pymosh.statesync.archive import marker
from pymosh.statesync.complete import CompleteTerminal
from pymosh.statesync.hello import CLIENT_FEATURES, client_hello
from pymosh.statesync.history import HistoryReader, HistoryWindow
from pymosh.statesync.user_stream import UserStream
from tests.support.server_fakes import FakePty, FakeSock

OLD_KEY, NEW_KEY = bytes(range(16)), bytes(range(16, 32))
SERVER_ADDR = ("192.0.2.1", 60001)
CLIENT_ADDR = ("198.51.100.7", 40000)
SGR = re.compile(rb"\x1b\[[0-9;]*m")


class Finished(Exception):
    pass


class FakeDurable:
    """The registry side of a session: only its ID matters here."""

    record = SimpleNamespace(id="r3sum3")
    listen_fd = -1
    noted_client = None

    def filenos(self) -> list:
        return []

    def quiet_until(self, last_heard) -> float:
        return -math.inf  # (the server's loop turns it every time)

    def idle_limits(self, client) -> None:
        return None  # (so the idle lane never takes its turns)

    def wait_time(self, now: float, last_heard) -> float:
        return math.inf

    def turn(self, ready, now, last_heard, client) -> None:
        pass

    def close(self) -> None:
        pass


class Client:
    def __init__(self, key: bytes, lines: int | None, now: float) -> None:
        remote = CompleteTerminal(80, 24)
        remote.history = HistoryWindow()
        connection = Connection(key, False, SERVER_ADDR, now=now)
        self.transport: Transport = Transport(UserStream(), remote, connection, now)
        self.stock = lines is None  # a stock mosh-client (given the key): no hello
        if not self.stock:
            self.transport.current_state.push_hello(client_hello(CLIENT_FEATURES, lines))
        self.transport.current_state.push_resize(80, 24)
        self.reader = HistoryReader()
        self.events: list = []

    def granted(self) -> bool:
        if self.stock:  # the server's first state is enough
            return self.transport.remote_state_num > 0
        return self.transport.latest_remote_state().hello is not None

    def texts(self) -> list:
        return [SGR.sub(b"", e[1]) if e[0] == "line" else e for e in self.events]


def numbers(first: int, last: int) -> bytes:
    return b"".join(b"%d\r\n" % i for i in range(first, last + 1))


@pytest.mark.parametrize("lines", [1000, 100, 0, None])
def test_a_resumed_client_gets_the_history_once_in_order_behind_a_marker(monkeypatch, lines):
    clock = [1_000_000.0]
    monkeypatch.setattr(server_mod, "now_ms", lambda: clock[0])
    sock, pty = FakeSock(), FakePty()
    srv = server_mod.Server(sock, OLD_KEY, pty, 80, 24)  # type: ignore[arg-type]
    srv.durable = FakeDurable()  # type: ignore[assignment]
    old = Client(OLD_KEY, 1000, clock[0])
    s: dict = {"client": old, "phase": "start", "since": 0.0}

    def fake_wait(timeout_ms: float):
        now = clock[0]
        client: Client = s["client"]
        step = min(timeout_ms, client.transport.wait_time(now), 50.0)
        clock[0] = now = now + max(0.0 if math.isinf(step) else step, 1.0)
        assert now < 1_000_000.0 + 300_000, s["phase"]
        outbox, sock.outbox = sock.outbox, []
        alive = s["phase"] != "dead"
        for datagram, _ in outbox:
            if alive:
                client.transport.receive(datagram, SERVER_ADDR, now)
        window = client.transport.latest_remote_state().history
        client.events += client.reader.events(window)
        if alive:
            sock.inbox += [(d, CLIENT_ADDR) for d in client.transport.tick(now)]
        phase = s["phase"]
        if phase == "start" and client.granted():
            pty.output += numbers(1, 300)
            s["phase"] = "printed"
        elif phase == "printed" and client.texts()[-1:] == [b"277"]:
            pty.output += numbers(301, 600)  # nobody will see these scroll
            s["phase"], s["since"] = "dead", now
        elif phase == "dead" and now - s["since"] > 2000:
            srv.resume_with(NEW_KEY)  # what the control socket's resume does
            s["client"] = Client(NEW_KEY, lines, now)
            pty.output += numbers(601, 610)  # scrolls before the new client's hello
            s["phase"] = "resumed"
        elif phase == "resumed" and client.granted():
            pty.output += numbers(611, 650)
            s["phase"], s["since"] = "after", now
        elif phase == "after" and client.transport.all_acked() and now - s["since"] > 5000:
            raise Finished
        ready = {sock.filenos()[0]} if sock.inbox else set()
        if pty.output:
            ready.add(pty.fd)
        return ready, []

    monkeypatch.setattr(srv.loop, "wait", fake_wait)
    with pytest.raises(Finished):
        srv.run()
    assert old.texts() == [b"%d" % i for i in range(1, 278)]
    new = s["client"].texts()
    # the archive goes on, whatever the current client wants (a later resume may want it)
    assert srv.archive.count == 627
    if not lines:  # a client that wants no history gets none, nor does a stock client
        assert new == [] and srv.history is None
        return
    # 1..587 had scrolled by the new client's hello (601..610 pushed 578..587 off), the
    # rest after it: 627 lines in all (628..650 and an empty row are on the screen)
    first = max(1, 588 - lines)
    assert new[0] == SGR.sub(b"", marker("r3sum3", 587 - first + 1, 587))
    assert new[1:] == [b"%d" % i for i in range(first, 628)]


def test_many_resumes_keep_the_server_bounded():
    """Each resume replaces the history log with one seeded from the one archive: however
    many resumes, the server holds at most the archive's lines and one log."""
    from pymosh.statesync.hello import answer

    srv = server_mod.Server(FakeSock(), OLD_KEY, FakePty(), 80, 24)  # type: ignore[arg-type]
    srv.durable = FakeDurable()  # type: ignore[assignment]
    srv.terminal.hello = srv._grant(answer(client_hello(CLIENT_FEATURES, 500)))
    for i in range(40):
        srv.pty.output += numbers(i * 300 + 1, i * 300 + 300)  # type: ignore[attr-defined]
        srv._read_pty(0.0)
        srv.resume_with(bytes([i]) * 16)
        assert srv.history is None
        srv.terminal.hello = srv._grant(answer(client_hello(CLIENT_FEATURES, 500)))
        assert srv.history is not None and srv.archive is not None
        assert srv.archive.count == min(500, (i + 1) * 300 - 23)  # 23 rows on the screen
        pending = [SGR.sub(b"", line[1]) for line in srv.history.pending]
        assert len(pending) == srv.archive.count + 1  # the marker, then the archive
        assert pending[-1] == b"%d" % ((i + 1) * 300 - 23)
    srv.pty.close()
