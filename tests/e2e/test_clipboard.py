"""OSC 52 end to end in tmux: every selection reaches a pymosh client's terminal; a stock
mosh-client keeps Mosh's behaviour (selection "c" only); a query is never forwarded."""

from __future__ import annotations

import base64
import subprocess
import time

import pytest

from tests.e2e.session import client_command, start_server
from tests.frontend.helpers import child_env, program

pytestmark = [pytest.mark.e2e]


def _session(tmp_path, tag, pane_factory, client):
    env = child_env(PYMOSH_TEST_TAG=tag, SHELL="/bin/sh", PS1="$ ", ENV="")
    port, key = start_server(program("server") + ["new", "-p", "0", "--", "/bin/sh"], env)
    pane = pane_factory(
        client_command(str(tmp_path), client, port, key), 80, 24, SHELL="/bin/sh", PS1="$ "
    )
    pane._tmux("set-option", "-s", "set-clipboard", "on")
    pane.wait_prompt(timeout=20)
    return pane


def _buffers(pane) -> list[str]:
    out = subprocess.run(
        ["tmux", "-S", pane.socket, "list-buffers", "-F", "#{buffer_sample}"],
        capture_output=True,
        text=True,
        env=pane.env,
        check=False,
    ).stdout
    return out.splitlines()


def _write(pane, selection: str, text: str) -> None:
    payload = base64.b64encode(text.encode()).decode()
    pane.send_line(f"printf '\\033]52;{selection};{payload}\\a'; echo sent-{text}")
    pane.wait_for(f"sent-{text}")


def _wait_buffer(pane, text: str, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in line for line in _buffers(pane)):
            return True
        time.sleep(0.1)
    return False


def test_every_selection_reaches_a_pymosh_client(tmp_path, tag, pane_factory):
    pane = _session(tmp_path, tag, pane_factory, program("client"))
    _write(pane, "p", "primary-text")
    assert _wait_buffer(pane, "primary-text")
    _write(pane, "c", "clip-text")
    assert _wait_buffer(pane, "clip-text")
    pane.send_line("printf '\\033]52;c;?\\a'; echo asked")  # a query: never forwarded
    pane.wait_for("asked")
    time.sleep(0.5)
    assert all("?" != line.strip() for line in _buffers(pane))


@pytest.mark.interop
def test_stock_client_keeps_moshs_c_only(tmp_path, tag, pane_factory):
    pane = _session(tmp_path, tag, pane_factory, ["mosh-client"])
    _write(pane, "p", "primary-text")
    _write(pane, "c", "clip-text")
    assert _wait_buffer(pane, "clip-text")
    assert not any("primary-text" in line for line in _buffers(pane))
