"""The frontends' wait: readable descriptors, signals and the deadline, whether the loop
polls epoll itself (Linux) or goes through the selector (elsewhere)."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from pymosh.frontend.loop import EventLoop


@pytest.fixture(params=["epoll", "selector"])
def loop(request):
    loop = EventLoop()
    if request.param == "epoll":
        if loop._epoll is None:
            if sys.platform.startswith("linux"):
                pytest.fail("no epoll under the selector on Linux")
            pytest.skip("epoll is Linux's")
    else:
        loop._epoll = None
    yield loop
    loop.close()


def test_readable_descriptors_and_the_deadline(loop):
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    try:
        loop.set_readers([r1, r2])
        t0 = time.monotonic()
        assert loop.wait(30) == (set(), [])
        assert time.monotonic() - t0 >= 0.029  # never early
        t0 = time.monotonic()
        assert loop.wait(0.2) == (set(), [])  # a fraction of a millisecond: rounded up
        assert time.monotonic() - t0 >= 0.0002
        os.write(w2, b"x")
        assert loop.wait(1000) == ({r2}, [])
        os.write(w1, b"x")
        assert loop.wait(float("inf")) == ({r1, r2}, [])
        assert loop.wait(-5) == ({r1, r2}, [])  # overdue: a poll, no wait
    finally:
        for fd in (r1, w1, r2, w2):
            os.close(fd)


def test_a_watched_signal_ends_an_endless_wait(loop):
    loop.watch_signals([signal.SIGUSR1])
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        assert loop.wait(float("inf")) == (set(), [signal.SIGUSR1])
        assert loop.wait(0) == (set(), [])  # the wake-up byte was drained
    finally:
        loop.restore_signals()
