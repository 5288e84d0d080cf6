"""One benchmark session: a Mosh-compatible server and client on loopback.

The server and client are given as command lines (``Impl``), so the same harness runs
stock Mosh 1.4.0 and pymosh. The harness appends the usual arguments:
``SERVER new -p 0 -i 127.0.0.1 -- bash ...`` (reads ``MOSH CONNECT <port> <key>``) and
``CLIENT 127.0.0.1 <relay port>`` with ``MOSH_KEY`` in the environment. Datagrams go
through a counting relay (``relay.py``). The client runs in a pty owned by the harness,
whose output is fed into a pyte screen to see what the user sees.
"""

from __future__ import annotations

import errno
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass, field

import pyte
from wcwidth import wcwidth

from bench import child_pythonpath

from . import procstat

PROMPT = "PMB> "
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CONNECT_RE = re.compile(rb"MOSH CONNECT (\d+) ([A-Za-z0-9/+]{22})")
PID_RE = re.compile(rb"detached, pid = (\d+)")


class Screen(pyte.Screen):
    """pyte's screen, minus its zero-width bug.

    pyte 0.8's ``Screen.draw`` stops at the first zero-width character that is not a
    combining mark (U+FE0F VS16, U+200D ZWJ, ...) and silently drops the rest of the
    printable run, and it puts a combining mark after a wide character into the wide
    character's stub cell. A run of frames with emoji then leaves stale cells or loses
    text (e.g. the bulk end marker) although the client drew it correctly. Here every
    zero-width character joins the previous character's cell, like Mosh's emulator,
    and drawing goes on.
    """

    def draw(self, data: str) -> None:
        start = 0
        for i, ch in enumerate(data):
            if wcwidth(ch) == 0:
                if start < i:
                    super().draw(data[start:i])
                self._attach(ch)
                start = i + 1
        if start < len(data):
            super().draw(data[start:])

    def _attach(self, ch: str) -> None:
        x, y = self.cursor.x, self.cursor.y
        if x:
            line, x = self.buffer[y], x - 1
        elif y:
            line, x = self.buffer[y - 1], self.columns - 1
        else:
            return
        if x and line[x].data == "" and wcwidth(line[x - 1].data[:1]) == 2:
            x -= 1  # the stub cell of a wide character: the mark belongs to the character
        line[x] = line[x]._replace(data=line[x].data + ch)


class SessionError(RuntimeError):
    """The implementation under test did not behave (reported as n/a, never fatal)."""


@dataclass
class Impl:
    name: str
    server: list[str]
    client: list[str]
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def mosh(cls) -> Impl:
        return cls("mosh", ["mosh-server"], ["mosh-client"])

    @classmethod
    def pymosh(cls) -> Impl:
        """The installed ``pymosh-server``/``pymosh-client`` scripts beside this python
        when they are there (how users start them: ``-I -S``, the session forker), else
        this interpreter running the modules."""
        path = child_pythonpath()
        bindir = os.path.dirname(sys.executable)
        scripts = [os.path.join(bindir, name) for name in ("pymosh-server", "pymosh-client")]
        if all(os.access(script, os.X_OK) for script in scripts):
            return cls("pymosh", scripts[:1], scripts[1:], {"PYTHONPATH": path})
        return cls(
            "pymosh",
            [sys.executable, "-m", "pymosh.frontend.server"],
            [sys.executable, "-m", "pymosh.frontend.client"],
            {"PYTHONPATH": path},
        )


def base_env(tag: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MOSH_", "LC_")) and k not in ("TMUX", "STY")
    }
    env.update(
        {
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TERM": "xterm-256color",
            "PS1": PROMPT,
            "HISTFILE": "/dev/null",
            "PYMOSH_BENCH_TAG": tag,
            "SHELL": "/bin/bash",
        }
    )
    return env


class Session:
    def __init__(
        self,
        impl: Impl,
        tag: str,
        width: int = 80,
        height: int = 24,
        timeout: float = 15.0,
        relay: bool = True,
        client_env: dict[str, str] | None = None,
    ) -> None:
        self.impl = impl
        self.use_relay = relay
        self.client_env = client_env or {}
        self.port = 0
        self.key = ""
        self.tag = tag
        self.width, self.height = width, height
        self.timeout = timeout
        self.server_pid: int | None = None
        self.client_pid: int | None = None
        self.master: int | None = None
        self.relay: subprocess.Popen | None = None
        self.launcher: subprocess.Popen | None = None
        self.screen = Screen(width, height)
        self.stream = pyte.ByteStream(self.screen)
        self.client_bytes = 0
        self.times: dict[str, float] = {}

    # ---------------------------------------------------------------- start
    def start(self) -> None:
        """Server, then client; the client's first prompt is timed from the server's launch."""
        self.start_server()
        self.connect()

    def start_server(self) -> None:
        """Launch the server; it then waits for its client (``connect``)."""
        env = base_env(self.tag)
        env.update(self.impl.env)
        cmd = [
            *self.impl.server,
            "new",
            "-p",
            "0",
            "-i",
            "127.0.0.1",
            "--",
            "/bin/bash",
            "--norc",
            "--noprofile",
        ]
        t0 = self.t_launch = time.perf_counter()
        try:
            self.launcher = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=ROOT,
            )
        except OSError as e:
            raise SessionError(f"server did not start: {e}") from e
        port, key, t_ready, err = self._read_connect()
        self.times["server_ready"] = t_ready - t0
        m = PID_RE.search(err)
        self.server_pid = int(m.group(1)) if m else None
        if self.server_pid is None or not procstat.alive(self.server_pid):
            self.server_pid = procstat.pid_by_udp_port(port)
        if self.server_pid is None:
            raise SessionError("could not find the server process")
        self.port, self.key = port, key

    def release_launcher(self, timeout: float = 3.0) -> None:
        """Reap the ``new`` process and close its pipes (many sessions: fewer fds)."""
        if self.launcher is None:
            return
        try:
            self.launcher.wait(timeout)
        except subprocess.TimeoutExpired:
            self.launcher.kill()
            self.launcher.wait()
        for f in (self.launcher.stdout, self.launcher.stderr):
            f.close()
        self.launcher = None

    def connect(self) -> None:
        """Start the client (through the counting relay unless ``relay=False``); wait for
        the prompt on its screen."""
        self.start_client()
        self.wait_prompt()

    def start_client(self) -> None:
        env = base_env(self.tag)
        env.update(self.impl.env)
        env.update(self.client_env)
        if self.use_relay:
            self._start_relay(self.port)
        else:
            self.relay_port = self.port
        self._start_client(self.key, env)

    def wait_prompt(self) -> None:
        if self.wait_until(self.at_prompt, self.timeout) is None:
            screen = self.text().strip()[:200]
            raise SessionError(
                f"no prompt on the client within {self.timeout:.0f} s; screen: {screen!r}"
            )
        self.times["first_prompt"] = self.last_read - self.t_launch

    def _read_connect(self) -> tuple[int, str, float, bytes]:
        assert self.launcher is not None
        out = err = b""
        found = None
        t_ready = 0.0
        t_ready_mono = 0.0
        deadline = time.monotonic() + self.timeout
        fds = {self.launcher.stdout.fileno(): "out", self.launcher.stderr.fileno(): "err"}
        while fds and time.monotonic() < deadline:
            if found and (PID_RE.search(err) or time.monotonic() > t_ready_mono + 1.0):
                break
            r, _, _ = select.select(list(fds), [], [], 0.05)
            for fd in r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    del fds[fd]
                    continue
                if fds[fd] == "out":
                    out += chunk
                    if found is None:
                        m = CONNECT_RE.search(out)
                        if m:
                            t_ready = time.perf_counter()
                            t_ready_mono = time.monotonic()
                            found = (int(m.group(1)), m.group(2).decode())
                else:
                    err += chunk
            if not fds and found is None:
                break
        if found is None:
            self.launcher.kill()
            tail = (out + err).decode(errors="replace").strip().splitlines()[-3:]
            raise SessionError("no MOSH CONNECT line: " + " | ".join(tail))
        return found[0], found[1], t_ready, err

    def _start_relay(self, port: int) -> None:
        env = dict(os.environ, PYTHONPATH=ROOT, PYMOSH_BENCH_TAG=self.tag)
        self.relay = subprocess.Popen(
            [sys.executable, "-m", "bench.e2e.relay", str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        line = self.relay.stdout.readline().decode()
        if not line.startswith("PORT "):
            raise SessionError("relay did not start")
        self.relay_port = int(line.split()[1])

    def _start_client(self, key: str, env: dict[str, str]) -> None:
        env = dict(env, MOSH_KEY=key)
        env.pop("PS1", None)
        cmd = [*self.impl.client, "127.0.0.1", str(self.relay_port)]
        winsize = struct.pack("HHHH", self.height, self.width, 0, 0)
        pid, master = pty.fork()
        if pid == 0:  # child
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, winsize)
                os.execvpe(cmd[0], cmd, env)
            finally:
                os._exit(127)
        self.client_pid, self.master = pid, master
        os.set_blocking(master, False)

    # ---------------------------------------------------------------- screen
    def pump(self, timeout: float) -> bool:
        """Read what the client wrote within ``timeout`` s; True if anything arrived."""
        r, _, _ = select.select([self.master], [], [], max(0.0, timeout))
        if not r:
            return False
        got = False
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno == errno.EIO:  # client gone
                    raise SessionError("client exited: " + self.text().strip()[-200:]) from e
                raise
            if not chunk:
                break
            self.last_read = time.perf_counter()
            self.client_bytes += len(chunk)
            self.stream.feed(chunk)
            got = True
        return got

    def wait_until(self, pred, timeout: float) -> float | None:
        """perf_counter time of the read after which ``pred()`` held, or None."""
        deadline = time.perf_counter() + timeout
        if pred():
            return time.perf_counter()
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            if self.pump(left) and pred():
                return self.last_read

    def drain(self, quiet: float = 0.2, limit: float = 3.0) -> None:
        end = time.perf_counter() + limit
        while time.perf_counter() < end and self.pump(quiet):
            pass

    def row(self, y: int) -> str:
        # not pyte's ``display``: it trips over some wide/combining cells
        line = self.screen.buffer[y]
        return "".join(line[x].data for x in range(self.screen.columns))

    def text(self) -> str:
        return "\n".join(self.row(y) for y in range(self.screen.lines))

    def cursor_line(self) -> str:
        return self.row(self.screen.cursor.y)

    def at_prompt(self) -> bool:
        return (
            self.screen.cursor.x == len(PROMPT) and self.cursor_line().rstrip() == PROMPT.rstrip()
        )

    def send(self, data: bytes) -> float:
        t = time.perf_counter()
        os.write(self.master, data)
        return t

    def relay_stats(self) -> dict[str, int]:
        import json

        self.relay.stdin.write(b"stats\n")
        self.relay.stdin.flush()
        return json.loads(self.relay.stdout.readline())

    def cpu(self) -> tuple[float | None, float | None]:
        return procstat.cpu_seconds(self.server_pid), procstat.cpu_seconds(self.client_pid)

    def rss(self) -> tuple[float | None, float | None]:
        return procstat.rss_mib(self.server_pid), procstat.rss_mib(self.client_pid)

    def pss(self) -> tuple[float | None, float | None]:
        return procstat.pss_mib(self.server_pid), procstat.pss_mib(self.client_pid)

    # ---------------------------------------------------------------- stop
    def close(self) -> None:
        try:
            if self.master is not None and self.client_pid and procstat.alive(self.client_pid):
                try:
                    self.send(b"\x15exit\r")
                    end = time.monotonic() + 3.0
                    while time.monotonic() < end and procstat.alive(self.client_pid):
                        try:
                            self.pump(0.05)
                        except (SessionError, OSError):
                            break
                except OSError:
                    pass
        finally:
            self._kill_everything()

    def _kill_everything(self) -> None:
        if self.client_pid:
            _signal(self.client_pid, signal.SIGTERM)
        if self.server_pid:
            _signal(self.server_pid, signal.SIGTERM)
        time.sleep(0.05)
        for pid in (self.client_pid, self.server_pid):
            if pid and procstat.alive(pid):
                time.sleep(0.3)
                _signal(pid, signal.SIGKILL)
        if self.client_pid:
            try:
                os.waitpid(self.client_pid, 0)
            except ChildProcessError:
                pass
        if self.relay is not None:
            self.relay.stdin.close()
            try:
                self.relay.wait(2)
            except subprocess.TimeoutExpired:
                self.relay.kill()
                self.relay.wait()
        if self.launcher is not None:
            if self.launcher.poll() is None:
                self.launcher.kill()
            self.launcher.wait()
            for f in (self.launcher.stdout, self.launcher.stderr):
                f.close()
        # anything else this session started (the shell, a stray daemon): by tag, by pid
        for pid in procstat.tagged_pids(self.tag):
            _signal(pid, signal.SIGKILL)
        if self.master is not None:
            os.close(self.master)
            self.master = None


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
