"""pymosh-server's event loop on a path whose MTU is below Mosh's 1252-byte datagrams.

The real `Server` loop runs in-process on a fake clock; its channel refuses datagrams over
600 bytes with EMSGSIZE, as `sendto` does on such a path. The server must fall back to
Mosh's 500-byte MTU and still deliver a screen too big for one small datagram.
"""

from __future__ import annotations

import math
import random

import pytest

import pymosh.frontend.server as server_mod
from pymosh.network.connection import DEFAULT_SEND_MTU, Connection
from pymosh.network.transport import Transport
from pymosh.statesync.user_stream import UserStream
from tests.support.host_state import RawHostState
from tests.support.server_fakes import FakePty, FakeSock

KEY = bytes(range(16))
SERVER_ADDR = ("192.0.2.1", 60001)
CLIENT_ADDR = ("198.51.100.7", 40000)
LINK_MTU = 600


class Finished(Exception):
    pass


def test_server_falls_back_to_500_byte_datagrams_on_emsgsize(monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(server_mod, "now_ms", lambda: clock[0])
    sock, pty = FakeSock(), FakePty()
    sock.link_mtu = LINK_MTU
    srv = server_mod.Server(sock, KEY, pty, 80, 24)  # type: ignore[arg-type]
    client = Transport(
        UserStream(), RawHostState(), Connection(KEY, False, SERVER_ADDR, now=clock[0]), clock[0]
    )
    client.current_state.push_resize(80, 24)
    client.current_state.push_keystroke(b"x")
    rng = random.Random(7)  # random letters: the screen diff does not compress small
    lines = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(79)) for _ in range(20)
    ]
    sizes: list[int] = []

    def fake_wait(timeout_ms: float):
        now = clock[0]
        step = min(timeout_ms, client.wait_time(now), 100.0)
        clock[0] = now = now + max(0.0 if math.isinf(step) else step, 1.0)
        outbox, sock.outbox = sock.outbox, []
        for datagram, _ in outbox:
            sizes.append(len(datagram))
            client.receive(datagram, SERVER_ADDR, now)
        for datagram in client.tick(now):
            sock.inbox.append((datagram, CLIENT_ADDR))
        ready = {sock.filenos()[0]} if sock.inbox else set()
        if pty.written == b"x" and not pty.output and not sock.refused:
            pty.output += "\r\n".join(lines).encode()  # the shell prints a screenful
            ready.add(pty.fd)
        received = client.latest_remote_state().data
        if all(line.encode() in received for line in lines):
            raise Finished
        if now > 1_000_000.0 + 20_000:
            raise Finished
        return ready, []

    monkeypatch.setattr(srv.loop, "wait", fake_wait)
    with pytest.raises(Finished):
        srv.run()
    received = client.latest_remote_state().data
    assert sock.refused >= 1, "the screen never needed a datagram over the link MTU"
    assert all(line.encode() in received for line in lines), "the screen never arrived"
    assert srv.transport.stats().datagrams_sent >= len(sizes) + sock.refused
    assert sizes and max(sizes) <= DEFAULT_SEND_MTU
    assert srv.endpoint.send_error is None  # later sends succeeded
