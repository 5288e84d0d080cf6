"""Processes a test started, seen through /proc (Linux): alive or not, children, memory,
argv and environment, and ending them by PID or by an environment tag (never by name)."""

from __future__ import annotations

import os
import signal
import time
from typing import Iterable, List

TAG_VAR = "PYMOSH_TEST_TAG"


def proc_state(pid: int) -> str | None:
    """The state letter of ``pid`` (``R``, ``S``, ``Z``, ...), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (a zombie is gone for us)."""
    state = proc_state(pid)
    return state is not None and state not in "ZX"


def wait_dead(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` s for ``pid`` to exit (or become a zombie); True if it did."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def children_of(pid: int) -> List[int]:
    """PIDs whose parent is ``pid`` (zombies included)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            out.append(int(name))
    return out


def zombie_children(pid: int) -> List[int]:
    """Children of ``pid`` that exited and were not reaped."""
    return [child for child in children_of(pid) if proc_state(child) == "Z"]


def read_proc(pid: int, name: str) -> bytes:
    """The raw contents of ``/proc/PID/<name>`` (``cmdline``, ``environ``, ...)."""
    with open(f"/proc/{pid}/{name}", "rb") as f:
        return f.read()


def proc_rss_kb(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def udp_drops(port: int) -> int:
    """Datagrams the kernel dropped on the UDP socket(s) bound to ``port``."""
    total = None
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                total = (total or 0) + int(fields[-1])
    if total is None:
        raise AssertionError(f"no UDP socket on port {port}")
    return total


def send_signal(pid: int, sig: int) -> None:
    """``os.kill`` that ignores a process already gone."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def terminate(pids: Iterable[int], timeout: float = 1.0) -> None:
    """SIGTERM the live ``pids``, wait up to ``timeout`` s, then the same with SIGKILL."""
    pids = list(pids)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            if pid_alive(pid):
                send_signal(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
            time.sleep(0.02)
        if not any(pid_alive(p) for p in pids):
            return


def tagged_pids(tag: str) -> List[int]:
    """PIDs of live processes whose environment holds ``PYMOSH_TEST_TAG=<tag>``."""
    needle = f"{TAG_VAR}={tag}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = read_proc(int(entry), "environ").split(b"\0")
        except OSError:
            continue
        if needle in environ and proc_state(int(entry)) not in (None, "Z"):
            found.append(int(entry))
    return found


def kill_tagged(tag: str, grace: float = 1.0) -> List[int]:
    """SIGTERM then SIGKILL every process carrying ``tag``; returns the PIDs that were alive."""
    pids = tagged_pids(tag)
    for pid in pids:
        send_signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and tagged_pids(tag):
        time.sleep(0.05)
    for pid in tagged_pids(tag):
        send_signal(pid, signal.SIGKILL)
    return pids


def wait_gone(tag: str, timeout: float) -> List[int]:
    """Wait until no tagged process is alive; return the survivors (empty on success)."""
    deadline = time.monotonic() + timeout
    while True:
        left = tagged_pids(tag)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)
