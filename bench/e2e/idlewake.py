"""``python -m bench.e2e.idlewake [--sessions N] [--idle S] --impl NAME=SERVER|CLIENT ...``:
the CPU of an idle server per wake-up, every implementation in the same window.

A quick, precise companion of ``bench.e2e.many`` for work on the idle path: ``N`` sessions
(default 2) of every implementation are started (no relay, prediction off), connected and
left to settle; then ONE idle window of ``S`` seconds (default 30) is measured for all of
them at once, so a load spike on the shared machine falls on every implementation alike.
Per implementation: server CPU (ns, ``/proc/PID/task/*/schedstat``) per second and per
wake-up (voluntary context switches), and the ratio to the first implementation.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from . import procstat
from .many import NO_PREDICTION, kill_all, log, pump_all
from .session import Impl, Session, SessionError


def measure(impls: list[Impl], n: int, idle_s: float) -> dict[str, dict]:
    tag = f"bench-idlewake-{os.getpid()}"
    sessions: dict[str, list[Session]] = {impl.name: [] for impl in impls}
    try:
        for _ in range(n):
            for impl in impls:
                s = Session(impl, tag, relay=False, timeout=30.0, client_env=NO_PREDICTION)
                sessions[impl.name].append(s)
                s.start_server()
                s.release_launcher()
                s.start_client()
                s.wait_prompt()
        every = [s for group in sessions.values() for s in group]
        pump_all(every, 4.0)  # the connects settle, heartbeats fall into phase
        pids = {name: [s.server_pid for s in group] for name, group in sessions.items()}
        cpu0 = {name: [procstat.cpu_seconds(p) for p in ps] for name, ps in pids.items()}
        wake0 = {name: [procstat.wakeups(p) for p in ps] for name, ps in pids.items()}
        t0 = time.perf_counter()
        pump_all(every, idle_s)
        window = time.perf_counter() - t0
        out = {}
        for name, ps in pids.items():
            cpu = sum(procstat.cpu_seconds(p) - c for p, c in zip(ps, cpu0[name]))
            wakes = sum(procstat.wakeups(p) - w for p, w in zip(ps, wake0[name]))
            out[name] = {
                "ms_per_s": 1e3 * cpu / window / n,
                "wakes_per_s": wakes / window / n,
                "us_per_wake": 1e6 * cpu / wakes if wakes else float("nan"),
            }
        return out
    finally:
        kill_all([s for group in sessions.values() for s in group], tag)


def main(argv: list[str] | None = None) -> int:
    from .__main__ import _loadavg, parse_impl

    p = argparse.ArgumentParser(prog="python -m bench.e2e.idlewake", description=__doc__)
    p.add_argument("--impl", action="append", type=parse_impl, metavar="NAME=SERVER|CLIENT")
    p.add_argument("--sessions", type=int, default=2)
    p.add_argument("--idle", type=float, default=30.0)
    args = p.parse_args(argv)
    impls = args.impl or [Impl.mosh(), Impl.pymosh()]
    load0 = _loadavg()
    try:
        result = measure(impls, args.sessions, args.idle)
    except SessionError as e:
        log(f"idlewake: {e}")
        return 1
    base = result[impls[0].name]["ms_per_s"]
    for name, r in result.items():
        print(
            f"{name:>10}: {r['ms_per_s']:.4f} ms CPU/s, {r['wakes_per_s']:.2f} wake-ups/s, "
            f"{r['us_per_wake']:.0f} us each ({r['ms_per_s'] / base:.2f}x)"
        )
    print(f"load average {load0} -> {_loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
