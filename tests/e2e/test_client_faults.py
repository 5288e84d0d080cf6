"""Typing through a hostile network: a real client in tmux, our server, a UDP relay between.

The client (stock ``mosh-client``, and ``pymosh-client``) talks to the relay's port; the
relay drops 30 % of datagrams each way, duplicates and reorders them, changes the source
port the server sees (a roam) and goes dark for a few seconds in the middle of the typing.
The server runs ``cat`` in raw mode into a file, which must end up holding every typed
byte exactly once and in order. Then Ctrl-^ . ends the session and the server must exit.
"""

from __future__ import annotations

import random
import shlex
import string
import time

import pytest

from tests.e2e.session import client_command, launch_server
from tests.frontend.helpers import child_env, program
from tests.support.procs import pid_alive, wait_gone
from tests.support.relay import RelayImpairment, UdpRelay

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CLIENTS = {"stock-client": ["mosh-client"], "pymosh-client": program("client")}

TOTAL = 3000
CHUNK = 50
BLACKOUT_S = 5.0


def _start_server(target: str, env: dict[str, str]) -> tuple[int, str, int]:
    """pymosh-server running cat into ``target``; returns (port, key, server pid)."""
    script = f"stty raw -echo; printf READY; exec cat > {shlex.quote(target)}"
    argv = program("server") + ["new", "-p", "0", "--", "sh", "-c", script]
    port, key, pid, stderr = launch_server(argv, env)
    assert pid, f"server did not detach: {stderr}"
    return port, key, pid


def _chunks(text: str, size: int) -> list[str]:
    """Split ``text`` for ``tmux send-keys -l``: no piece may start with '-' (read as an
    option) or end with ';' (read as a command separator), so boundaries shift by one."""
    pieces, start = [], 0
    while start < len(text):
        end = min(start + size, len(text))
        while end < len(text) and (text[end - 1] == ";" or text[end] == "-"):
            end += 1
        pieces.append(text[start:end])
        start = end
    return pieces


def _read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode("ascii", "replace")
    except FileNotFoundError:
        return ""


@pytest.mark.parametrize("client_name", sorted(CLIENTS))
def test_typing_survives_loss_roam_and_blackout(client_name, tmp_path, tag, pane_factory):
    rng = random.Random(1234)
    alphabet = string.ascii_letters + string.digits + string.punctuation + " "
    typed = "".join(rng.choice(alphabet) for _ in range(TOTAL))
    # the text must not start with '-' (tmux option) or end with ';' (tmux separator)
    typed = "x" + typed[1:-1] + "x"
    target = str(tmp_path / "typed.out")

    env = child_env(PYMOSH_TEST_TAG=tag)
    port, key, server_pid = _start_server(target, env)
    impair = RelayImpairment(delay_ms=5, jitter_ms=10, loss=0.3, duplicate=0.2, reorder=0.3)
    with UdpRelay(
        port, up=impair, down=RelayImpairment(**vars(impair)), seed=7, lifetime_s=60
    ) as relay:
        pane = pane_factory(
            client_command(str(tmp_path), CLIENTS[client_name], relay.listen_port, key), 80, 24
        )
        pane.wait_for("READY", timeout=20)

        pieces = _chunks(typed, CHUNK)
        assert "".join(pieces) == typed
        middle = len(pieces) // 2
        old_port = relay.upstream.getsockname()[1]
        for i, piece in enumerate(pieces):
            if i == middle // 2:
                assert relay.switch_port() != old_port  # roam: the server must follow
                down_at_roam = relay.stats["down"]
            if i == middle:
                relay.blackout(BLACKOUT_S)  # typing goes on in the dark
            pane.send_keys(piece)
            time.sleep(0.08)

        deadline = time.monotonic() + BLACKOUT_S + 15
        while len(_read(target)) < len(typed) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # late duplicates would land now
        got = _read(target)
        assert len(got) == len(typed), f"{len(got)} of {len(typed)} bytes arrived"
        assert got == typed, "bytes reordered, duplicated or corrupted"
        assert relay.stats["dropped"] > 100, relay.stats  # the network really was bad
        # replies reach the relay only on the new upstream socket: the server roamed
        assert relay.stats["down"] > down_at_roam + 20, relay.stats

        # Quit on a healed network: under loss the server may exit right after its one
        # shutdown ack, and if that ack is lost the client times out with status 1 (Mosh's
        # own behaviour), which would make the exit status a coin toss.
        relay.up, relay.down = RelayImpairment(), RelayImpairment()
        pane.send_keys("C-^")
        pane.send_keys(".")
        status = pane.wait_exit(timeout=15)
        assert status == 0, pane.capture(history=True)
        deadline = time.monotonic() + 15
        while pid_alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(server_pid), "the server did not exit after the client quit"
    pane.kill()
    assert wait_gone(tag, timeout=10) == []
