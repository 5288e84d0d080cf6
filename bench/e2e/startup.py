"""Where the first prompt's time goes: ``python -m bench.e2e.startup [--rounds N]
[--also PREFIX ...]`` (``--also``: another installation, e.g. a venv of ``main``, in the
same run: before/after figures under the same load).

For stock Mosh and pymosh (server and client started directly, as ``python -m bench.e2e``
does) and for ``pymosh --local`` (one command, as a user starts it), alternating, each
in a pty of 80x24 fed to a pyte screen. A UDP relay inside this process timestamps every
datagram, so one session gives, in ms from the launch of the first program:

- ``server_ready``: ``MOSH CONNECT`` read (the direct pairs only; the wrapper reads it);
- ``client_launch``: the client started (after the server's ``detached, pid`` line);
- ``client_output``: the client's first byte on its pty (its imports are done, it drew);
- ``first_c2s`` / ``first_s2c``: the first datagram each way;
- ``s2c_before_prompt``: datagrams from the server until the prompt was drawn, each as
  (ms, bytes): the first carries the empty screen, a later one the shell's prompt;
- ``prompt``: the prompt (``PMB> ``) drawn on the client's screen.

The relay is in the harness's own loop (one ``select`` for the pty and both sockets), so
the timestamps share a clock; it adds one loopback hop each way for every implementation.
Results go to ``bench/out/startup.json`` and a table on stderr (medians).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
import uuid
from typing import Callable

from . import procstat
from .session import PROMPT, Impl, Session, SessionError, base_env

OUT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "out")


class TimedSession(Session):
    """A session whose datagrams go through an in-process relay that timestamps them."""

    def __init__(self, impl: Impl, tag: str) -> None:
        super().__init__(impl, tag, relay=False)
        self.events: dict[str, float] = {}
        self.s2c: list[tuple[float, int]] = []
        self.front = self.back = None
        self.client_addr = None

    def open_relay(self, target_port: int) -> int:
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind(("127.0.0.1", 0))
        self.back.connect(("127.0.0.1", target_port))
        return self.front.getsockname()[1]

    def _mark(self, name: str) -> None:
        self.events.setdefault(name, time.perf_counter() - self.t_launch)

    def relay_turn(self, timeout: float) -> None:
        """One select over the pty and the relay's sockets."""
        assert self.master is not None and self.front is not None and self.back is not None
        readable, _, _ = select.select([self.master, self.front, self.back], [], [], timeout)
        if self.front in readable:
            data, self.client_addr = self.front.recvfrom(65536)
            self._mark("first_c2s")
            try:
                self.back.send(data)
            except OSError:
                pass
        if self.back in readable:
            try:
                data = self.back.recv(65536)
            except OSError:
                data = b""
            if data and self.client_addr is not None:
                self._mark("first_s2c")
                self.s2c.append((time.perf_counter() - self.t_launch, len(data), data))
                self.front.sendto(data, self.client_addr)
        if self.master in readable and self.pump(0):
            self._mark("client_output")

    def run_to_prompt(self, timeout: float = 15.0) -> None:
        deadline = time.perf_counter() + timeout
        while not self.at_prompt():
            left = deadline - time.perf_counter()
            if left <= 0:
                raise SessionError(f"no prompt within {timeout} s: {self.text().strip()[:200]!r}")
            self.relay_turn(min(left, 0.5))
        self.events["prompt"] = self.last_read - self.t_launch
        self.events["s2c_before_prompt"] = [  # type: ignore[assignment]
            (round(t * 1e3, 2), n, *_peek(self.key, data))
            for t, n, data in self.s2c
            if t <= self.events["prompt"]
        ]

    def close_relay(self) -> None:
        for sock in (self.front, self.back):
            if sock is not None:
                sock.close()


def _peek(key: str, datagram: bytes) -> tuple[int, bool]:
    """(state number, whether the prompt is in its host bytes) of a server datagram that
    is one whole instruction (the first ones are); (-1, False) if it is not."""
    from pymosh.crypto import TO_CLIENT, Session, parse_key
    from pymosh.errors import PymoshError
    from pymosh.network.fragment import Fragment, decompress
    from pymosh.wire.protobuf import HostBytes, decode_host_message, decode_instruction

    try:
        payload = Session(parse_key(key)).open_datagram(datagram, TO_CLIENT)[3]
        fragment = Fragment.parse(payload)
        if fragment.num != 0 or not fragment.final:
            return -1, False
        instruction = decode_instruction(decompress(fragment.contents))
        events = decode_host_message(instruction.diff) if instruction.diff else []
    except PymoshError:
        return -1, False
    shown = any(isinstance(e, HostBytes) and PROMPT.encode() in e.data for e in events)
    return instruction.new_num, shown


def direct(impl: Impl, tag: str) -> dict:
    """Server, then client (through the timing relay), as ``bench.e2e`` starts them."""
    s = TimedSession(impl, tag)
    try:
        s.start_server()
        s.events["server_ready"] = s.times["server_ready"]
        env = base_env(tag)
        env.update(impl.env)
        s.relay_port = s.open_relay(s.port)
        s.events["client_launch"] = time.perf_counter() - s.t_launch
        s._start_client(s.key, env)
        s.run_to_prompt()
        result = {k: _ms(v) for k, v in s.events.items()}
        result["client_rss_mib"], result["client_pss_mib"] = s.rss()[1], s.pss()[1]
        return result
    finally:
        s.close()
        s.close_relay()


def installations(extra: list[str], state: str) -> list[tuple[Impl, Impl]]:
    """(server+client, ``pymosh --local``) for the pymosh beside this python and for each
    ``extra`` installation prefix (a venv: ``PREFIX/bin/pymosh-server`` ...), each with its
    own state directory (a session forker serves only its own installation)."""
    pairs = []
    for n, prefix in enumerate([None, *extra]):
        if prefix is None:
            direct_impl = Impl.pymosh()
            wrapper = os.path.join(os.path.dirname(sys.executable), "pymosh")
            local_argv = (
                [wrapper]
                if os.access(wrapper, os.X_OK)
                else [sys.executable, "-m", "pymosh.frontend.wrapper"]
            )
            name = "pymosh"
        else:
            bindir = os.path.join(os.path.abspath(prefix), "bin")
            name = f"pymosh@{prefix}"
            direct_impl = Impl(
                name,
                [os.path.join(bindir, "pymosh-server")],
                [os.path.join(bindir, "pymosh-client")],
            )
            local_argv = [os.path.join(bindir, "pymosh")]
        state_dir = os.path.join(state, str(n))
        os.makedirs(state_dir, mode=0o700)
        direct_impl.env["PYMOSH_STATE_DIR"] = state_dir
        pairs.append((direct_impl, Impl(f"{name} --local", [], local_argv, dict(direct_impl.env))))
    return pairs


def local(impl: Impl, tag: str) -> dict:
    """``pymosh --local -- bash --norc --noprofile`` in a pty (``impl.client`` is the
    wrapper's command): launch to prompt (the datagrams go straight to the server, so only
    the pty side is timed)."""
    s = TimedSession(impl, tag)
    env = base_env(tag)
    env.update(impl.env)
    argv = [*impl.client, "--local", "--", "/bin/bash", "--norc", "--noprofile"]
    s.t_launch = time.perf_counter()
    pid, master = pty.fork()
    if pid == 0:
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
            os.chdir(os.environ.get("HOME", "/"))
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)
    s.client_pid, s.master = pid, master
    os.set_blocking(master, False)
    try:
        deadline = time.perf_counter() + 15
        while not s.at_prompt():
            left = deadline - time.perf_counter()
            if left <= 0:
                raise SessionError(f"no prompt: {s.text().strip()[:200]!r}")
            if s.pump(min(left, 0.5)):
                s._mark("client_output")
        s.events["prompt"] = s.last_read - s.t_launch
        result = {k: _ms(v) for k, v in s.events.items()}
        result["client_rss_mib"] = procstat.rss_mib(pid)
        result["client_pss_mib"] = procstat.pss_mib(pid)
        return result
    finally:
        s.close()


def _ms(value):
    return round(value * 1e3, 2) if isinstance(value, float) else value


def warm_forker(impl: Impl, tag: str) -> None:
    """A first pymosh session (its server starts the user's session forker) whose
    processes carry ``tag``, so closing the measured sessions (which kills by their own
    tags) leaves the forker running: what is measured is every session after a user's
    first. The caller kills ``tag`` at the end."""
    env = base_env(tag)
    env.update(impl.env)
    cmd = [*impl.server, "new", "-p", "0", "-i", "127.0.0.1", "--", "/bin/true"]
    subprocess.run(cmd, env=env, capture_output=True, timeout=30, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e.startup")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="PREFIX",
        help="another pymosh installation (a venv's prefix) measured in the same run",
    )
    args = parser.parse_args()
    keep = f"pmb-start-keep-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="pmb-start-") as state:
        pairs = installations(args.also, state)
        for direct_impl, _ in pairs:
            warm_forker(direct_impl, keep)
        try:
            results = _rounds(pairs, args.rounds)
        finally:
            for pid in procstat.tagged_pids(keep) + procstat.state_dir_pids(state):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    _report(results)


def _rounds(pairs: list[tuple[Impl, Impl]], rounds: int) -> dict[str, list[dict]]:
    """Every implementation once a round, the order reversed every other round."""
    runs: list[tuple[Impl, Callable[[Impl, str], dict]]] = []
    if shutil.which("mosh-server") is not None:
        runs.append((Impl.mosh(), direct))
    for direct_impl, local_impl in pairs:
        runs += [(direct_impl, direct), (local_impl, local)]
    results: dict[str, list[dict]] = {impl.name: [] for impl, _ in runs}
    for n in range(rounds):
        for impl, measure in runs if n % 2 == 0 else runs[::-1]:
            try:
                results[impl.name].append(measure(impl, f"pmb-start-{uuid.uuid4().hex[:8]}"))
            except SessionError as exc:
                print(f"{impl.name}: {exc}", file=sys.stderr)
        print(f"round {n + 1}/{rounds} done", file=sys.stderr)
    return results


def _report(results: dict[str, list[dict]]) -> None:
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(os.path.join(OUT_DIR, "startup.json"), "w") as f:
        json.dump({"loadavg": os.getloadavg(), "runs": results}, f, indent=1)
    names = ["server_ready", "client_launch", "client_output", "first_c2s", "first_s2c", "prompt"]
    names += ["client_rss_mib", "client_pss_mib"]
    print("medians (ms from launch; MiB): " + " | ".join(names), file=sys.stderr)
    for name, runs in results.items():
        cells = []
        for key in names:
            values = [r[key] for r in runs if key in r]
            cells.append(f"{statistics.median(values):7.1f}" if values else "      -")
        print(f"{name:24s} {' '.join(cells)}", file=sys.stderr)
    _report_steps(results)
    mosh = [r["prompt"] for r in results.get("mosh", [])]
    if mosh:
        for name, runs in results.items():
            ours = [r["prompt"] for r in runs]
            if name != "mosh" and ours:
                ratio = statistics.median(ours) / statistics.median(mosh)
                print(f"first prompt {name} / mosh: {ratio:.2f}x", file=sys.stderr)


# the steps between the events (ms, medians of each run's own differences): the client's
# start until its first datagram, the server's answer, the prompt's frame after it
STEPS = (
    ("client start", "client_launch", "first_c2s"),
    ("server answer", "first_c2s", "first_s2c"),
    ("to the prompt", "first_s2c", "prompt"),
    ("launch to prompt", "client_launch", "prompt"),
)


def _report_steps(results: dict[str, list[dict]]) -> None:
    print("steps (median ms): " + " | ".join(name for name, _, _ in STEPS), file=sys.stderr)
    for name, runs in results.items():
        cells = []
        for _, start, end in STEPS:
            values = [
                r[end] - r.get(start, 0.0)
                for r in runs
                if end in r and (start in r or start == "client_launch")
            ]
            cells.append(f"{statistics.median(values):7.1f}" if values else "      -")
        print(f"{name:24s} {' '.join(cells)}", file=sys.stderr)


if __name__ == "__main__":
    main()
