"""Run the benchmark suite: ``python -m bench [--quick]``.

Micro benchmarks run under pytest-benchmark (fast path, twin and peers in one run);
the results are written to bench/out/ as JSON and a Markdown table of ratios.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "out")


def run_micro(quick: bool) -> int:
    os.makedirs(OUT, exist_ok=True)
    cmd = [sys.executable, "-m", "pytest", HERE, "-q", "-p", "no:cacheprovider",
           "--benchmark-only", "--benchmark-columns=min,median,mean,ops",
           f"--benchmark-json={os.path.join(OUT, 'micro.json')}"]
    if quick:
        cmd += ["--benchmark-min-rounds=3", "--benchmark-max-time=0.05"]
    env = dict(os.environ, PYMOSH_BENCH_QUICK="1" if quick else "")
    return subprocess.call(cmd, env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, smaller corpus (CI)")
    args = parser.parse_args(argv)
    return run_micro(args.quick)


if __name__ == "__main__":
    sys.exit(main())
