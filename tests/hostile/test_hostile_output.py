"""Hostile output from the remote program, through a live server: random bytes, giant
CSI parameters and an endless OSC string.  The server stays up, its RSS stays bounded
and it still delivers the screen afterwards."""

from __future__ import annotations

import time

import pytest

from tests.hostile.miniclient import connect
from tests.support.servers import PYMOSH, STOCK, start_server, stop_server

SERVERS = [pytest.param(STOCK, marks=pytest.mark.interop), PYMOSH]

GENERATOR = r"""
import random, sys, time
out = sys.stdout.buffer
rng = random.Random(4)
for _ in range(16):                                   # 1 MB of random bytes
    out.write(rng.randbytes(65536))
out.write(b"\x18\x1b[" + b"1234567890;" * 100000 + b"m")   # a 1.1 MB CSI parameter list
out.write(b"\x1b]0;")                                  # 20 MB of OSC without terminator
chunk = b"A" * 65536
for _ in range(320):
    out.write(chunk)
out.write(b"\x07\x18\x1b[0m\x1b[2J\x1b[H")
out.flush()
time.sleep(0.5)
out.write(b"MARKER-" + b"OK\r\n")
out.flush()
time.sleep(120)
"""


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("kind", SERVERS)
def test_server_survives_hostile_output(kind, tmp_path):
    script = tmp_path / "gen.py"
    script.write_text(GENERATOR)
    server = start_server(kind, str(tmp_path), ["python3", str(script)])
    client = None
    try:
        rss0 = server.rss_kb()
        client = connect_to_program(server)
        peak = rss0
        deadline = time.monotonic() + 60
        while b"MARKER-OK" not in client.host_bytes:
            assert time.monotonic() < deadline, "the screen after the storm never arrived"
            assert server.alive()
            client.pump(0.2)
            client.send_state()  # keep acking so diffs stay small
            peak = max(peak, server.rss_kb())
        assert server.alive()
        # 22 MB went through the pty: memory must not follow it
        assert peak - rss0 < 48 * 1024, (rss0, peak)
    finally:
        if client is not None:
            client.close()
        stop_server(server)
        assert not server.alive()


def connect_to_program(server):
    """connect() waits for a file the `cat` program writes; this program writes none."""
    open(server.output_path, "wb").close()
    return connect(server)
