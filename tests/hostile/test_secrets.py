"""The session key never shows: not in argv (/proc/PID/cmdline) of server or client,
not in the server's -v log, and MOSH_KEY is gone from the client's environment once
read.  Stock mosh-server is the reference for the server side."""

from __future__ import annotations

import fcntl
import os
import random
import select
import socket
import struct
import subprocess
import sys
import termios
import time

import pytest

from tests.hostile.miniclient import LOOPBACK, connect, roundtrip
from tests.support.procs import children_of, pid_alive, read_proc
from tests.support.servers import PYMOSH, STOCK, cat_command, start_server, stop_server

SERVERS = [pytest.param(STOCK, marks=pytest.mark.interop), PYMOSH]


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


@pytest.mark.e2e
@pytest.mark.parametrize("kind", SERVERS)
def test_server_key_not_in_argv_or_verbose_log(kind, tmp_path):
    server = start_server(kind, str(tmp_path), cat_command(str(tmp_path / "typed")), verbose=True)
    try:
        key = server.key_text.encode()
        client = connect(server)
        roundtrip(server, client, b"secret? ")
        # provoke the error paths of the log too
        attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rng = random.Random(5)
        for _ in range(50):
            attacker.sendto(rng.randbytes(rng.randrange(0, 100)), (LOOPBACK, server.port))
        attacker.sendto(client.sent[0], (LOOPBACK, server.port))
        attacker.close()
        client.pump(0.5)
        roundtrip(server, client, b"done")
        for pid in [server.pid] + children_of(server.pid):
            assert key not in read_proc(pid, "cmdline")
        log = _read(server.stderr_path)
        assert log, "verbose server logged nothing at all"
        assert key not in log
        assert key.decode() not in log.decode("utf-8", "replace")
        # the key is printed exactly once, on stdout, for the wrapper
        assert _read(os.path.join(server.workdir, "server.stdout")).count(key) == 1
        client.close()
    finally:
        stop_server(server)


def _spawn_client(argv, key_text: str):
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    import pymosh

    env = {k: v for k, v in os.environ.items() if not k.startswith("MOSH_")}
    env.update(
        MOSH_KEY=key_text,
        LANG="C.UTF-8",
        TERM="xterm",
        PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(pymosh.__file__))),
    )
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    return proc, master


def _drain(master: int, seconds: float) -> bytes:
    out = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                out += os.read(master, 65536)
            except OSError:
                break
    return out


@pytest.fixture
def pymosh_client(tmp_path):
    """A pymosh-client on a pty, connected to a pymosh-server."""
    server = start_server(PYMOSH, str(tmp_path), cat_command(str(tmp_path / "typed")))
    proc, master = _spawn_client(
        [sys.executable, "-m", "pymosh.frontend.client", LOOPBACK, str(server.port)],
        server.key_text,
    )
    try:
        screen = _drain(master, 1.0)
        # it really is running and talking to the server (the shell was released)
        deadline = time.monotonic() + 10
        while not os.path.exists(server.output_path) and time.monotonic() < deadline:
            screen += _drain(master, 0.1)
        assert proc.poll() is None, screen
        assert os.path.exists(server.output_path), screen
        yield server, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.close(master)
        stop_server(server)
        assert not pid_alive(proc.pid)


@pytest.mark.e2e
def test_client_key_not_in_argv(pymosh_client):
    server, proc = pymosh_client
    assert server.key_text.encode() not in read_proc(proc.pid, "cmdline")


@pytest.mark.e2e
def test_client_environ_has_no_key_once_read(pymosh_client):
    server, proc = pymosh_client
    environ = read_proc(proc.pid, "environ")
    assert b"MOSH_KEY=" not in environ
    assert server.key_text.encode() not in environ
