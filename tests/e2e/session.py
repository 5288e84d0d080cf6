"""Start a server (stock or pymosh) and build the client's pane command, key kept off argv."""

from __future__ import annotations

import os
import shlex
import subprocess
from typing import Mapping, Sequence

from tests.support.servers import parse_connect


def start_server(argv: Sequence[str], env: Mapping[str, str]) -> tuple[int, str]:
    """Run ``<server> new ...``; return (port, key) from its MOSH CONNECT line.

    The server detaches; the caller's ``tag`` fixture ends it if the test does not.
    """
    result = subprocess.run(
        list(argv),
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    connect = parse_connect(result.stdout)
    assert connect, f"no MOSH CONNECT (status {result.returncode}): {result.stderr}"
    return connect


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
