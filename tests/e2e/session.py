"""Start a server (stock or pymosh) and build the client's pane command, key kept off argv."""

from __future__ import annotations

import os
import shlex
import subprocess
from typing import Mapping, NamedTuple, Sequence

from tests.frontend.helpers import program_command
from tests.support.servers import parse_connect, parse_detached


def run(
    argv: Sequence[str], env: Mapping[str, str], *, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run a program to its end with no stdin, its output captured as text; any status."""
    return subprocess.run(
        list(argv),
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Launched(NamedTuple):
    port: int
    key: str
    pid: int | None  # the detached server's, if it said so on stderr
    stderr: str


def launch_server(argv: Sequence[str], env: Mapping[str, str]) -> Launched:
    """Run ``<server> new ...`` and read its MOSH CONNECT line (asserted).

    The server detaches; the caller's ``tag`` fixture ends it if the test does not.
    """
    result = run(argv, env)
    connect = parse_connect(result.stdout)
    assert connect, f"no MOSH CONNECT (status {result.returncode}): {result.stderr}"
    return Launched(*connect, parse_detached(result.stderr), result.stderr)


def start_server(argv: Sequence[str], env: Mapping[str, str]) -> tuple[int, str]:
    """(port, key) of a server started with ``launch_server``."""
    launched = launch_server(argv, env)
    return launched.port, launched.key


def local_command(*words: str, server: str = "", client: str = "") -> str:
    """Shell command: ``pymosh --local`` on loopback with this checkout's programs (or the
    given server and client commands), then ``words`` (quoted here)."""
    return " ".join(
        [
            program_command("wrapper"),
            "--local",
            "--bind-server=127.0.0.1",
            shlex.quote(f"--server={server or program_command('server')}"),
            shlex.quote(f"--client={client or program_command('client')}"),
            *(shlex.quote(w) for w in words),
        ]
    )


def client_command(
    workdir: str, client: Sequence[str], port: int, key: str, *, host: str = "127.0.0.1", **env: str
) -> str:
    """A shell command running ``client HOST port`` with MOSH_KEY from a 0600 file."""
    path = os.path.join(workdir, f"client-{port}.env")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"export MOSH_KEY={shlex.quote(key)}\n")
        for name, value in env.items():
            f.write(f"export {name}={shlex.quote(value)}\n")
    return (
        f". {shlex.quote(path)}; rm -f {shlex.quote(path)}; "
        + " ".join(shlex.quote(w) for w in client)
        + f" {shlex.quote(host)} {port}"
    )
