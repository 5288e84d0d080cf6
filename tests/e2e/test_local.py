"""``pymosh --local``: the server runs on this machine, no ssh."""

from __future__ import annotations

import shlex

import pytest

from tests.frontend.helpers import program_command
from tests.support.procs import wait_gone

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.parametrize(
    "server,client",
    [
        ("pymosh", "pymosh"),
        pytest.param("mosh", "pymosh", marks=pytest.mark.interop),
    ],
)
def test_local_session_runs_a_command(pane_factory, tag, server, client):
    server_cmd = program_command("server") if server == "pymosh" else "mosh-server"
    client_cmd = program_command("client") if client == "pymosh" else "mosh-client"
    command = " ".join(
        [
            program_command("wrapper"),
            "--local",
            "--bind-server=127.0.0.1",
            shlex.quote(f"--server={server_cmd}"),
            shlex.quote(f"--client={client_cmd}"),
            "127.0.0.1",
            "--",
            "sh",
            "-c",
            shlex.quote("printf 'he%s\\n' llo; sleep 1"),
        ]
    )
    pane = pane_factory(command)
    pane.wait_for("hello", timeout=20)
    assert pane.wait_exit(timeout=15) == 0
    pane.kill()
    assert wait_gone(tag, timeout=10) == []
