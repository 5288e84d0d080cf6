"""``pymosh`` over a real ssh connection to a private sshd, inside a tmux pane."""

from __future__ import annotations

import shlex

import pytest

from tests.frontend.helpers import child_env, program_command
from tests.support.procs import wait_gone

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def wrapper_command(sshd, *options: str) -> str:
    return " ".join(
        [
            program_command("wrapper"),
            shlex.quote(f"--ssh={sshd.ssh_command()}"),
            *(shlex.quote(o) for o in options),
            "127.0.0.1",
        ]
    )


@pytest.mark.interop
def test_wrapper_over_ssh_with_stock_server_and_client(sshd, pane_factory, tag):
    pane = pane_factory(wrapper_command(sshd, "--server=mosh-server", "--client=mosh-client"))
    pane.wait_prompt()
    pane.send_line("echo pymosh-$((6*7))")
    pane.wait_for("pymosh-42", timeout=10)
    pane.send_line("exit")
    assert pane.wait_exit(timeout=15) == 0
    assert "[mosh is exiting.]" in pane.capture()
    pane.kill()  # the tmux server carries the tag too
    assert wait_gone(tag, timeout=10) == []  # the remote server exited with the shell


def test_wrapper_over_ssh_with_pymosh_server_and_client(sshd, pane_factory, tag):
    # the remote side gets no PYTHONPATH through ssh: put it on the server command line
    server = (
        "env "
        + shlex.quote(f"PYTHONPATH={child_env()['PYTHONPATH']}")
        + " "
        + program_command("server")
    )
    pane = pane_factory(
        wrapper_command(sshd, f"--server={server}", f"--client={program_command('client')}")
    )
    pane.wait_prompt()
    pane.send_line("echo pymosh-$((6*7)) $TERM")
    pane.wait_for("pymosh-42 xterm")
    pane.send_line("exit")
    assert pane.wait_exit(timeout=15) == 0
    assert "[mosh is exiting.]" in pane.capture(history=True)
    pane.kill()
    assert wait_gone(tag, timeout=10) == []


def test_wrapper_reports_a_server_missing_on_the_remote_path(sshd, pane_factory):
    pane = pane_factory(wrapper_command(sshd, "--server=no-such-pymosh-server"))
    assert pane.wait_exit(timeout=20) == 255
    assert "'no-such-pymosh-server' was not found on the remote PATH" in pane.capture(
        history=True
    ).replace("\n", "")


def test_wrapper_reports_ssh_failure(tmp_path, pane_factory):
    # nothing listens on this port: ssh itself fails
    from tests.e2e.sshd import free_tcp_port

    ssh = f"ssh -p {free_tcp_port()} -o BatchMode=yes -o StrictHostKeyChecking=no"
    pane = pane_factory(
        " ".join([program_command("wrapper"), shlex.quote(f"--ssh={ssh}"), "127.0.0.1"])
    )
    assert pane.wait_exit(timeout=20) == 255
    assert "ssh failed (exit status 255)" in pane.capture(history=True).replace("\n", "")
