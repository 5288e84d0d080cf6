"""An epoll-based wait for the frontends: file descriptors + signals + a deadline.

The sans-I/O cores say how long they can wait (``wait_time(now)``); the frontends pass
the minimum here. No polling: ``wait`` sleeps in ``epoll_wait`` until a descriptor is
readable, a watched signal arrives (through ``signal.set_wakeup_fd``) or the timeout ends.

On pymosh-client's start-up path: ``select.epoll`` and a pipe rather than ``selectors``
and a socket pair, and ``_signal`` (what ``signal`` wraps), so that neither ``socket``,
``selectors`` nor ``enum`` is imported before the first datagram.
"""

from __future__ import annotations

import math
import os
import select
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from typing import Iterable
else:
    import _signal as signal  # signal.py's functions without its enum classes


def now_ms() -> float:
    """The monotonic clock in milliseconds (frozen by the caller once per loop turn)."""
    return time.monotonic() * 1000.0


class EventLoop:
    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._watched: set[int] = set()  # registered descriptors besides the wake-up
        self._signals: list[int] = []
        self._readers: set[int] | None = None  # what set_readers last made watched
        self._previous: dict[int, object] = {}
        self._old_wakeup: int | None = None

    # ---------------------------------------------------------------- registration

    def add_reader(self, fd: int) -> None:
        self._readers = None
        self._epoll.register(fd, select.EPOLLIN)
        self._watched.add(fd)

    def remove_reader(self, fd: int) -> None:
        self._readers = None
        if fd in self._watched:
            self._watched.discard(fd)
            try:
                self._epoll.unregister(fd)
            except OSError:
                pass  # already closed (epoll dropped it)

    def watched(self) -> set[int]:
        """The descriptors ``wait`` watches now (besides its own wake-up)."""
        return set(self._watched)

    def set_readers(self, fds: Iterable[int]) -> None:
        """Make exactly ``fds`` (plus the signal wake-up) the watched descriptors."""
        wanted = set(fds)
        if wanted == self._readers:
            return  # the usual turn: the same descriptors as the last one
        current = set(self._watched)
        for fd in current - wanted:
            self.remove_reader(fd)
        for fd in wanted - current:
            self.add_reader(fd)
        self._readers = wanted

    def watch_signals(self, signals: Iterable[int]) -> None:
        """Record these signals for ``wait`` to return instead of running default actions."""
        self._old_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
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
        timeout = -1.0 if math.isinf(timeout_ms) else max(timeout_ms, 0) / 1000.0
        if self._signals:
            timeout = 0
        ready: set[int] = set()
        for fd, _ in self._epoll.poll(timeout):
            if fd == self._wake_r:
                try:
                    while os.read(self._wake_r, 4096):
                        pass
                except BlockingIOError:
                    pass
            else:
                ready.add(fd)  # readable, or hung up / in error: the read will say
        signals, self._signals = self._signals, []
        return ready, signals

    def close(self) -> None:
        self.restore_signals()
        self._epoll.close()
        os.close(self._wake_r)
        os.close(self._wake_w)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte to a blocking or non-blocking fd (waiting when it is full)."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            _wait_writable(fd)


def _wait_writable(fd: int) -> None:
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    poller.poll(1000)
