"""Scrollback (#14) in real sessions: a tmux pane with a large history is the user's terminal;
``capture-pane -S -`` reads what its history holds."""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e.session import client_command, start_server
from tests.e2e.tmux import TmuxPane
from tests.frontend.helpers import child_env, program
from tests.support.procs import wait_gone
from tests.support.relay import RelayImpairment, UdpRelay

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

GAP = re.compile(r"^\[pymosh: (\d+) lines skipped\]$")


def _session(
    tmp_path,
    tag,
    *,
    scrollback: int | None,
    server=None,
    server_opts=(),
    port_via=None,
    history_limit: int = 200_000,
    width: int = 80,
    height: int = 24,
    command=("/bin/sh",),
    prompt: bool = True,
):
    """A client in a tmux pane; ``port_via(port)`` may put a relay between."""
    env = child_env(PYMOSH_TEST_TAG=tag, SHELL="/bin/sh", PS1="$ ", ENV="")
    port, key = start_server(
        (server or program("server")) + ["new", *server_opts, "-p", "0", "--", *command], env
    )
    extra = {} if scrollback is None else {"PYMOSH_SCROLLBACK": str(scrollback)}
    command = client_command(
        str(tmp_path), program("client"), port_via(port) if port_via else port, key, **extra
    )
    pane = TmuxPane(
        tmp_path,
        command,
        width=width,
        height=height,
        env=child_env(PYMOSH_TEST_TAG=tag, SHELL="/bin/sh", PS1="$ "),
        history_limit=history_limit,
    ).start()
    if prompt:
        pane.wait_prompt(timeout=20)
    return pane


def _numbers(pane: TmuxPane) -> list:
    """The pane's history and screen as numbers (lines of digits) and ("gap", n) markers."""
    out: list = []
    for line in pane.capture(history=True).splitlines():
        line = line.strip()
        if line.isdigit():
            out.append(int(line))
        elif GAP.match(line):
            out.append(("gap", int(GAP.match(line).group(1))))
    return out


def _wait_numbers(
    pane: TmuxPane, last: int, timeout: float, first: int | None = 1, settle: float = 3.0
) -> list:
    """Poll until the history and screen hold ``first``..``last`` (history arrives after
    the screen), or (``first`` None: gaps expected) end with ``last`` and stop changing
    for ``settle`` seconds; or ``timeout``."""
    deadline = time.monotonic() + timeout
    previous, since = None, time.monotonic()
    while True:
        numbers = _numbers(pane)
        if first is not None and numbers == list(range(first, last + 1)):
            return numbers
        if numbers != previous:
            previous, since = numbers, time.monotonic()
        elif (
            first is None and numbers and numbers[-1] == last and time.monotonic() - since >= settle
        ):
            return numbers
        if time.monotonic() > deadline:
            return numbers
        time.sleep(0.5)


def _check_prefix_with_gaps(numbers: list, first: int, last: int, others: int = 0) -> int:
    """Every entry is the next number or a gap marker counting the skipped lines; returns
    the number of gaps. ``others``: lines before ``first`` that are not numbers (the
    command line) and were history too: the first gap may count them."""
    expected, gaps = first, 0
    for item in numbers:
        if isinstance(item, tuple):
            skipped = item[1]
            if gaps == 0:
                skipped -= others  # the first gap also counts the command line
            expected += skipped
            gaps += 1
        else:
            assert item == expected, f"{item} where {expected} was due"
            expected += 1
    assert expected == last + 1
    return gaps


def _finish(pane: TmuxPane, tag: str, timeout: float = 15) -> None:
    pane.send_line("exit")
    assert pane.wait_exit(timeout=timeout) == 0
    assert "[mosh is exiting.]" in pane.capture(history=True)
    pane.kill()
    assert wait_gone(tag, timeout=10) == []


def test_seq_lands_in_the_local_history_exactly_once_in_order(tmp_path, tag):
    pane = _session(tmp_path, tag, scrollback=100_000)
    assert pane.info("#{alternate_on}") == "0"  # main screen: a terminal history
    pane.send_line("seq 1 100000")
    numbers = _wait_numbers(pane, 100_000, timeout=90)
    assert numbers == list(range(1, 100_001))

    # the alternate screen adds nothing; a resize duplicates nothing
    pane.send_line(
        "printf '\\033[?1049h'; seq 200001 200300; printf '\\033[?1049l'; echo alt-$((6*7))"
    )
    pane.wait_for("alt-42")  # (typed ahead, the next command would echo on the alt screen)
    # the rows those commands scrolled off reach the history before the resize; a taller
    # window (same width: a terminal that reflows wrapped rows moves a different number of
    # rows; README, limits) pulls history rows onto the screen, which the client returns
    time.sleep(1.5)
    pane.resize(80, 30)
    pane.send_line("seq 100001 101000")
    numbers = _wait_numbers(pane, 101_000, timeout=30)
    assert numbers == list(range(1, 101_001))

    # clear's ESC[3J erases the local history too, as it does over ssh
    pane.send_line("printf '\\033[H\\033[2J\\033[3J'")
    pane.wait_until(lambda _: not _numbers(pane), timeout=10, what="history erased")
    _finish(pane, tag)


def test_a_small_budget_gives_a_marked_gap(tmp_path, tag):
    pane = _session(tmp_path, tag, scrollback=1000)
    pane.send_line("seq 1 200000")
    numbers = _wait_numbers(pane, 200_000, timeout=90, first=None)
    delivered_command = "$ seq 1 200000" in pane.capture(history=True)
    gaps = _check_prefix_with_gaps(numbers, 1, 200_000, others=0 if delivered_command else 1)
    assert 1 <= gaps <= 2  # one, or two if output paused mid-way on a busy machine
    assert numbers[-1000:] == list(range(199_001, 200_001))
    _finish(pane, tag)


def test_history_through_loss_reorder_duplication_blackout_and_roam(tmp_path, tag):
    bad = RelayImpairment(delay_ms=20, jitter_ms=10, loss=0.3, duplicate=0.1, reorder=0.1)
    relays = []

    def via(port: int) -> int:
        relay = UdpRelay(port, bad, bad, seed=14, lifetime_s=300).start()
        relays.append(relay)
        return relay.listen_port

    pane = _session(tmp_path, tag, scrollback=100_000, port_via=via)
    relay = relays[0]
    try:
        pane.send_line("seq 1 1500; sleep 2; seq 1501 3000")
        time.sleep(1.0)
        relay.blackout(30)
        time.sleep(10)
        relay.switch_port()
        numbers = _wait_numbers(pane, 3000, timeout=150)
        assert numbers == list(range(1, 3001))
        _finish(pane, tag, timeout=60)  # the shutdown handshake, through 30 % loss
    finally:
        relay.stop()


def test_program_that_exits_with_history_still_pending_ends_cleanly(tmp_path, tag):
    # the server shuts down while lines wait to be sent: the shutdown state stays as it is
    pane = _session(
        tmp_path,
        tag,
        scrollback=100_000,
        prompt=False,
        command=("sh", "-c", "sleep 1; seq 1 50000; sleep 1"),
    )
    assert pane.wait_exit(timeout=30) == 0  # the client saw a clean shutdown
    assert "[mosh is exiting.]" in pane.capture(history=True)
    pane.kill()
    assert wait_gone(tag, timeout=10) == []


def test_stock_server_keeps_the_alternate_screen_and_no_history(tmp_path, tag):
    pane = _session(tmp_path, tag, scrollback=100_000, server=["mosh-server"])
    assert pane.info("#{alternate_on}") == "1"
    pane.send_line("seq 1 500")
    pane.wait_for("500")
    time.sleep(1)
    assert pane.info("#{history_size}") == "0"
    _finish(pane, tag)


@pytest.mark.parametrize("client_lines,server_opts", [(0, ()), (1000, ("--scrollback=0",))])
def test_scrollback_off_keeps_the_alternate_screen(tmp_path, tag, client_lines, server_opts):
    pane = _session(tmp_path, tag, scrollback=client_lines, server_opts=server_opts)
    assert pane.info("#{alternate_on}") == "1"
    pane.send_line("seq 1 500")
    pane.wait_for("500")
    time.sleep(1)
    assert pane.info("#{history_size}") == "0"
    _finish(pane, tag)
