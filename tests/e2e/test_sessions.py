"""Whole sessions in a fixed-size tmux pane, for every client/server pairing."""

from __future__ import annotations

import pytest

from tests.e2e.session import client_command, start_server
from tests.frontend.helpers import child_env, program
from tests.support.procs import wait_gone

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STOCK_SERVER = ["mosh-server"]
STOCK_CLIENT = ["mosh-client"]
PY_SERVER = program("server")
PY_CLIENT = program("client")

PAIRS = {
    "stock-client/pymosh-server": (STOCK_CLIENT, PY_SERVER),
    "pymosh-client/stock-server": (PY_CLIENT, STOCK_SERVER),
    "pymosh-client/pymosh-server": (PY_CLIENT, PY_SERVER),
}


@pytest.fixture(params=sorted(PAIRS))
def session(request, tmp_path, tag, pane_factory):
    """A connected session at 80x24 with a plain /bin/sh prompt; yields the tmux pane."""
    client, server = PAIRS[request.param]
    env = child_env(PYMOSH_TEST_TAG=tag, SHELL="/bin/sh", PS1="$ ", ENV="")
    port, key = start_server(server + ["new", "-p", "0", "--", "/bin/sh"], env)
    pane = pane_factory(
        client_command(str(tmp_path), client, port, key), 80, 24, SHELL="/bin/sh", PS1="$ "
    )
    pane.wait_prompt(timeout=20)
    return pane


def test_command_output_resize_and_exit(session, tag):
    pane = session
    pane.send_line("echo pymosh-$((6*7))")
    pane.wait_for("pymosh-42")

    pane.send_line("stty size")
    pane.wait_for("24 80")
    pane.resize(100, 30)
    pane.send_line("clear; stty size")
    pane.wait_for("30 100")

    pane.send_line("exit")
    assert pane.wait_exit(timeout=15) == 0
    assert "[mosh is exiting.]" in pane.capture(history=True)
    pane.kill()
    assert wait_gone(tag, timeout=10) == []


def test_colours_wide_and_combining_characters(session):
    pane = session
    # octal escapes, so the typed command line itself never matches what we wait for
    pane.send_line(r"printf '\033[31mR\105D\033[0m \344\270\255\346\226\207 e\314\201!\n'")
    screen = pane.wait_for("RED", escapes=True)
    assert "\x1b[31mRED" in screen
    text = pane.wait_for("中文 e\u0301!")  # wide CJK + e with a combining acute accent
    assert "中文" in text


def test_escape_key_quits_and_the_server_follows(session, tag):
    pane = session
    pane.send_keys("C-^")
    pane.wait_for('"." quits')  # both clients show the escape help line
    pane.send_keys(".")
    assert pane.wait_exit(timeout=15) == 0
    pane.kill()
    assert wait_gone(tag, timeout=10) == []  # the server acknowledged and exited
