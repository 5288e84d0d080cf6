"""A minimal selectors event loop driving a Transport over a real socket driver."""

from __future__ import annotations

import selectors
import time
from typing import Any, Callable

from pymosh.network.transport import Transport
from pymosh.network.udp import ClientSocket, ServerSocket, is_emsgsize


def monotonic_ms() -> float:
    return time.monotonic() * 1000.0


def turn(transport: Transport, sock: Any, now: float) -> None:
    """Receive everything pending, then send what is due (one event-loop turn)."""
    for datagram, addr, ce in sock.recv_all(now):
        transport.receive(datagram, addr, now, ce)
    peer = transport.remote_addr    # before tick(): a detaching send must still go out
    for datagram in transport.tick(now):
        if isinstance(sock, ServerSocket):
            if peer is None:
                continue
            err = sock.send(datagram, peer)
        else:
            err = sock.send(datagram)
        if is_emsgsize(err):
            transport.connection.emsgsize()
    if isinstance(sock, ClientSocket) and transport.connection.take_port_hop():
        sock.hop(now)


def drive(transport: Transport, sock: Any, done: Callable[[], bool], timeout_s: float,
          on_turn: Callable[[float], None] | None = None,
          clock: Callable[[], float] = monotonic_ms) -> bool:
    """Run turns until `done()` (True) or `timeout_s` wall seconds pass (False)."""
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as sel:
        registered: set = set()
        while True:
            now = clock()
            if on_turn is not None:
                on_turn(now)
            turn(transport, sock, now)
            if done():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            fds = set(sock.filenos())
            for fd in registered - fds:
                sel.unregister(fd)
            for fd in fds - registered:
                sel.register(fd, selectors.EVENT_READ)
            registered = fds
            wait = min(transport.wait_time(clock()), 50.0, remaining * 1000) / 1000.0
            sel.select(max(wait, 0))
