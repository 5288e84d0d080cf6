"""A client that vanishes, and SIGUSR1 (protocol.md §7.1, §5.8): stock mosh-server 1.4.0
is the reference, pymosh-server must behave the same.  No process outlives its test and
no zombie is left behind."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.hostile.miniclient import connect, roundtrip
from tests.support.procs import children_of, pid_alive, zombie_children
from tests.support.servers import PYMOSH, STOCK, cat_command, start_server, stop_server

SERVERS = [pytest.param(STOCK, marks=pytest.mark.interop), PYMOSH]


def _start(kind, tmp_path, name, env):
    d = tmp_path / name
    d.mkdir()
    server = start_server(kind, str(d), cat_command(str(d / "typed")), env_extra=env)
    return server


def _exit_times(servers: dict, limit: float, expect) -> dict:
    """Exit time of each server, watching until those in `expect` are gone (or limit)."""
    t0 = time.monotonic()
    times: dict = {}
    while time.monotonic() - t0 < limit and not set(expect) <= set(times):
        for name, s in servers.items():
            if name not in times and not s.alive():
                times[name] = time.monotonic() - t0
        time.sleep(0.01)
    return times


def _run(kind, tmp_path, configs, expect, before_signal=None, signal_to=None, limit=12.0):
    servers = {}
    clients = {}
    try:
        for name, env in configs.items():
            servers[name] = _start(kind, tmp_path, name, env)
        for name, s in servers.items():
            clients[name] = connect(s)
            roundtrip(s, clients[name], name.encode())
        ptys = {name: children_of(s.pid) for name, s in servers.items()}
        for c in clients.values():
            c.close()  # the client vanishes: no shutdown, no more packets
        if before_signal:
            time.sleep(before_signal)
        for name in signal_to or ():
            os.kill(servers[name].pid, signal.SIGUSR1)
        times = _exit_times(servers, limit, expect)
        time.sleep(0.5)  # the others must still be there a while later
        still = {n for n, s in servers.items() if s.alive()}
        return times, still, ptys
    finally:
        for s in servers.values():
            stop_server(s)
        for s in servers.values():
            assert not s.alive()


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(STOCK, marks=pytest.mark.interop),
        PYMOSH,
    ],
)
def test_network_timeout(kind, tmp_path):
    times, still, ptys = _run(
        kind,
        tmp_path,
        {
            "tmout": {"MOSH_SERVER_NETWORK_TMOUT": "2"},
            "plain": {},
        },
        expect={"tmout"},
        limit=5.0,
    )
    # "Network idle for 2 seconds." then exit; stock exits ~2.0 s after the last state
    assert "tmout" in times and 1.5 <= times["tmout"] <= 4.5, times
    assert still == {"plain"}, (times, still)
    assert not any(pid_alive(p) for p in ptys["tmout"])
    assert zombie_children(os.getpid()) == []


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("kind", SERVERS)
def test_sigusr1_and_signal_timeout(kind, tmp_path):
    times, still, ptys = _run(
        kind,
        tmp_path,
        {
            "always": {},  # SIGUSR1 always shuts down
            "quiet": {"MOSH_SERVER_SIGNAL_TMOUT": "1"},  # no state for > 1 s: shuts down
            "recent": {"MOSH_SERVER_SIGNAL_TMOUT": "60"},  # state < 60 s ago: ignores it
        },
        expect={"always", "quiet"},
        before_signal=1.5,
        signal_to=("always", "quiet", "recent"),
        limit=11.0,
    )
    # the shutdown to a vanished client gives up after 16 tries / 10 s (§5.8);
    # stock takes ~4 s (16 x 250 ms)
    assert set(times) == {"always", "quiet"}, (times, still)
    assert all(t <= 10.5 for t in times.values()), times
    assert still == {"recent"}
    assert not any(pid_alive(p) for p in ptys["always"] + ptys["quiet"])
    assert zombie_children(os.getpid()) == []
