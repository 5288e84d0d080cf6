"""pymosh-server's wait for the pty's echo after writing user input (ECHO_WAIT)."""

from __future__ import annotations

import os
import threading
import time
from types import SimpleNamespace

import pymosh.frontend.server as server_mod


def _server_on(fd: int) -> server_mod.Server:
    srv = object.__new__(server_mod.Server)
    srv.pty = SimpleNamespace(fd=fd)  # type: ignore[assignment]
    srv.pty_open = True
    return srv


def test_echo_wait_returns_as_soon_as_the_pty_answers():
    r, w = os.pipe()
    try:
        srv = _server_on(r)
        threading.Timer(0.0005, os.write, (w, b"a")).start()
        t0 = time.monotonic()
        assert srv._pty_answers_within(500)
        assert time.monotonic() - t0 < 0.4
    finally:
        os.close(r)
        os.close(w)


def test_echo_wait_is_bounded_and_can_be_disabled():
    r, w = os.pipe()
    try:
        srv = _server_on(r)
        t0 = time.monotonic()
        assert not srv._pty_answers_within(server_mod.ECHO_WAIT)
        assert time.monotonic() - t0 < 0.5
        os.write(w, b"x")
        assert not srv._pty_answers_within(0)  # 0 = no wait at all
        srv.pty_open = False
        assert not srv._pty_answers_within(5)
    finally:
        os.close(r)
        os.close(w)


def _released() -> server_mod.Server:
    srv = object.__new__(server_mod.Server)
    srv.first_output_due = True  # as the first client state's release leaves it
    srv.start_frames, srv.start_until = 0, -float("inf")
    return srv


def test_the_shells_first_reads_go_out_at_once_a_bounded_few():
    srv = _released()
    assert srv._start_output(1000.0)  # the first output, whenever it comes
    # the prompt's later writes (bash: bracketed paste on, then the prompt) soon after it
    assert [srv._start_output(1000.0 + t) for t in (0.2, 5, 10, 12)] == [True] * 3 + [False]
    assert not srv.first_output_due


def test_reads_after_the_start_window_keep_the_frame_interval():
    srv = _released()
    assert srv._start_output(500.0)
    assert not srv._start_output(500.0 + server_mod.START_WINDOW + 1)
    late = _released()
    assert late._start_output(90_000.0)  # a slow shell's first output is still sent at once


class _PipePty:
    """A pty stand-in: reads come from a pipe, ``size`` bytes at most (a tty buffer)."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd, self.size = fd, size

    def read(self) -> bytes:
        return os.read(self.fd, self.size)


class _Recorder:
    def __init__(self) -> None:
        self.fed: list[bytes] = []

    def act(self, data: bytes) -> bytes:
        self.fed.append(data)
        return b""


def _reading_server(fd: int, size: int) -> server_mod.Server:
    srv = _server_on(fd)
    srv.pty = _PipePty(fd, size)  # type: ignore[assignment]
    srv.terminal = _Recorder()  # type: ignore[assignment]
    srv.history = srv.archive = None
    return srv


def test_bulk_output_is_read_in_batches_of_full_reads():
    r, w = os.pipe()
    try:
        srv = _reading_server(r, 4096)
        data = bytes(range(256)) * 40  # 10 KiB waiting: two full reads and the rest
        os.write(w, data)
        assert srv._read_pty(0.0)
        assert b"".join(srv.terminal.fed) == data  # type: ignore[attr-defined]
        assert len(srv.terminal.fed) == 3  # type: ignore[attr-defined]
    finally:
        os.close(r)
        os.close(w)


def test_a_short_read_ends_the_batch_and_batches_are_bounded():
    r, w = os.pipe()
    try:
        srv = _reading_server(r, 4096)
        os.write(w, b"$ ")  # a prompt: one read, whatever follows waits for the next turn
        assert srv._read_pty(0.0)
        os.write(w, b"x" * 100)
        assert srv.terminal.fed == [b"$ "]  # type: ignore[attr-defined]
        srv._read_pty(0.0)
        bounded = _reading_server(r, server_mod.FULL_READ)
        os.write(w, b"y" * 60_000)
        assert bounded._read_pty(0.0)
        fed = bounded.terminal.fed  # type: ignore[attr-defined]
        assert len(fed) == 1 + server_mod.MORE_READS
        assert sum(map(len, fed)) == (1 + server_mod.MORE_READS) * server_mod.FULL_READ
    finally:
        os.close(r)
        os.close(w)
