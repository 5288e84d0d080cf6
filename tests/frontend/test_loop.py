"""The frontends' event loop (epoll, a wake-up pipe, ``_signal``): descriptors, signals and
deadlines, as the client and the server use it."""

from __future__ import annotations

import os
import signal
import time

from pymosh.frontend.loop import EventLoop, write_all


def test_a_watched_signal_ends_the_wait_and_is_reported_once():
    loop = EventLoop()
    previous = signal.getsignal(signal.SIGUSR1)
    try:
        loop.watch_signals([signal.SIGUSR1])
        os.kill(os.getpid(), signal.SIGUSR1)
        start = time.monotonic()
        ready, signals = loop.wait(5000)
        assert signals == [signal.SIGUSR1] and ready == set()
        assert time.monotonic() - start < 2.0
        assert loop.wait(0) == (set(), [])  # the wake-up pipe was drained
    finally:
        loop.close()
    assert signal.getsignal(signal.SIGUSR1) == previous  # restored on close


def test_wait_returns_readable_descriptors_and_honours_the_deadline():
    loop = EventLoop()
    r, w = os.pipe()
    try:
        loop.set_readers([r])
        start = time.monotonic()
        assert loop.wait(30) == (set(), [])
        assert time.monotonic() - start >= 0.025
        os.write(w, b"x")
        assert loop.wait(1000) == ({r}, [])
        assert loop.watched() == {r}
    finally:
        loop.close()
        os.close(r)
        os.close(w)


def test_a_reader_closed_before_it_is_dropped_is_forgotten_quietly():
    loop = EventLoop()
    r, w = os.pipe()
    loop.set_readers([r])
    os.close(r)
    os.close(w)
    loop.set_readers([])  # epoll already forgot the closed descriptor: no error
    assert loop.watched() == set()
    loop.close()


def test_write_all_waits_for_a_full_pipe_to_drain():
    r, w = os.pipe()
    os.set_blocking(w, False)
    data = bytes(range(256)) * 1024  # more than a pipe holds
    pid = os.fork()
    if pid == 0:  # the reader, slower than the writer
        try:
            os.close(w)
            got = bytearray()
            while len(got) < len(data):
                time.sleep(0.001)
                got += os.read(r, 65536)
            os._exit(0 if bytes(got) == data else 1)
        finally:
            os._exit(2)
    os.close(r)
    try:
        write_all(w, data)
    finally:
        os.close(w)
    assert os.waitpid(pid, 0)[1] == 0
