"""A minimal selectors event loop driving a Transport through the shipped `Endpoint`."""

from __future__ import annotations

import selectors
import time
from typing import Any, Callable

from pymosh.network.endpoint import DatagramChannel, Endpoint


def monotonic_ms() -> float:
    return time.monotonic() * 1000.0


def drive(
    transport: Any,
    channel: DatagramChannel,
    done: Callable[[], bool],
    timeout_s: float,
    on_turn: Callable[[float], None] | None = None,
    clock: Callable[[], float] = monotonic_ms,
) -> bool:
    """Run turns until `done()` (True) or `timeout_s` wall seconds pass (False)."""
    endpoint = Endpoint(transport, channel)
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as sel:
        registered: set = set()
        while True:
            now = clock()
            if on_turn is not None:
                on_turn(now)
            endpoint.turn(now)
            if done():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            fds = set(endpoint.filenos())
            for fd in registered - fds:
                sel.unregister(fd)
            for fd in fds - registered:
                sel.register(fd, selectors.EVENT_READ)
            registered = fds
            wait = min(endpoint.wait_time(clock()), 50.0, remaining * 1000) / 1000.0
            sel.select(max(wait, 0))
