"""Keystroke-trace replay over an impaired link: how soon does each keystroke show?

    python -m bench.trace_replay [--client 'mosh=mosh-client {ip} {port}' ...] [--server CMD]
                                 [--delays 50,100,250] [--losses 0,5]
                                 [--traces shell,vi,password,less] [--json out]

By default every configuration is run with both stock ``mosh-client`` and
``pymosh-client`` (``--client`` may be repeated, ``LABEL=COMMAND``), each against a fresh
session of the same server (``--server``, default stock ``mosh-server``; e.g.
``--server 'python3 -m pymosh.frontend.server'``). ``PYTHONPATH`` is passed through.

For each trace (``bench/traces/*.json``) the program is first run directly in a pty to
record the *reference screens* S_k (the screen once keystroke k has been handled). Then
a stock ``mosh-server`` runs the same program, a UDP relay on 127.0.0.1 adds one-way
delay and loss, and the client command (any program taking ``{ip} {port}`` and
``MOSH_KEY``) runs in a pty whose output is fed into a pymosh ``Emulator``. Keystrokes are
written on schedule; keystroke k counts as *shown* the first time the client's screen
(text + cursor) changes into some S_j with j >= k. A cell showing a character that no
reference screen ever has at that place counts as a *wrong character* (misprediction;
an over-estimate for full-screen programs, whose mid-redraw frames can also trip it).
Keys that change nothing on the reference screen (a password typed with echo off) are
left out of the latency figures and counted as ``invisible``.
"""

from __future__ import annotations

import argparse
import fcntl
import heapq
import json
import os
import pty
import random
import re
import selectors
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from dataclasses import dataclass, field

from pymosh.terminal.emulator import Emulator

HERE = os.path.dirname(os.path.abspath(__file__))
TRACES = os.path.join(HERE, "traces")
WIDTH, HEIGHT = 80, 24
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": os.environ.get("HOME", "/tmp"),
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TERM": "xterm-256color",
    "PS1": "$ ",
    "LESSHISTFILE": "-",
}
if os.environ.get("PYTHONPATH"):  # so that a client/server run as ``python3 -m ...`` imports
    BASE_ENV["PYTHONPATH"] = os.pathsep.join(
        os.path.abspath(x) for x in os.environ["PYTHONPATH"].split(os.pathsep) if x
    )
# pymosh's own settings pass through (a test suite's PYMOSH_FORKER=0 and private state
# directory: no session forker left running in the user's real one)
BASE_ENV.update((k, v) for k, v in os.environ.items() if k.startswith("PYMOSH_"))
SHOW_WRONG = bool(os.environ.get("TRACE_SHOW_WRONG"))  # print each screen with a wrong char
DEFAULT_CLIENTS = [
    "mosh=mosh-client {ip} {port}",
    f"pymosh={sys.executable} -m pymosh.frontend.client {{ip}} {{port}}",
]


def now_ms() -> float:
    return time.monotonic() * 1000.0


# -- traces -------------------------------------------------------------------------------
@dataclass
class Trace:
    name: str
    command: list[str]
    keystrokes: list[tuple[float, bytes]]  # (gap before it in ms, bytes written at once)
    setup: str = ""


# start every program on a cleared screen (mosh-server's session starts one row lower)
CLEAR_THEN = ["sh", "-c", 'sleep 0.3; printf \'\\033[H\\033[2J\'; exec "$0" "$@"']


def load_trace(path: str) -> Trace:
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    keys: list[tuple[float, bytes]] = []
    pause = 0.0
    for event in spec["events"]:
        kind = event["type"]
        if kind == "pause":
            pause += event["ms"]
            continue
        atoms = list(event["text"]) if kind == "text" else [event["key"]] * event.get("repeat", 1)
        for atom in atoms:
            keys.append((pause + event.get("gap", 120), atom.encode()))
            pause = 0.0
    return Trace(spec["name"], CLEAR_THEN + spec["command"], keys, spec.get("setup", ""))


def all_traces() -> dict[str, str]:
    return {
        name[:-5]: os.path.join(TRACES, name)
        for name in sorted(os.listdir(TRACES))
        if name.endswith(".json")
    }


# -- a program in a pty, its screen read through an Emulator ------------------------------------
class PtyProgram:
    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", HEIGHT, WIDTH, 0, 0))

        def make_controlling_tty() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            preexec_fn=make_controlling_tty,
            close_fds=True,
        )
        os.close(slave)
        self.fd = master
        os.set_blocking(master, False)
        self.screen = Emulator(WIDTH, HEIGHT)

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def pump(self, timeout_ms: float) -> bool:
        """Read what the program wrote within ``timeout_ms``; True if anything arrived."""
        sel = selectors.DefaultSelector()
        sel.register(self.fd, selectors.EVENT_READ)
        got = False
        try:
            if sel.select(max(timeout_ms, 0) / 1000.0):
                while True:
                    try:
                        data = os.read(self.fd, 65536)
                    except (BlockingIOError, OSError):
                        break
                    if not data:
                        break
                    got = True
                    self.screen.feed(data)
                    replies = self.screen.take_replies()
                    if replies:
                        self.write(replies)
        finally:
            sel.close()
        return got

    def settle(self, quiet_ms: float = 80, max_ms: float = 3000) -> None:
        end = now_ms() + max_ms
        while now_ms() < end and self.pump(quiet_ms):
            pass

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGHUP)  # the session we created for it
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(2)
        os.close(self.fd)


def snapshot(screen: Emulator) -> tuple:
    rows = tuple(
        "".join(screen.get_cell(r, c)[0] or " " for c in range(screen.width)).rstrip()
        for r in range(screen.height)
    )
    return rows, (screen.cursor_row, screen.cursor_col)


def reference_screens(trace: Trace) -> list[tuple]:
    """S_0 (before any key) .. S_n, by running the program directly."""
    if trace.setup:
        subprocess.run(trace.setup, shell=True, check=True)
    prog = PtyProgram(trace.command, BASE_ENV)
    try:
        prog.settle(quiet_ms=600)
        screens = [snapshot(prog.screen)]
        for _, key in trace.keystrokes:
            prog.write(key)
            prog.settle()
            screens.append(snapshot(prog.screen))
        return screens
    finally:
        prog.close()


# -- the impaired link --------------------------------------------------------------------------
class UdpDelayRelay:
    """127.0.0.1 UDP relay: each datagram is delayed ``delay_ms`` and dropped with ``loss``."""

    def __init__(self, server_port: int, delay_ms: float, loss: float, seed: int = 1) -> None:
        self.server = ("127.0.0.1", server_port)
        self.delay = delay_ms
        self.loss = loss
        self.rng = random.Random(seed)
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind(("127.0.0.1", 0))
        self.port = self.front.getsockname()[1]
        self.client: tuple | None = None
        self.queue: list[tuple[float, int, socket.socket, bytes, tuple]] = []
        self.count = 0
        self.dropped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> UdpDelayRelay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.front.close()
        self.back.close()

    def _schedule(self, sock: socket.socket, data: bytes, addr: tuple) -> None:
        self.count += 1
        if self.rng.random() < self.loss:
            self.dropped += 1
            return
        heapq.heappush(self.queue, (now_ms() + self.delay, self.count, sock, data, addr))

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.front, selectors.EVENT_READ, "front")
        sel.register(self.back, selectors.EVENT_READ, "back")
        while not self._stop.is_set():
            wait = 20.0
            if self.queue:
                wait = min(wait, max(0.0, self.queue[0][0] - now_ms()))
            for key, _ in sel.select(wait / 1000.0):
                sock = key.fileobj
                try:
                    data, addr = sock.recvfrom(65536)  # type: ignore[union-attr]
                except OSError:
                    continue
                if key.data == "front":
                    self.client = addr
                    self._schedule(self.back, data, self.server)
                elif self.client is not None:
                    self._schedule(self.front, data, self.client)
            while self.queue and self.queue[0][0] <= now_ms():
                _, _, sock, data, addr = heapq.heappop(self.queue)
                try:
                    sock.sendto(data, addr)
                except OSError:
                    pass
        sel.close()


def start_mosh_server(trace: Trace, server_cmd: str = "mosh-server") -> tuple[int, str, int]:
    """Start a detached server running the trace's program: (port, key, server pid)."""
    argv = [
        *server_cmd.split(),
        "new",
        "-i",
        "127.0.0.1",
        "-c",
        "256",
        "-l",
        "LANG=C.UTF-8",
        "--",
        *trace.command,
    ]
    out = subprocess.run(argv, env=BASE_ENV, capture_output=True, text=True, timeout=10)
    connect = re.search(r"MOSH CONNECT (\d+) (\S+)", out.stdout)
    pid = re.search(r"pid = (\d+)", out.stderr)
    if not connect or not pid:
        raise RuntimeError(f"server did not start: {out.stdout!r} {out.stderr!r}")
    return int(connect.group(1)), connect.group(2), int(pid.group(1))


# -- one measured run -------------------------------------------------------------------------
@dataclass
class RunResult:
    trace: str
    delay_ms: float
    loss: float
    latencies: list[float | None] = field(default_factory=list)  # per keystroke, None = never
    invisible: set[int] = field(
        default_factory=set
    )  # keystrokes that change nothing (S_k == S_k-1)
    wrong_keystrokes: set[int] = field(default_factory=set)  # keystrokes during a wrong char
    wrong_cells: int = 0

    def summary(self) -> dict:
        shown = sorted(
            x for k, x in enumerate(self.latencies) if x is not None and k not in self.invisible
        )
        n = len(self.latencies) - len(self.invisible)

        def pct(p: float) -> float | None:
            return round(shown[min(len(shown) - 1, int(p * len(shown)))], 1) if shown else None

        return {
            "trace": self.trace,
            "delay_ms": self.delay_ms,
            "loss_pct": round(self.loss * 100),
            "keystrokes": n,
            "invisible": len(self.invisible),
            "shown": len(shown),
            "within_10ms_pct": round(100 * sum(1 for x in shown if x <= 10) / n, 1) if n else None,
            "p50_ms": pct(0.5),
            "p90_ms": pct(0.9),
            "max_ms": round(shown[-1], 1) if shown else None,
            "mispredicted_keystrokes": len(self.wrong_keystrokes),
            "wrong_cells": self.wrong_cells,
        }


def measure(
    trace: Trace,
    screens: list[tuple],
    client_cmd: str,
    delay_ms: float,
    loss: float,
    prediction: str = "adaptive",
    seed: int = 1,
    server_cmd: str = "mosh-server",
) -> RunResult:
    if trace.setup:
        subprocess.run(trace.setup, shell=True, check=True)
    port, key, server_pid = start_mosh_server(trace, server_cmd)
    relay = UdpDelayRelay(port, delay_ms, loss, seed).start()
    env = dict(BASE_ENV, MOSH_KEY=key, MOSH_PREDICTION_DISPLAY=prediction)
    argv = client_cmd.format(ip="127.0.0.1", port=relay.port).split()
    client = PtyProgram(argv, env)
    result = RunResult(trace.name, delay_ms, loss)
    try:
        # wait for the program's first screen
        deadline = now_ms() + 15000
        while now_ms() < deadline and snapshot(client.screen)[0] != screens[0][0]:
            client.pump(50)
        client.settle(quiet_ms=300, max_ms=2000)
        _replay(client, trace, screens, result)
    finally:
        client.close()
        relay.stop()
        try:
            os.kill(server_pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    return result


def _client_message(text: str) -> bool:
    """A row the client itself writes (notification bar, exit message), not the session's."""
    return text.startswith("mosh: ") or text == "[mosh is exiting.]"


def _replay(client: PtyProgram, trace: Trace, screens: list[tuple], result: RunResult) -> None:
    index: dict[tuple, list[int]] = {}
    for j, s in enumerate(screens):
        index.setdefault(s, []).append(j)
    allowed = [[{" "} for _ in range(WIDTH)] for _ in range(HEIGHT)]
    for rows, _ in screens:
        for r, text in enumerate(rows):
            for c, ch in enumerate(text):
                allowed[r][c].add(ch)
    n = len(trace.keystrokes)
    # a key with no visible effect (echo off) has no latency: it is reported apart
    result.invisible = {k for k in range(n) if screens[k + 1] == screens[k]}
    sent_at: list[float] = []
    result.latencies = [None] * n
    credited = 0  # keystrokes 0..credited-1 are shown
    t = now_ms()
    due = [t + sum(g for g, _ in trace.keystrokes[: i + 1]) for i in range(n)]
    last = snapshot(client.screen)
    end = due[-1] + 5000
    while now_ms() < end and credited < n:
        next_due = due[len(sent_at)] if len(sent_at) < n else end
        if now_ms() >= next_due and len(sent_at) < n:
            client.write(trace.keystrokes[len(sent_at)][1])
            sent_at.append(now_ms())
            continue
        if not client.pump(min(next_due, end) - now_ms()):
            continue
        t = now_ms()
        snap = snapshot(client.screen)
        if snap == last:
            continue
        last = snap
        # keystroke k is shown once the screen becomes S_j with k < j <= keys sent
        matches = [j for j in index.get(snap, ()) if credited < j <= len(sent_at)]
        if matches:
            j = max(matches)
            for k in range(credited, j):
                result.latencies[k] = t - sent_at[k]
            credited = j
        wrong = sum(
            1
            for r, text in enumerate(snap[0])
            if not _client_message(text)
            for c, ch in enumerate(text)
            if ch not in allowed[r][c]
        )
        if wrong and sent_at:
            result.wrong_cells += wrong
            result.wrong_keystrokes.add(len(sent_at) - 1)
            if SHOW_WRONG:  # TRACE_SHOW_WRONG=1: which screen was wrong, and when
                print(
                    f"  wrong @key {len(sent_at) - 1} {trace.keystrokes[len(sent_at) - 1][1]!r}"
                    f" +{t - sent_at[-1]:.0f}ms cursor {snap[1]}:",
                    file=sys.stderr,
                )
                for r, text in enumerate(snap[0]):
                    if any(ch not in allowed[r][c] for c, ch in enumerate(text)):
                        print(f"    {r:2} {text!r}", file=sys.stderr)


# -- CLI ------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.trace_replay",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--client",
        action="append",
        help="[LABEL=]client command line; {ip} {port} substituted, MOSH_KEY in"
        " env; repeatable (default: stock mosh-client and pymosh-client)",
    )
    parser.add_argument("--server", default="mosh-server")
    parser.add_argument("--delays", default="50,100,250", help="one-way delays in ms")
    parser.add_argument("--losses", default="0,5", help="loss in percent (each direction)")
    parser.add_argument("--traces", default=",".join(all_traces()))
    parser.add_argument("--prediction", default="adaptive", help="MOSH_PREDICTION_DISPLAY")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="write the summaries here")
    args = parser.parse_args(argv)
    paths = all_traces()
    summaries = []
    clients = []
    for spec in args.client or DEFAULT_CLIENTS:
        label, sep, cmd = spec.partition("=")
        if not sep or " " in label:
            label, cmd = spec.split()[0].rsplit("/", 1)[-1], spec
        clients.append((label, cmd))
    header = (
        f"{'trace':9} {'client':8} {'delay':>5} {'loss':>4} {'keys':>4} {'shown':>5}"
        f" {'<=10ms':>7} {'p50':>7} {'p90':>7} {'max':>7} {'mispred':>7}"
    )
    print(header)
    for name in args.traces.split(","):
        trace = load_trace(paths[name])
        screens = reference_screens(trace)
        for delay in (float(d) for d in args.delays.split(",")):
            for loss in (float(x) / 100 for x in args.losses.split(",")):
                for label, cmd in clients:
                    s = measure(
                        trace, screens, cmd, delay, loss, args.prediction, args.seed, args.server
                    ).summary()
                    s["client"] = label
                    summaries.append(s)
                    print(
                        f"{s['trace']:9} {label:8} {s['delay_ms']:>5.0f} {s['loss_pct']:>3}%"
                        f" {s['keystrokes']:>4} {s['shown']:>5} {s['within_10ms_pct']!s:>6}%"
                        f" {s['p50_ms']!s:>7} {s['p90_ms']!s:>7} {s['max_ms']!s:>7}"
                        f" {s['mispredicted_keystrokes']:>7}",
                        flush=True,
                    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(summaries, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
