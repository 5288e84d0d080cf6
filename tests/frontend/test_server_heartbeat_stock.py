"""A real pymosh-server with a stock ``mosh-client``, idle: once the heartbeats are in phase
(after the client's first), the server wakes once per heartbeat interval, not twice, and the
client keeps hearing it (no "Last contact" notification).

Counts the server's wake-ups (voluntary context switches, /proc/PID/status) over a window.
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import termios
import time

import pytest
from bench.e2e.procstat import wakeups

from pymosh.network.sender import ACK_INTERVAL
from tests.support.servers import PYMOSH, start_server, stop_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SETTLE_S = 4.0  # the client's first heartbeat (3 s after connecting) brings the phase
WINDOW_S = 3 * ACK_INTERVAL / 1000  # three intervals


def _pump(master: int, seconds: float, out: list[bytes]) -> None:
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if select.select([master], [], [], left)[0]:
            try:
                out.append(os.read(master, 65536))
            except OSError:
                return


def test_an_idle_server_with_a_stock_client_wakes_once_per_interval(tmp_path):
    server = start_server(PYMOSH, str(tmp_path), ["sleep", "60"])
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = dict(os.environ, MOSH_KEY=server.key_text, TERM="xterm", LANG="C.UTF-8")
    client = subprocess.Popen(
        ["mosh-client", "127.0.0.1", str(server.port)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    screen: list[bytes] = []
    try:
        _pump(master, SETTLE_S, screen)
        before, start = wakeups(server.pid), time.monotonic()
        _pump(master, WINDOW_S, screen)
        after, window = wakeups(server.pid), time.monotonic() - start
        assert client.poll() is None, b"".join(screen)[-300:]
        assert before is not None and after is not None
        intervals = window * 1000 / ACK_INTERVAL
        # one wake-up per interval (Mosh's rhythm would be two: its own and the client's);
        # one spare for a heartbeat of the client's that came later than the hold
        assert after - before <= intervals + 1, f"{after - before} wake-ups in {window:.1f} s"
        assert b"Last contact" not in b"".join(screen)
    finally:
        client.kill()
        client.wait(timeout=5)
        os.close(master)
        stop_server(server)
