"""``pymosh --local``: the server runs on this machine, no ssh."""

from __future__ import annotations

import shlex
import time

import pytest

from tests.e2e.session import local_command
from tests.frontend.helpers import program_command
from tests.support.procs import (
    children_of,
    read_proc,
    tagged_pids,
    wait_gone,
    zombie_children,
)

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
    command = local_command(
        "127.0.0.1",
        "--",
        "sh",
        "-c",
        "printf 'he%s\\n' llo; sleep 1",
        server=server_cmd,
        client=client_cmd,
    )
    pane = pane_factory(command)
    pane.wait_for("hello", timeout=20)
    assert pane.wait_exit(timeout=15) == 0
    pane.kill()
    assert wait_gone(tag, timeout=10) == []


def _local(*words: str) -> str:
    return " ".join([program_command("wrapper"), "--local", "--bind-server=127.0.0.1", *words])


def test_default_client_runs_in_the_wrappers_own_process(pane_factory, tag):
    """No second interpreter, no key in any environment; resize and Ctrl-^ . as ever."""
    pane = pane_factory(_local("127.0.0.1", "--", "bash", "--norc", "--noprofile"))
    pane.wait_prompt()
    (wrapper,) = [  # (the pane's shell runs the wrapper, to note its exit status)
        pid
        for pid in children_of(pane.pane_pid())
        if b"frontend.wrapper" in read_proc(pid, "cmdline")
    ]
    pids = tagged_pids(tag)
    assert wrapper in pids
    for pid in pids:
        assert b"frontend.client" not in read_proc(pid, "cmdline")
        assert b"pymosh-client" not in read_proc(pid, "cmdline")
        assert b"MOSH_KEY=" not in read_proc(pid, "environ")
    # the server's launcher, finished beside the client, leaves no zombie behind
    deadline = time.monotonic() + 10
    while zombie_children(wrapper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert zombie_children(wrapper) == []
    pane.resize(100, 30)
    pane.send_line("stty size")
    pane.wait_for("30 100", timeout=10)
    pane.send_keys("C-^", ".")
    assert pane.wait_exit(timeout=15) == 0
    assert "[mosh is exiting.]" in pane.capture()
    pane.kill()
    assert wait_gone(tag, timeout=10) == []


@pytest.mark.parametrize("client", ["in-process", "exec"])
def test_client_refusal_reads_the_same_in_process_and_execd(pane_factory, tag, client):
    """The client's own checks give the same message and exit status either way."""
    words = [] if client == "in-process" else [shlex.quote(f"--client={program_command('client')}")]
    pane = pane_factory(_local(*words, "127.0.0.1", "--", "true"), PYMOSH_SCROLLBACK="lots")
    assert pane.wait_exit(timeout=20) == 1
    screen = pane.capture(history=True)
    assert "pymosh-client: scrollback: not a number of lines: 'lots' (in PYMOSH_SCROLLBACK)" in (
        screen.replace("\n", "")
    )
