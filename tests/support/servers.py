"""Start a server (stock mosh-server or pymosh-server) the way the wrapper does, read its
``MOSH CONNECT <port> <key>`` and ``[mosh-server detached, pid = N]`` lines, and end it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import List

from tests.support.procs import children_of, pid_alive, proc_rss_kb, terminate

STOCK = "stock"
PYMOSH = "pymosh"

CONNECT_RE = re.compile(r"^MOSH CONNECT (\d+) ([A-Za-z0-9/+]{22})\s*$", re.M)
DETACHED_RE = re.compile(r"\[(?:py)?mosh-server detached, pid = (\d+)\]")


def _text(out: str | bytes) -> str:
    return out.decode("latin-1") if isinstance(out, bytes) else out


def parse_connect(stdout: str | bytes) -> tuple[int, str] | None:
    """(port, printable key) from a server's stdout, or None if the line is not there."""
    m = CONNECT_RE.search(_text(stdout))
    return (int(m.group(1)), m.group(2)) if m else None


def parse_detached(stderr: str | bytes) -> int | None:
    """The daemon's PID from a server's stderr, or None if it has not detached (yet)."""
    m = DETACHED_RE.search(_text(stderr))
    return int(m.group(1)) if m else None


def checkout_pythonpath(env: dict) -> str:
    """PYTHONPATH that puts this checkout's pymosh first (also when it is not installed)."""
    import pymosh

    src = os.path.dirname(os.path.dirname(os.path.abspath(pymosh.__file__)))
    return os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)


def server_argv(kind: str, verbose: bool = False, port: str = "0") -> List[str]:
    head = ["mosh-server"] if kind == STOCK else [sys.executable, "-m", "pymosh.frontend.server"]
    return head + ["new", "-p", port] + (["-v"] if verbose else [])


def cat_command(path: str) -> List[str]:
    """The remote program: raw, no echo, copy every typed byte into `path`."""
    return ["sh", "-c", f"stty raw -echo; exec cat > {path}"]


@dataclass
class Server:
    kind: str
    port: int
    key_text: str
    key: bytes
    pid: int  # the detached daemon
    launcher: subprocess.Popen
    workdir: str
    stderr_path: str
    output_path: str
    children: List[int] = field(default_factory=list)

    def rss_kb(self) -> int:
        return proc_rss_kb(self.pid)

    def alive(self) -> bool:
        return pid_alive(self.pid)

    def output(self) -> bytes:
        try:
            with open(self.output_path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def stderr(self) -> str:
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


def start_server(
    kind: str,
    workdir: str,
    command: List[str],
    env_extra=None,
    verbose: bool = False,
    timeout: float = 10.0,
    port: str = "0",
    options: List[str] | None = None,
) -> Server:
    """Start a server the way the wrapper does; parse MOSH CONNECT and the daemon pid.

    ``command`` is expected to write what it is sent to ``workdir/typed``
    (:attr:`Server.output_path`), as :func:`cat_command` does.
    """
    from pymosh.crypto import parse_key

    env = {
        k: v for k, v in os.environ.items() if not k.startswith("MOSH_") and not k.startswith("LC_")
    }
    env["LANG"] = "C.UTF-8"
    if kind == PYMOSH:
        env["PYTHONPATH"] = checkout_pythonpath(env)
    env.update(env_extra or {})
    out_path = os.path.join(workdir, "server.stdout")
    err_path = os.path.join(workdir, "server.stderr")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        launcher = subprocess.Popen(
            server_argv(kind, verbose, port) + (options or []) + ["--"] + command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            cwd=workdir,
        )
    deadline = time.monotonic() + timeout
    connect = pid = None
    while time.monotonic() < deadline:
        with open(out_path, "rb") as f:
            connect = parse_connect(f.read())
        with open(err_path, "rb") as f:
            pid = parse_detached(f.read())
        if connect and pid:
            break
        pid = None
        if launcher.poll() not in (None, 0):
            break
        time.sleep(0.02)
    if pid is None or connect is None:
        launcher.kill()
        launcher.wait()
        raise AssertionError(
            f"{kind} server did not start: stdout "
            f"{open(out_path, 'rb').read()!r} stderr {open(err_path, 'rb').read()!r}"
        )
    launcher.wait(timeout=timeout)
    port, key_text = connect
    return Server(
        kind,
        port,
        key_text,
        parse_key(key_text),
        pid,
        launcher,
        workdir,
        err_path,
        os.path.join(workdir, "typed"),
        children_of(pid),
    )


def stop_server(server: Server, timeout: float = 1.0) -> None:
    """End the daemon and its pty child (TERM, then KILL); never leaves them running."""
    terminate([server.pid] + server.children + children_of(server.pid), timeout)
