"""One UDP port for several live sessions (issue #16), with stock mosh-client and
pymosh-client at once, directly and through the wrapper over ssh."""

from __future__ import annotations

import os
import shlex

import pytest

from tests.e2e.session import client_command, start_server
from tests.e2e.test_wrapper_ssh import wrapper_command
from tests.frontend.helpers import child_env, program, program_command
from tests.frontend.test_portshare import free_udp_port, owner_pids, port_free, wait_until
from tests.support.procs import wait_gone

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CLIENTS = {"stock": ["mosh-client"], "pymosh": program("client")}


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def _wait_text(path: str, text: str, timeout: float, suffix: bool = False) -> bool:
    def done() -> bool:
        got = _read(path)
        return got.endswith(text) if suffix else got == text

    return wait_until(done, timeout)


@pytest.mark.interop
def test_stock_and_pymosh_clients_each_reach_their_own_session(tmp_path, tag, pane_factory):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    port = free_udp_port()
    env = child_env(
        PYMOSH_TEST_TAG=tag, SHELL="/bin/sh", PS1="$ ", ENV="", PYMOSH_STATE_DIR=str(state)
    )
    kinds = ["stock", "pymosh", "stock", "pymosh"]
    panes = []
    for kind in kinds:
        got_port, key = start_server(
            program("server") + ["new", "-p", str(port), "--", "/bin/sh"], env
        )
        assert got_port == port
        panes.append(
            pane_factory(
                client_command(str(tmp_path), CLIENTS[kind], port, key),
                80,
                24,
                SHELL="/bin/sh",
                PS1="$ ",
            )
        )
    for pane in panes:
        pane.wait_prompt(timeout=30)
    assert len(owner_pids(str(state / "ports"))) == 1
    outputs = [str(tmp_path / f"out{i}") for i in range(len(panes))]
    for round_ in range(2):
        for i, pane in enumerate(panes):
            pane.send_line(f"echo typed-{i}-{round_}-$(({i}*7)) >> {outputs[i]}")
        for i, pane in enumerate(panes):
            expected = "".join(f"typed-{i}-{r}-{i * 7}\n" for r in range(round_ + 1))
            # every keystroke exactly once, in its own session only
            assert _wait_text(outputs[i], expected, 20), (
                kinds[i],
                _read(outputs[i]),
                pane.capture(),
            )
    # one session ends; the others carry on
    panes[0].send_line("exit")
    assert panes[0].wait_exit(timeout=15) == 0
    for i, pane in enumerate(panes[1:], 1):
        pane.send_line(f"echo after-{i} >> {outputs[i]}")
        assert _wait_text(outputs[i], f"after-{i}\n", 20, suffix=True)
    for pane in panes[1:]:
        pane.send_line("exit")
        assert pane.wait_exit(timeout=15) == 0
        pane.kill()
    panes[0].kill()
    assert wait_gone(tag, timeout=15) == []  # sessions and the port owner
    assert port_free(port)


def test_wrapper_sessions_share_the_one_open_port(sshd, pane_factory, tag, tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    port = free_udp_port()
    remote_env = (
        "env "
        + shlex.quote(f"PYTHONPATH={child_env()['PYTHONPATH']}")
        + " "
        + shlex.quote(f"PYMOSH_STATE_DIR={state}")
        + " "
        + shlex.quote(f"PYMOSH_TEST_TAG={tag}")
        + " "
    )
    panes = []
    for _ in range(2):
        pane = pane_factory(
            wrapper_command(
                sshd,
                f"--server={remote_env}{program_command('server')}",
                f"--client={program_command('client')}",
                "-p",
                str(port),
            )
        )
        pane.wait_prompt(timeout=30)
        panes.append(pane)
    assert len(owner_pids(str(state / "ports"))) == 1
    for i, pane in enumerate(panes):
        pane.send_line(f"echo session-$((100+{i}))")
    for i, pane in enumerate(panes):
        pane.wait_for(f"session-{100 + i}", timeout=15)
        assert f"session-{101 - i}" not in pane.capture()
    for pane in panes:
        pane.send_line("exit")
        assert pane.wait_exit(timeout=15) == 0
        pane.kill()
    assert wait_gone(tag, timeout=15) == []
    assert wait_until(lambda: port_free(port), 5)
    assert not os.path.exists(state / "ports" / f"{port}.sock")
