"""Run the benchmark suite: ``python -m bench [--quick]``.

1. Micro benchmarks under pytest-benchmark (fast path, twin and peers in one run)
   -> ``bench/out/micro.json``.
2. End-to-end sessions on loopback, stock Mosh 1.4.0 vs pymosh, alternating
   (``python -m bench.e2e``) -> ``bench/out/e2e.json``.
   Then where the first prompt's time goes (``python -m bench.e2e.startup``: direct and
   ``pymosh --local``) -> ``startup.json``, and bulk output with scrollback off and on
   (``python -m bench.e2e.scrollback``) -> ``scrollback.json``.
3. Many concurrent idle sessions, stock Mosh vs pymosh (``python -m bench.e2e.many``):
   memory (PSS), idle CPU, echo per session, for N = 1, 10, 50, 200 (quick: 10)
   -> ``bench/out/sessions.json``.
4. Full mode only: the keystroke trace replay (``python -m bench.trace_replay``) over a
   100 ms delayed link, stock mosh-server with each client
   -> ``bench/out/trace_replay_{mosh,pymosh}.json``.
5. ``bench/out/report.md`` with ratio tables and one PNG per measurement
   (``python -m bench.report`` re-renders from the JSON).

A part that fails is reported in the report, never hides the others. The exit status is
the micro benchmarks' (a benchmark that fails its own assertions is a bug).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from bench import child_pythonpath

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")


def _env(quick: bool) -> dict[str, str]:
    return dict(
        os.environ, PYTHONPATH=child_pythonpath(ROOT), PYMOSH_BENCH_QUICK="1" if quick else ""
    )


def _run(cmd: list[str], quick: bool, timeout: float, notes: list[str], what: str) -> int:
    t0 = time.monotonic()
    print(f"== {what}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    try:
        rc = subprocess.run(cmd, env=_env(quick), cwd=ROOT, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        notes.append(f"{what}: stopped after {timeout:.0f} s (results may be missing)")
        return 124
    if rc not in (0, 5):
        notes.append(f"{what}: exit status {rc}")
    print(f"== {what}: {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
    return rc


def run_micro(quick: bool, notes: list[str]) -> int:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        HERE,
        "-q",
        "-p",
        "no:cacheprovider",
        "--benchmark-only",
        "--benchmark-columns=min,median,mean,ops",
        f"--benchmark-json={os.path.join(OUT, 'micro.json')}",
    ]
    if quick:
        cmd += ["--benchmark-min-rounds=3", "--benchmark-max-time=0.05"]
    rc = _run(cmd, quick, 900 if not quick else 300, notes, "micro benchmarks")
    return 0 if rc == 5 else rc  # 5: nothing collected


def run_e2e(quick: bool, impls: list[str], notes: list[str]) -> None:
    cmd = [sys.executable, "-m", "bench.e2e", "--out", os.path.join(OUT, "e2e.json")]
    cmd += ["--quick"] if quick else []
    for i in impls:
        cmd += ["--impl", i]
    _run(cmd, quick, 240 if quick else 900, notes, "end-to-end")


def run_startup(quick: bool, notes: list[str]) -> None:
    cmd = [sys.executable, "-m", "bench.e2e.startup", "--rounds", "3" if quick else "7"]
    _run(cmd, quick, 120 if quick else 600, notes, "first prompt")


def run_sessions(quick: bool, impls: list[str], notes: list[str]) -> None:
    cmd = [sys.executable, "-m", "bench.e2e.many", "--out", os.path.join(OUT, "sessions.json")]
    cmd += ["--quick"] if quick else []
    for i in impls:
        cmd += ["--impl", i]
    _run(cmd, quick, 300 if quick else 3600, notes, "many sessions")


def run_scrollback(quick: bool, notes: list[str]) -> None:
    cmd = [
        sys.executable,
        "-m",
        "bench.e2e.scrollback",
        "--out",
        os.path.join(OUT, "scrollback.json"),
    ] + (["--quick"] if quick else [])
    _run(cmd, quick, 600 if quick else 3000, notes, "scrollback on/off")


TRACE_CLIENTS = {
    "mosh": "mosh-client {ip} {port}",
    "pymosh": f"{sys.executable} -m pymosh.frontend.client {{ip}} {{port}}",
}


def run_trace(notes: list[str]) -> None:
    for name, client in TRACE_CLIENTS.items():
        cmd = [
            sys.executable,
            "-m",
            "bench.trace_replay",
            "--delays",
            "100",
            "--losses",
            "0",
            "--client",
            client,
            "--json",
            os.path.join(OUT, f"trace_replay_{name}.json"),
        ]
        _run(cmd, False, 240, notes, f"trace replay ({name} client)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds, smaller corpus (CI)")
    parser.add_argument("--no-micro", action="store_true")
    parser.add_argument("--no-e2e", action="store_true")
    parser.add_argument("--no-sessions", action="store_true")
    parser.add_argument("--no-trace", action="store_true")
    parser.add_argument(
        "--impl",
        action="append",
        default=[],
        metavar="NAME=SERVER|CLIENT",
        help="end-to-end implementation (see python -m bench.e2e --help)",
    )
    args = parser.parse_args(argv)
    os.makedirs(OUT, exist_ok=True)
    notes: list[str] = []
    mode = "quick" if args.quick else "full"
    notes.append(f"mode: {mode} (`python -m bench{' --quick' if args.quick else ''}`)")
    # results of a previous run must not pass for this run's
    stale = (
        (["micro.json"] if not args.no_micro else [])
        + (["e2e.json", "startup.json", "scrollback.json"] if not args.no_e2e else [])
        + (["sessions.json"] if not args.no_sessions else [])
        + ([f"trace_replay_{n}.json" for n in TRACE_CLIENTS] if not args.no_trace else [])
    )
    for name in stale:
        try:
            os.remove(os.path.join(OUT, name))
        except FileNotFoundError:
            pass
    rc = 0
    t_start = time.monotonic()
    if not args.no_micro:
        rc = run_micro(args.quick, notes)
    if not args.no_e2e:
        run_e2e(args.quick, args.impl, notes)
        run_startup(args.quick, notes)
        run_scrollback(args.quick, notes)
    if not args.no_sessions:
        run_sessions(args.quick, args.impl, notes)
    if not args.quick and not args.no_trace:
        run_trace(notes)
    notes.append(f"wall time of this run: {time.monotonic() - t_start:.0f} s")
    sys.path.insert(0, ROOT)
    from bench.report import render

    print(render(OUT, notes))
    return rc


if __name__ == "__main__":
    sys.exit(main())
