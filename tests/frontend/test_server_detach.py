"""pymosh-server's event loop across a 45 s outage: detach after 40 s, re-attach, ack.

The real `Server` loop runs in-process on a fake clock: its socket, pty and wait are
stand-ins, and the client (our sans-I/O Transport) lives in the fake wait. Regression:
the heartbeat that detaches the server (40 s without the client) used to be sent to
`transport.remote_addr` read *after* `tick()`, i.e. to None, which killed the server.
"""

from __future__ import annotations

import math

import pytest

import pymosh.frontend.server as server_mod
from pymosh.network.connection import SERVER_ASSOCIATION_TIMEOUT, Connection
from pymosh.network.sender import ACK_DELAY, ACK_INTERVAL
from pymosh.network.transport import Transport
from pymosh.statesync.user_stream import UserStream
from tests.support.host_state import RawHostState
from tests.support.server_fakes import FakePty, FakeSock

KEY = bytes(range(16))
SERVER_ADDR = ("192.0.2.1", 60001)


class Finished(Exception):
    pass


def test_server_loop_detaches_after_40s_and_reattaches_at_the_new_address(monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(server_mod, "now_ms", lambda: clock[0])
    sock, pty = FakeSock(), FakePty()
    srv = server_mod.Server(sock, KEY, pty, 80, 24)  # type: ignore[arg-type]
    client = Transport(
        UserStream(), RawHostState(), Connection(KEY, False, SERVER_ADDR, now=clock[0]), clock[0]
    )
    client.current_state.push_resize(80, 24)
    client.current_state.push_keystroke(b"before")
    s = {
        "addr": ("198.51.100.7", 40000),
        "dark": None,
        "back": None,
        "detached": None,
        "resumed": None,
    }

    def fake_wait(timeout_ms: float):
        now = clock[0]
        step = min(timeout_ms, client.wait_time(now), 100.0)
        clock[0] = now = now + max(0.0 if math.isinf(step) else step, 1.0)
        dark = s["dark"] is not None and now < s["dark"] + 45_000
        outbox, sock.outbox = sock.outbox, []
        for datagram, dst in outbox:
            if not dark and dst == s["addr"]:
                client.receive(datagram, SERVER_ADDR, now)
        for datagram in client.tick(now):
            if not dark:
                sock.inbox.append((datagram, s["addr"]))
        if client.take_port_hop():
            host, port = s["addr"]
            s["addr"] = (host, port + 1)
        if s["dark"] is not None and s["detached"] is None and srv.transport.remote_addr is None:
            s["detached"] = now
        if s["dark"] is None:
            if client.all_acked() and pty.written == b"before":
                s["dark"] = now  # the outage starts
                client.current_state.push_keystroke(b" during")
        elif not dark:
            if s["back"] is None:
                s["back"] = now
                s["addr"] = ("203.0.113.9", 50000)  # the client returns from elsewhere
            if client.all_acked():
                s["resumed"] = now
                raise Finished
            if now > s["back"] + 10_000:
                raise Finished
        return ({sock.filenos()[0]} if sock.inbox else set()), []

    monkeypatch.setattr(srv.loop, "wait", fake_wait)
    with pytest.raises(Finished):
        srv.run()
    assert s["dark"] is not None and s["back"] is not None
    # detached once the client had been silent for 40 s, still alive afterwards
    assert s["detached"] is not None
    assert s["detached"] - s["dark"] >= SERVER_ASSOCIATION_TIMEOUT
    assert s["resumed"] is not None, "the server never acked the keys typed in the outage"
    assert s["resumed"] - s["back"] <= ACK_INTERVAL + 1000 + ACK_DELAY + 400
    assert bytes(pty.written) == b"before during"
    assert srv.transport.remote_addr == ("203.0.113.9", 50000)
