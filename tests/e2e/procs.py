"""Find and end the processes a test started, by an environment tag (never by name)."""

from __future__ import annotations

import os
import signal
import time


def tagged_pids(tag: str) -> list[int]:
    """PIDs of live processes whose environment holds ``PYMOSH_TEST_TAG=<tag>``."""
    needle = f"PYMOSH_TEST_TAG={tag}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read().split(b"\0")
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in environ and state != b"Z":
            found.append(int(entry))
    return found


def kill_tagged(tag: str, grace: float = 1.0) -> list[int]:
    """SIGTERM then SIGKILL every process carrying ``tag``; returns the PIDs that were alive."""
    pids = tagged_pids(tag)
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and tagged_pids(tag):
        time.sleep(0.05)
    for pid in tagged_pids(tag):
        _signal(pid, signal.SIGKILL)
    return pids


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def wait_gone(tag: str, timeout: float) -> list[int]:
    """Wait until no tagged process is alive; return the survivors (empty on success)."""
    deadline = time.monotonic() + timeout
    while True:
        left = tagged_pids(tag)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)
