"""``pymosh`` over a real ssh connection to a private sshd, inside a tmux pane."""

from __future__ import annotations

import shlex

import pytest

from tests.e2e.procs import wait_gone
from tests.frontend.helpers import program_command

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def wrapper_command(sshd, *options: str) -> str:
    return " ".join([program_command("wrapper"), shlex.quote(f"--ssh={sshd.ssh_command()}"),
                     *(shlex.quote(o) for o in options), "127.0.0.1"])


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
