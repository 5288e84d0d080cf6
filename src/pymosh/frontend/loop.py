"""A selectors-based wait for the frontends: file descriptors + signals + a deadline.

The sans-I/O cores say how long they can wait (``wait_time(now)``); the frontends pass
the minimum here. No polling: ``wait`` sleeps in ``select`` until a descriptor is
readable, a watched signal arrives (through ``signal.set_wakeup_fd``) or the timeout ends.
"""

from __future__ import annotations

import math
import os
import selectors
import signal
import socket
import time
from typing import Iterable


def now_ms() -> float:
    """The monotonic clock in milliseconds (frozen by the caller once per loop turn)."""
    return time.monotonic() * 1000.0


class EventLoop:
    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._wake_fd = self._wake_r.fileno()
        # Linux: the epoll object under the selector, polled directly (an idle session's
        # wake-up then runs no selectors code; its registrations stay the selector's)
        self._epoll = (
            getattr(self.selector, "_selector", None)
            if isinstance(self.selector, selectors.EpollSelector)
            else None
        )
        self._signals: list[int] = []
        self._readers: set[int] | None = None  # what set_readers last made watched
        self._previous: dict[int, object] = {}
        self._old_wakeup: int | None = None

    # ---------------------------------------------------------------- registration

    def add_reader(self, fd: int) -> None:
        self._readers = None
        self.selector.register(fd, selectors.EVENT_READ, fd)

    def remove_reader(self, fd: int) -> None:
        self._readers = None
        try:
            self.selector.unregister(fd)
        except (KeyError, ValueError):
            pass

    def set_readers(self, fds: Iterable[int]) -> None:
        """Make exactly ``fds`` (plus the signal wake-up) the watched descriptors."""
        wanted = set(fds)
        if wanted == self._readers:
            return  # the usual turn: the same descriptors as the last one
        current = {key.data for key in self.selector.get_map().values() if key.data is not None}
        for fd in current - wanted:
            self.remove_reader(fd)
        for fd in wanted - current:
            self.add_reader(fd)
        self._readers = wanted

    def watch_signals(self, signals: Iterable[int]) -> None:
        """Record these signals for ``wait`` to return instead of running default actions."""
        self._old_wakeup = signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        for signum in signals:
            self._previous[signum] = signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: object) -> None:
        self._signals.append(signum)

    def restore_signals(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()
        if self._old_wakeup is not None:
            signal.set_wakeup_fd(self._old_wakeup)
            self._old_wakeup = None

    # ---------------------------------------------------------------- waiting

    def wait(self, timeout_ms: float) -> tuple[set[int], list[int]]:
        """Sleep up to ``timeout_ms``; return (readable fds, signals received)."""
        if self._epoll is None:
            return self._wait_selector(timeout_ms)
        if self._signals or timeout_ms <= 0:
            timeout = 0.0
        elif timeout_ms == math.inf:
            timeout = -1.0
        else:  # whole milliseconds, rounded up like the selector
            timeout = math.ceil(timeout_ms) * 1e-3
        ready: set[int] = set()
        try:
            events = self._epoll.poll(timeout)
        except InterruptedError:
            events = []
        for fd, _ in events:
            if fd == self._wake_fd:
                self._drain_wakeup()
            else:
                ready.add(fd)
        signals, self._signals = self._signals, []
        return ready, signals

    def _wait_selector(self, timeout_ms: float) -> tuple[set[int], list[int]]:
        timeout = None if math.isinf(timeout_ms) else max(timeout_ms, 0) / 1000.0
        if self._signals:
            timeout = 0
        ready: set[int] = set()
        for key, _ in self.selector.select(timeout):
            if key.data is None:
                self._drain_wakeup()
            else:
                ready.add(key.data)
        signals, self._signals = self._signals, []
        return ready, signals

    def _drain_wakeup(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        self.restore_signals()
        self.selector.close()
        self._wake_r.close()
        self._wake_w.close()


def write_all(fd: int, data: bytes) -> None:
    """Write every byte to a blocking or non-blocking fd (waiting when it is full)."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            _wait_writable(fd)


def _wait_writable(fd: int) -> None:
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_WRITE)
        sel.select(1.0)
