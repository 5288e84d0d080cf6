"""``python -m bench.e2e.many [--quick] [--sessions N ...]``: many concurrent idle sessions.

For each N and each implementation (stock Mosh 1.4.0 and pymosh, alternating), N sessions
run at once on loopback, each a server, its own client in a pty owned by the harness and a
shell (no relay: N relay processes would load the machine under test). Measured:

- PSS (``/proc/PID/smaps_rollup``) of each server while it still waits for its client
  (``WAITING_SETTLE_S`` after its batch started),
  and of all servers and all clients once every session is connected and idle;
- CPU (ns, ``/proc/PID/task/*/schedstat``) of all servers and all clients over an idle
  window of ``--idle`` seconds (heartbeats every 3 s);
- keystroke echo in every session after the window: 5 letters, one session at a time,
  from the write to the client's pty until the letter is in its cell (clients run with
  prediction off: the server's answer is measured);
- a clean shutdown: ``exit`` in every shell, how many sessions ended by themselves within
  a bounded wait; the rest (and anything carrying the run's tag) is killed by pid;
- once, after the sessions: the floor of an idle session's CPU for any CPython program
  (``wakefloor``: two bare interpreters waking alike, over the same idle window).

Servers are started in batches of ``BATCH`` and connected before the next batch, so none
waits longer than Mosh's 60 s for its client. Results go to ``bench/out/sessions.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import selectors
import signal
import sys
import time

from . import procstat, wakefloor
from .__main__ import _loadavg
from .session import PROMPT, Impl, Session, SessionError

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "out")
BATCH = 10
WAITING_SETTLE_S = 0.5  # a server waiting for its client, measured once its start-up is over
# the servers' answer is what is measured, not a client's local guess (Mosh's adaptive
# prediction shows keys at once whenever the loaded machine makes its RTT estimate grow)
NO_PREDICTION = {"MOSH_PREDICTION_DISPLAY": "never"}
MAX_SESSIONS = 800  # a client's pty master per session; Session.pump uses select() (< 1024)
FULL = {"sessions": [1, 10, 50, 200], "idle_s": 60.0, "keys": 5}
# quick: 30 s, ten heartbeat periods, so CI's idle ratio is a smaller version of the full one
# (10 s, three periods, flipped it either side of 1 from run to run)
QUICK = {"sessions": [10], "idle_s": 30.0, "keys": 5}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _sum(values) -> float | None:
    vals = list(values)
    return None if not vals or any(v is None for v in vals) else sum(vals)


def pump_all(sessions: list[Session], seconds: float) -> None:
    """Feed whatever the clients draw into their screens for ``seconds``."""
    sel = selectors.DefaultSelector()
    for s in sessions:
        sel.register(s.master, selectors.EVENT_READ, s)
    try:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            for key, _ in sel.select(left):
                try:
                    key.data.pump(0)
                except (SessionError, OSError):
                    sel.unregister(key.fileobj)
    finally:
        sel.close()


def echo(s: Session, keys: int) -> list[float]:
    """ms until each of ``keys`` letters shows in its cell; a miss counts as None."""
    out: list[float] = []
    row = s.screen.cursor.y
    for i in range(keys):
        ch = "abcdefghijklmnopqrstuvwxyz"[i % 26]
        col = len(PROMPT) + i
        t0 = s.send(ch.encode())
        t1 = s.wait_until(lambda ch=ch, col=col: s.screen.buffer[row][col].data == ch, 2.0)
        out.append(None if t1 is None else (t1 - t0) * 1000.0)
        s.drain(quiet=0.005, limit=0.1)
        time.sleep(0.02)
    s.send(b"\x15")
    s.wait_until(s.at_prompt, 3.0)
    return out


def shutdown(sessions: list[Session], timeout: float) -> int:
    """``exit`` in every shell; how many clients ended by themselves within ``timeout``."""
    for s in sessions:
        try:
            if s.master is not None:
                s.send(b"\x15exit\r")
        except OSError:
            pass
    pending = {s.client_pid: s for s in sessions if s.client_pid}
    clean = 0
    end = time.monotonic() + timeout
    while pending and time.monotonic() < end:
        for pid in list(pending):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                pending.pop(pid).client_pid = None  # reaped: never signal a reused pid
                clean += 1
        pump_all(list(pending.values()), 0.1)
    return clean


def run_n(impl: Impl, n: int, cfg: dict, tag: str) -> dict:
    res: dict = {"n": n, "errors": []}
    if n > MAX_SESSIONS or not _enough_fds(n):
        res["errors"].append(f"{n} sessions need more file descriptors than this harness has")
        return res
    sessions: list[Session] = []
    waiting_pss: list[float | None] = []
    t0 = time.monotonic()
    try:
        while len(sessions) < n:
            batch = []
            for _ in range(min(BATCH, n - len(sessions))):
                s = Session(impl, tag, relay=False, timeout=30.0, client_env=NO_PREDICTION)
                sessions.append(s)
                batch.append(s)
                s.start_server()
                s.release_launcher()
            time.sleep(WAITING_SETTLE_S)
            waiting_pss += [procstat.pss_mib(s.server_pid) for s in batch]
            for s in batch:
                s.start_client()
            for s in batch:
                s.wait_prompt()
        res["start_s"] = time.monotonic() - t0
        res["server_ready_ms"] = [s.times["server_ready"] * 1e3 for s in sessions]
        log(f"  {impl.name} x{n}: all prompts after {res['start_s']:.1f} s")
        pump_all(sessions, 2.0)  # let the connects settle
        srv = [s.server_pid for s in sessions]
        cli = [s.client_pid for s in sessions]
        cpu0 = [procstat.cpu_seconds(p) for p in srv], [procstat.cpu_seconds(p) for p in cli]
        wakes0 = [procstat.wakeups(p) for p in srv]
        w0 = time.perf_counter()
        pump_all(sessions, cfg["idle_s"])
        window = time.perf_counter() - w0
        cpu1 = [procstat.cpu_seconds(p) for p in srv], [procstat.cpu_seconds(p) for p in cli]
        wakes1 = [procstat.wakeups(p) for p in srv]
        res["idle_s"] = window
        woke = _sum(
            b - a if a is not None and b is not None else None for a, b in zip(wakes0, wakes1)
        )
        res["idle_server_wakeups_per_s"] = None if woke is None else woke / window
        for who, i in (("server", 0), ("client", 1)):
            d = _sum(
                b - a if a is not None and b is not None else None for a, b in zip(cpu0[i], cpu1[i])
            )
            res[f"idle_{who}_cpu_pct"] = None if d is None else 100.0 * d / window
        res["server_pss_waiting_mib"] = waiting_pss
        res["server_pss_mib"] = [procstat.pss_mib(p) for p in srv]
        res["server_rss_mib"] = [procstat.rss_mib(p) for p in srv]
        res["client_pss_mib"] = [procstat.pss_mib(p) for p in cli]
        res["server_pss_total_mib"] = _sum(res["server_pss_mib"])
        res["client_pss_total_mib"] = _sum(res["client_pss_mib"])
        res["echo_ms"] = [echo(s, cfg["keys"]) for s in sessions]
        flat = [x for e in res["echo_ms"] for x in e]
        log(
            f"  {impl.name} x{n}: servers PSS {res['server_pss_total_mib']} MiB, idle CPU "
            f"{res['idle_server_cpu_pct']} %, echo misses {flat.count(None)}"
        )
    except SessionError as e:
        res["errors"].append(str(e))
        log(f"  {impl.name} x{n}: n/a ({e})")
    finally:
        t_stop = time.monotonic()
        res["clean_exits"] = shutdown(sessions, 10.0 + 0.1 * n)
        res["stop_s"] = time.monotonic() - t_stop
        kill_all(sessions, tag)
    return res


def _enough_fds(n: int) -> bool:
    """Room for a pty master and a launcher's two pipes per session; raise the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = n + 3 * BATCH + 64
    if soft != resource.RLIM_INFINITY and soft < need:
        new = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    return soft == resource.RLIM_INFINITY or soft >= need


def _signal(pid: int | None, sig: int) -> None:
    if pid:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def kill_all(sessions: list[Session], tag: str) -> None:
    """What a clean shutdown left: TERM, then KILL, by pid; then by the run's tag."""
    pids = [p for s in sessions for p in (s.client_pid, s.server_pid) if p]
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    end = time.monotonic() + 2.0
    while time.monotonic() < end and any(procstat.alive(p) for p in pids):
        time.sleep(0.05)
    for pid in pids:
        if procstat.alive(pid):
            _signal(pid, signal.SIGKILL)
    for s in sessions:
        if s.client_pid:
            try:
                os.waitpid(s.client_pid, 0)
            except ChildProcessError:
                pass
            s.client_pid = None
        if s.master is not None:
            os.close(s.master)
            s.master = None
        s.release_launcher()
    for _ in range(2):  # the shells, a server whose client never came: by tag
        for pid in procstat.tagged_pids(tag):
            _signal(pid, signal.SIGKILL)


def idle_cpu_lines(result: dict) -> list[str]:
    """Idle server CPU per session (ms of CPU per second) and each implementation's ratio
    to the first one's, per session count."""
    impls = list(result["impls"])
    lines = []
    for k, n in enumerate(result["config"]["sessions"]):
        per = {}
        for name in impls:
            runs = result["impls"][name]["runs"]
            pct = runs[k].get("idle_server_cpu_pct") if k < len(runs) else None
            per[name] = None if pct is None else 10.0 * pct / n  # % of a CPU -> ms/s
        base = per[impls[0]]
        cells = [
            f"{name} {v:.3f} ms/s"
            + (f" ({v / base:.2f}x)" if base and name != impls[0] else "")
            + _wakeups(result["impls"][name]["runs"], k, n, v)
            for name, v in per.items()
            if v is not None
        ]
        lines.append(f"idle server CPU per session, {n} sessions: " + ", ".join(cells))
    return lines


def _wakeups(runs: list, k: int, n: int, ms_per_s: float) -> str:
    """`` [W wake-ups/s, U us each]`` per session, when the run counted them."""
    rate = runs[k].get("idle_server_wakeups_per_s") if k < len(runs) else None
    if not rate:
        return ""
    per = rate / n
    return f" [{per:.2f} wake-ups/s, {1000.0 * ms_per_s / per:.0f} us each]"


def main(argv: list[str] | None = None) -> int:
    from .__main__ import parse_impl

    p = argparse.ArgumentParser(
        prog="python -m bench.e2e.many",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true")
    p.add_argument("--impl", action="append", type=parse_impl, metavar="NAME=SERVER|CLIENT")
    p.add_argument(
        "--sessions",
        type=int,
        action="append",
        metavar="N",
        help="session counts (repeatable; default 1 10 50 200, quick 10)",
    )
    p.add_argument("--idle", type=float, help="idle window, s (default 60, quick 30)")
    p.add_argument("--out", default=os.path.join(OUT, "sessions.json"))
    args = p.parse_args(argv)
    cfg = dict(QUICK if args.quick else FULL)
    if args.sessions:
        cfg["sessions"] = args.sessions
    if args.idle:
        cfg["idle_s"] = args.idle
    impls = args.impl or [Impl.mosh(), Impl.pymosh()]
    result = {
        "config": cfg,
        "quick": args.quick,
        "started": time.time(),
        "machine": {"cpus": os.cpu_count(), "loadavg_start": _loadavg()},
        "impls": {i.name: {"server": i.server, "client": i.client, "runs": []} for i in impls},
    }
    for k, n in enumerate(cfg["sessions"]):
        for impl in impls if k % 2 == 0 else impls[::-1]:
            log(f"sessions: {impl.name} x{n}")
            tag = f"bench-many-{os.getpid()}-{impl.name}-{n}"
            result["impls"][impl.name]["runs"].append(run_n(impl, n, cfg, tag))
    log("sessions: the floor, two bare CPython processes waking alike")
    result["floor"] = wakefloor.measure(cfg["idle_s"])
    result["finished"] = time.time()
    result["machine"]["loadavg_end"] = _loadavg()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    log(f"sessions: wrote {args.out}")
    for line in idle_cpu_lines(result):
        log(line)
    per_wake = ", ".join(f"{us:.0f}" for us in result["floor"]["us_per_wake"])
    log(f"floor: a bare CPython process waking alike, {per_wake} us per wake-up")
    return 0


if __name__ == "__main__":
    sys.exit(main())
