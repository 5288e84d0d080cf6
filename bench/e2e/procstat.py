"""Per-process CPU and memory from /proc, and finding a UDP server by its port."""

from __future__ import annotations

import os

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float | None:
    """CPU time of ``pid`` itself (all its threads, not its children), in seconds.

    ``/proc/PID/task/*/schedstat`` count nanoseconds on the CPU per live thread;
    ``/proc/PID/stat``'s utime + stime (10 ms ticks, too coarse for short runs) is the
    fallback.
    """
    try:
        ns = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                ns += int(f.read().split()[0])
        return ns / 1e9
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    # after the comm field: state is fields[0], utime is field 14 overall -> index 11
    return (int(fields[11]) + int(fields[12])) / TICK


def wakeups(pid: int) -> int | None:
    """Voluntary context switches of ``pid``'s threads: how often it went to sleep waiting,
    i.e. (for an event loop) its wake-ups."""
    try:
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"voluntary_ctxt_switches:"):
                        total += int(line.split()[1])
        return total
    except (OSError, ValueError, IndexError):
        return None


def rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * PAGE / (1 << 20)
    except OSError:
        return None


def pss_mib(pid: int) -> float | None:
    """Proportional set size (shared pages split among their users), MiB."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def pid_by_udp_port(port: int) -> int | None:
    """The process holding the UDP socket bound to ``port`` (IPv4 or IPv6)."""
    inodes = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if int(parts[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(parts[9])
        except OSError:
            continue
    if not inodes:
        return None
    targets = {f"socket:[{i}]" for i in inodes}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{entry}/fd"):
                try:
                    if os.readlink(f"/proc/{entry}/fd/{fd}") in targets:
                        return int(entry)
                except OSError:
                    continue
        except OSError:
            continue
    return None


def tagged_pids(tag: str) -> list[int]:
    """Live PIDs whose environment holds ``PYMOSH_BENCH_TAG=<tag>``."""
    needle = f"PYMOSH_BENCH_TAG={tag}".encode()
    return _pids_where(lambda env: needle in env)


def state_dir_pids(directory: str) -> list[int]:
    """Live PIDs whose ``PYMOSH_STATE_DIR`` is ``directory`` or below it (session forkers
    a benchmark's installations started, which do not carry its tag)."""
    prefix = f"PYMOSH_STATE_DIR={directory.rstrip('/')}".encode()
    return _pids_where(lambda env: any(v == prefix or v.startswith(prefix + b"/") for v in env))


def _pids_where(match) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if match(env) and alive(int(entry)):
            found.append(int(entry))
    return found
