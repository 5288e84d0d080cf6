"""The end-to-end measurements, each on a started ``Session``."""

from __future__ import annotations

import errno
import os
import pty
import random
import select
import signal
import time

from .session import PROMPT, Session, SessionError

MARK = "ENDMARK"
# After each bulk command: leave alternate screen, reset SGR/scroll region/cursor/wrap,
# then go to the bottom row (DECSTBM homes the cursor) so the marker gets a fresh line.
RESET = r"printf '\033[0m\033[r\033[?1049l\033[?25h\033[?7h\033[999;1H\n'"


def latency(s: Session, n: int, rng: random.Random) -> dict:
    """Type ``n`` printable characters, one at a time; ms until each shows on the client."""
    samples: list[float] = []
    misses = 0
    line = 40
    typed = 0
    row = s.screen.cursor.y
    letters = "abcdefghijklmnopqrstuvwxyz"
    while len(samples) + misses < n:
        if typed == line:
            s.send(b"\x15")  # Ctrl-U: clear the line
            if s.wait_until(s.at_prompt, 3.0) is None:
                raise SessionError("line not cleared after Ctrl-U")
            typed = 0
            row = s.screen.cursor.y
            time.sleep(0.02)
        ch = letters[(len(samples) + misses) % 26]
        col = len(PROMPT) + typed

        def shown(ch=ch, col=col, row=row) -> bool:
            return s.screen.buffer[row][col].data == ch

        t0 = s.send(ch.encode())
        t1 = s.wait_until(shown, 2.0)
        typed += 1
        if t1 is None:
            misses += 1
        else:
            samples.append((t1 - t0) * 1000.0)
        # let trailing frames settle, then a human-ish pause
        s.drain(quiet=0.005, limit=0.1)
        time.sleep(rng.uniform(0.01, 0.03))
    s.send(b"\x15")
    s.wait_until(s.at_prompt, 3.0)
    return {"samples_ms": samples, "misses": misses}


def floor_latency(n: int, rng: random.Random) -> dict:
    """The same measurement on a bare pty running ``cat`` (kernel echo): the floor."""
    pid, master = pty.fork()
    if pid == 0:
        try:
            os.execvp("cat", ["cat"])
        finally:
            os._exit(127)
    samples = []
    try:
        time.sleep(0.1)
        for i in range(n):
            ch = b"abcdefghijklmnopqrstuvwxyz"[i % 26 : i % 26 + 1]
            t0 = time.perf_counter()
            os.write(master, ch)
            got = b""
            while ch not in got:
                r, _, _ = select.select([master], [], [], 2.0)
                if not r:
                    break
                got += os.read(master, 1024)
            samples.append((time.perf_counter() - t0) * 1000.0)
            if i % 40 == 39:
                os.write(master, b"\n")
                time.sleep(0.01)
                try:
                    os.read(master, 4096)
                except OSError as e:
                    if e.errno != errno.EAGAIN:
                        raise
            time.sleep(rng.uniform(0.01, 0.03))
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(master)
    return {"samples_ms": samples, "misses": 0}


def marker_shown(s: Session) -> bool:
    y = s.screen.cursor.y
    return y > 0 and s.at_prompt() and s.row(y - 1).rstrip() == MARK


def bulk(s: Session, command: str, timeout: float) -> dict:
    """Run ``command`` in the remote shell; wall time until the marker and prompt show."""
    s.drain(quiet=0.1, limit=1.0)
    before_net = s.relay_stats()
    sc0, cc0 = s.cpu()
    line = f"{command}; {RESET}; echo {MARK[:3]}''{MARK[3:]}\r"
    t0 = s.send(line.encode())
    t1 = s.wait_until(lambda: marker_shown(s), timeout)
    if t1 is None:
        raise SessionError(f"timeout after {timeout:.0f} s: {command}")
    sc1, cc1 = s.cpu()
    after_net = s.relay_stats()
    # clear the screen for the next run so an old marker can never match
    s.send(b"clear\r")
    s.wait_until(lambda: s.at_prompt() and s.screen.cursor.y == 0, 5.0)
    return {
        "wall_s": t1 - t0,
        "server_cpu_s": _delta(sc0, sc1),
        "client_cpu_s": _delta(cc0, cc1),
        "wire_s2c_bytes": after_net["s2c_bytes"] - before_net["s2c_bytes"],
        "wire_c2s_bytes": after_net["c2s_bytes"] - before_net["c2s_bytes"],
        "wire_s2c_packets": after_net["s2c_packets"] - before_net["s2c_packets"],
        "wire_c2s_packets": after_net["c2s_packets"] - before_net["c2s_packets"],
    }


def idle(s: Session, seconds: float) -> dict:
    """Packets per second each way and CPU while nothing happens."""
    s.drain(quiet=0.3, limit=2.0)
    n0 = s.relay_stats()
    sc0, cc0 = s.cpu()
    t0 = time.perf_counter()
    end = t0 + seconds
    while time.perf_counter() < end:
        s.pump(end - time.perf_counter())
    dt = time.perf_counter() - t0
    n1 = s.relay_stats()
    sc1, cc1 = s.cpu()
    return {
        "seconds": dt,
        "c2s_packets": n1["c2s_packets"] - n0["c2s_packets"],
        "s2c_packets": n1["s2c_packets"] - n0["s2c_packets"],
        "server_cpu_s": _delta(sc0, sc1),
        "client_cpu_s": _delta(cc0, cc1),
        "c2s_pps": (n1["c2s_packets"] - n0["c2s_packets"]) / dt,
        "s2c_pps": (n1["s2c_packets"] - n0["s2c_packets"]) / dt,
        "server_cpu_pct": 100.0 * _delta(sc0, sc1) / dt
        if sc0 is not None and sc1 is not None
        else None,
        "client_cpu_pct": 100.0 * _delta(cc0, cc1) / dt
        if cc0 is not None and cc1 is not None
        else None,
    }


def _delta(a, b):
    return None if a is None or b is None else b - a
