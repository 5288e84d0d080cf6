"""``python -m bench.e2e [--quick] [--impl NAME=SERVER|CLIENT ...]``: end-to-end runs.

Each implementation is a server command line and a client command line (shell words);
by default stock Mosh 1.4.0 (``mosh-server``/``mosh-client``) and pymosh
(``python -m pymosh.frontend.server``/``client``). Sessions alternate A B A B; an
implementation that fails to start is recorded as n/a with the reason and skipped
afterwards. Results go to ``bench/out/e2e.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import sys
import tempfile
import time
import traceback

from . import scenarios
from .corpus_files import write_corpus
from .session import Impl, Session, SessionError

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "out")

# Quick is a smaller version of full, not a different measurement: every idle window
# holds at least two 3 s heartbeats, every bulk run moves MiB (CPU is read in ns).
FULL = {
    "rounds": 2,
    "keys": 120,
    "idle_s": 15.0,
    "corpus_bytes": 16 << 20,
    "seq": 2_000_000,
    "bulk_timeout": 60.0,
}
QUICK = {
    "rounds": 2,
    "keys": 60,
    "idle_s": 7.5,
    "corpus_bytes": 2 << 20,
    "seq": 500_000,
    "bulk_timeout": 30.0,
}


def _loadavg() -> list[float] | None:
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


def parse_impl(text: str) -> Impl:
    name, _, rest = text.partition("=")
    server, sep, client = rest.partition("|")
    if not name or not sep:
        raise argparse.ArgumentTypeError("expected NAME=SERVER CMD|CLIENT CMD")
    return Impl(name, shlex.split(server), shlex.split(client))


def run_session(
    impl: Impl, cfg: dict, corpus: dict[str, str], rng: random.Random, tag: str, log
) -> dict:
    res: dict = {"errors": {}}
    s = Session(impl, tag)
    try:
        s.start()
        res["startup"] = {
            "server_ready_s": s.times["server_ready"],
            "first_prompt_s": s.times["first_prompt"],
        }
        srv, cli = s.rss()
        res["rss_start_mib"] = {"server": srv, "client": cli}
        srv, cli = s.pss()
        res["pss_start_mib"] = {"server": srv, "client": cli}
        log(
            f"  {impl.name}: ready {s.times['server_ready'] * 1e3:.1f} ms, "
            f"prompt {s.times['first_prompt'] * 1e3:.0f} ms"
        )
        steps = [
            ("latency", lambda: scenarios.latency(s, cfg["keys"], rng)),
            ("idle", lambda: scenarios.idle(s, cfg["idle_s"])),
        ]
        for name, path in corpus.items():
            steps.append(
                (
                    f"bulk:cat {name}",
                    lambda path=path: scenarios.bulk(
                        s, f"cat {shlex.quote(path)}", cfg["bulk_timeout"]
                    ),
                )
            )
        steps.append(
            (
                f"bulk:seq {cfg['seq']}",
                lambda: scenarios.bulk(s, f"seq 1 {cfg['seq']}", cfg["bulk_timeout"]),
            )
        )
        for name, fn in steps:
            try:
                value = fn()
            except Exception as e:  # SessionError or a harness surprise: n/a, go on
                msg = str(e) if isinstance(e, SessionError) else f"{type(e).__name__}: {e}"
                res["errors"][name] = msg
                try:  # what the client showed, for whoever debugs it
                    res.setdefault("screens", {})[name] = s.text()
                except Exception:
                    pass
                log(f"  {impl.name}: {name}: n/a ({msg})")
                break  # the session is in an unknown state: stop using it
            if name.startswith("bulk:"):
                res.setdefault("bulk", {})[name[5:]] = value
                log(
                    f"  {impl.name}: {name}: {value['wall_s']:.2f} s, "
                    f"server cpu {value['server_cpu_s']}, wire {value['wire_s2c_bytes']} B"
                )
            else:
                res[name] = value
        srv, cli = s.rss()
        res["rss_after_bulk_mib"] = {"server": srv, "client": cli}
        srv, cli = s.pss()
        res["pss_after_bulk_mib"] = {"server": srv, "client": cli}
    finally:
        s.close()
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.e2e",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true")
    p.add_argument(
        "--impl",
        action="append",
        type=parse_impl,
        metavar="NAME=SERVER|CLIENT",
        help="an implementation to measure (repeatable; default: mosh and pymosh)",
    )
    p.add_argument("--rounds", type=int)
    p.add_argument("--out", default=os.path.join(OUT, "e2e.json"))
    args = p.parse_args(argv)
    cfg = dict(QUICK if args.quick else FULL)
    if args.rounds:
        cfg["rounds"] = args.rounds
    impls = args.impl or [Impl.mosh(), Impl.pymosh()]
    rng = random.Random(7)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    result = {
        "config": cfg,
        "quick": args.quick,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_start": _loadavg(),
        },
        "started": time.time(),
        "impls": {
            i.name: {"server": i.server, "client": i.client, "sessions": [], "error": None}
            for i in impls
        },
    }
    with tempfile.TemporaryDirectory(prefix="pymosh-bench-") as tmp:
        corpus, source = write_corpus(tmp, cfg["corpus_bytes"])
        result["corpus"] = {
            "source": source,
            "bytes_each": cfg["corpus_bytes"],
            "names": sorted(corpus),
        }
        log(f"e2e: corpus from {source}: {', '.join(sorted(corpus))}")
        result["floor"] = {"latency": scenarios.floor_latency(cfg["keys"], rng)}
        for r in range(cfg["rounds"]):
            order = impls if r % 2 == 0 else impls[::-1]
            for impl in order:
                entry = result["impls"][impl.name]
                if entry["error"]:
                    continue
                tag = f"bench-{os.getpid()}-{impl.name}-{r}"
                log(f"e2e round {r + 1}/{cfg['rounds']}: {impl.name}")
                try:
                    entry["sessions"].append(run_session(impl, cfg, corpus, rng, tag, log))
                except SessionError as e:
                    entry["error"] = str(e)
                    log(f"  {impl.name}: n/a ({e})")
                except Exception as e:  # never let one implementation sink the run
                    entry["error"] = f"{type(e).__name__}: {e}"
                    log(traceback.format_exc())
    result["finished"] = time.time()
    result["machine"]["loadavg_end"] = _loadavg()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    log(f"e2e: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
