"""Fault injection against a live server (stock mosh-server 1.4.0 and pymosh-server): heavy loss, a roam, a long blackout.

Our client stack (Connection + Transport + UserStream, real UDP) talks to stock
`mosh-server` through `tests.support.relay.UdpRelay`. The server runs
`stty raw -echo; printf READY; exec cat > FILE`, so FILE receives exactly the bytes the
server wrote to its pty: it must end up holding every typed byte, once, in order.
Typing is a fast paste-like stream of random-sized bursts (no sleep per key); the
transport batches whatever is pending into each frame.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from pymosh.network.connection import Connection
from pymosh.network.sender import ACK_DELAY, ACK_INTERVAL
from pymosh.network.transport import Transport
from pymosh.network.udp import ClientSocket
from pymosh.statesync.user_stream import UserStream
from tests.support.drive import drive, monotonic_ms
from tests.support.host_state import RawHostState
from tests.support.relay import RelayImpairment, UdpRelay

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("mosh-server") is None, reason="mosh-server not installed"),
]

CONNECT = re.compile(rb"MOSH CONNECT (\d+) ([A-Za-z0-9/+]{22})\s*$", re.M)
DETACHED = re.compile(rb"\[(?:py)?mosh-server detached, pid = (\d+)\]")
# the same faults against stock mosh-server 1.4.0 and against pymosh-server
SERVERS = {
    "stock": ["mosh-server"],
    "pymosh": [sys.executable, "-m", "pymosh.frontend.server"],
}
KEYS = 10_000
RATE = 2500  # bytes per second the typist aims for (a brisk paste)
BURST_MAX = 120  # burst sizes 1..BURST_MAX


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


@pytest.fixture(params=sorted(SERVERS))
def raw_cat_server(request, tmp_path):
    """`mosh-server new -p 0 -- sh -c 'stty raw -echo; printf READY; exec cat > FILE'`."""
    out_file = tmp_path / "typed"
    env = dict(os.environ, LANG="C.UTF-8")
    env.pop("LC_ALL", None)
    script = f"stty raw -echo; printf READY; exec cat > '{out_file}'"
    proc = subprocess.run(
        [*SERVERS[request.param], "new", "-p", "0", "--", "sh", "-c", script],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        timeout=20,
    )
    m = CONNECT.search(proc.stdout)
    d = DETACHED.search(proc.stderr)
    assert m and d, (proc.stdout, proc.stderr)
    pid = int(d.group(1))
    try:
        yield int(m.group(1)), m.group(2).decode(), out_file
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
            end = time.monotonic() + 5
            while _alive(pid) and time.monotonic() < end:
                time.sleep(0.05)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


class Typist:
    """Types `text` as random-sized bursts at about RATE bytes/s (called once per turn)."""

    def __init__(self, client: Transport, text: bytes, seed: int) -> None:
        self.client = client
        self.text = text
        self.rng = random.Random(seed)
        self.pos = 0
        self.stop_at = len(text)
        self.started: float | None = None
        self.base = 0

    def resume(self, stop_at: int) -> None:
        self.stop_at = min(stop_at, len(self.text))
        self.started = None

    def __call__(self, now: float) -> None:
        if self.pos >= self.stop_at:
            return
        if self.started is None:
            self.started, self.base = now, self.pos
        target = self.base + (now - self.started) * RATE / 1000
        while self.pos < min(target, self.stop_at):
            n = min(self.rng.randint(1, BURST_MAX), self.stop_at - self.pos)
            self.client.current_state.push_keystroke(self.text[self.pos : self.pos + n])
            self.pos += n

    @property
    def done(self) -> bool:
        return self.pos >= self.stop_at


def _session(port: int, key: str):
    sock = ClientSocket(("127.0.0.1", port), monotonic_ms())
    conn = Connection(key, False, sock.server_addr, now=monotonic_ms())
    client = Transport(UserStream(), RawHostState(), conn, monotonic_ms())
    client.current_state.push_resize(80, 24)
    return sock, client


def _wait_ready(client, sock) -> None:
    # the shell has put the pty in raw mode once READY is on the screen
    assert drive(client, sock, lambda: b"READY" in client.latest_remote_state().data, 20), (
        "mosh-server's shell never became ready"
    )


def _file_has(out_file, n: int) -> bool:
    return out_file.exists() and out_file.stat().st_size >= n


def _text(seed: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(0x20, 0x7F) for _ in range(KEYS))


LOSSY = dict(delay_ms=10, jitter_ms=10, loss=0.3, duplicate=0.1, reorder=0.2)


@pytest.mark.slow
def test_10k_keystrokes_through_30pct_loss_and_a_roam(raw_cat_server):
    port, key, out_file = raw_cat_server
    text = _text(1)
    up, down = RelayImpairment(**LOSSY), RelayImpairment(**LOSSY)
    with UdpRelay(port, up, down, seed=5, lifetime_s=120) as relay:
        sock, client = _session(relay.listen_port, key)
        try:
            _wait_ready(client, sock)
            typist = Typist(client, text, seed=2)
            typist.resume(KEYS // 2)
            assert drive(client, sock, lambda: typist.done, 30, on_turn=typist)
            # NAT rebinding mid-stream: the server sees the client at a new port
            old_port = relay.upstream.getsockname()[1]
            new_port = relay.switch_port()
            assert new_port != old_port
            typist.resume(KEYS)
            t0 = time.monotonic()
            assert drive(
                client,
                sock,
                lambda: typist.done and client.all_acked() and _file_has(out_file, KEYS),
                60,
                on_turn=typist,
            ), (
                typist.pos,
                client.sent_state_acked,
                client.sent_state_last,
                out_file.stat().st_size if out_file.exists() else None,
            )
            elapsed = time.monotonic() - t0
            got = out_file.read_bytes()
            assert len(got) == KEYS and got == text
            assert relay.stats["dropped"] > 0.2 * (relay.stats["up"] + relay.stats["down"])
            # the server followed the roam: its replies kept arriving on the new path
            assert client.connection.dropped == 0
            assert elapsed < 30
        finally:
            sock.close()


@pytest.mark.slow
def test_10k_keystrokes_survive_a_60s_blackout(raw_cat_server):
    port, key, out_file = raw_cat_server
    text = _text(3)
    up, down = RelayImpairment(**LOSSY), RelayImpairment(**LOSSY)
    with UdpRelay(port, up, down, seed=9, lifetime_s=200) as relay:
        sock, client = _session(relay.listen_port, key)
        conn = client.connection
        try:
            _wait_ready(client, sock)
            typist = Typist(client, text, seed=4)
            half = KEYS // 2
            typist.resume(half)
            assert drive(
                client,
                sock,
                lambda: typist.done and client.all_acked() and _file_has(out_file, half),
                30,
                on_turn=typist,
            )
            assert out_file.read_bytes() == text[:half]

            # the network goes dark for 60 s; the user keeps typing for a moment
            relay.blackout(60)
            dark_end = relay.dark_until
            typist.resume(half + 500)
            hops_before = len(sock.sockets)
            assert drive(client, sock, lambda: typist.done, 10, on_turn=typist)
            # ...and the rest of the blackout passes idle (heartbeats and port hops only);
            # midway the path changes too (the server will see a new port afterwards)
            assert not drive(client, sock, lambda: False, 30)
            relay.switch_port()
            assert drive(
                client, sock, lambda: time.monotonic() >= dark_end, dark_end - time.monotonic() + 1
            )
            assert not client.all_acked()
            assert len(sock.sockets) > hops_before  # the client hopped ports (§3.6)
            assert _file_has(out_file, half) and not _file_has(out_file, half + 1)

            # The link comes back clean for the resume measurement (so the bound is
            # deterministic): the next heartbeat (≤ 3 s) carries the pending keys, the
            # server (detached after 40 s) re-attaches and acks.
            up.loss = down.loss = 0.0
            bound_ms = ACK_INTERVAL + conn.timeout() + ACK_DELAY + 400
            assert drive(client, sock, lambda: client.all_acked(), 10)
            resumed_ms = (time.monotonic() - dark_end) * 1000
            print(f"resumed {resumed_ms:.0f} ms after the blackout (bound {bound_ms} ms)")
            assert resumed_ms <= bound_ms, (resumed_ms, bound_ms)

            # back to 30 % loss for the rest of the text
            up.loss = down.loss = LOSSY["loss"]
            typist.resume(KEYS)
            assert drive(
                client,
                sock,
                lambda: typist.done and client.all_acked() and _file_has(out_file, KEYS),
                60,
                on_turn=typist,
            ), (typist.pos, client.sent_state_acked, client.sent_state_last)
            got = out_file.read_bytes()
            assert len(got) == KEYS and got == text
            assert conn.dropped == 0
        finally:
            sock.close()
