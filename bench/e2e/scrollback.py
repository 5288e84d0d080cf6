"""``python -m bench.e2e.scrollback [--quick] [--out FILE]``: scrollback (#14) on vs off.

Sessions of stock Mosh 1.4.0, pymosh with scrollback off (``PYMOSH_SCROLLBACK=0``) and
pymosh with it on (the default 10,000 lines), each ``cat``-ing every 16 MiB corpus file
(as well with --quick) and running ``seq 1 2000000`` (1,000,000 with --quick), as the bulk
runs of ``bench.e2e``; and pymosh with 100,000 lines running ``seq 1 100000`` (20,000 with
--quick: every line should arrive); each ``--rounds`` times (5 with --quick: a smaller full
run whose figures are medians, not one noisy run of start-up-sized output):

* wall time until the end marker shows, server and client CPU, bytes on the wire (server
  -> client) and bytes the client wrote to its terminal until then, and in total once the
  history has arrived;
* ``history_lines``: lines the client scrolled into its terminal's history (main screen
  only: a terminal keeps none for the alternate screen, where Mosh and pymosh without
  scrollback draw), counted on the pty's output by a pyte screen;
* ``history_after_screen_s``: how long after the marker showed the last history line
  arrived (history is paced behind the screen).

Results go to ``bench/out/scrollback.json`` and a table on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time

import pyte

from .corpus_files import write_corpus
from .scenarios import MARK, RESET, marker_shown
from .session import Impl, Screen, Session, SessionError

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "out")
SETTLE_S = 3.0  # no new history line for this long: the history is complete
QUICK_BYTES = 16 << 20  # corpus files with --quick: as the full run (a pymosh `cat` of 8 MiB
# takes ~0.1 s, too short on a shared 2-core host to resolve the 10 % scrollback goal)
QUICK_ROUNDS = 5  # walls of ~0.1 s on a shared 2-core host vary by ±20 %: a median of 5
HISTORY_LIMIT_S = 180.0


class CountingScreen(Screen):
    """A pyte screen that counts the lines scrolled off the top of the main screen."""

    def __init__(self, columns: int, lines: int) -> None:
        super().__init__(columns, lines)
        self.scrolled = 0
        self.last_scroll = 0.0
        self.alternate = False
        self.clock = time.perf_counter  # when the bytes being fed were read

    def set_mode(self, *modes, **kwargs) -> None:
        if kwargs.get("private") and {47, 1047, 1049} & set(modes):
            self.alternate = True
        super().set_mode(*modes, **kwargs)

    def reset_mode(self, *modes, **kwargs) -> None:
        if kwargs.get("private") and {47, 1047, 1049} & set(modes):
            self.alternate = False
        super().reset_mode(*modes, **kwargs)

    def index(self) -> None:
        top, bottom = self.margins or (0, self.lines - 1)
        if not self.alternate and self.cursor.y == bottom and top == 0 and bottom == self.lines - 1:
            self.scrolled += 1
            self.last_scroll = self.clock()
        super().index()


def configs(also: list[str], state_root: str) -> list[tuple[str, Impl]]:
    """Mosh, then each pymosh installation with scrollback off and on (10,000 lines): this
    python's, and every ``--also NAME=BINDIR`` (another installation's ``pymosh-server`` and
    ``pymosh-client``, e.g. a venv of main, with its own state directory and forker)."""
    installs = [("pymosh", Impl.pymosh())]
    for spec in also:
        name, _, bindir = spec.partition("=")
        if not name or not bindir:
            raise SystemExit(f"--also: expected NAME=BINDIR, got {spec!r}")
        impl = Impl(name, [os.path.join(bindir, "pymosh-server")], [])
        impl.client = [os.path.join(bindir, "pymosh-client")]
        state = os.path.join(state_root, name)
        os.makedirs(state, mode=0o700, exist_ok=True)
        impl.env["PYMOSH_STATE_DIR"] = state
        installs.append((name, impl))
    out = [("mosh", Impl.mosh())]
    for install, base in installs:
        for label, lines in (("scrollback off", "0"), ("scrollback 10k", "10000")):
            impl = Impl(base.name, list(base.server), list(base.client), dict(base.env))
            impl.env["PYMOSH_SCROLLBACK"] = lines
            out.append((f"{install} {label}", impl))
    return out


def keeps_history(impl: Impl) -> bool:
    """The session sends history (Mosh and pymosh with scrollback 0 send none)."""
    return impl.env.get("PYMOSH_SCROLLBACK", "0") != "0"


def run(s: Session, command: str, timeout: float, history: bool = True) -> dict:
    """``command`` until its end marker shows; then, if the session sends ``history``, until
    its last history line arrived (no new one for SETTLE_S)."""
    screen: CountingScreen = s.screen  # type: ignore[assignment]
    s.drain(quiet=0.1, limit=1.0)
    net0 = s.relay_stats()
    sc0, cc0 = s.cpu()
    out0 = s.client_bytes
    screen.scrolled = 0
    t0 = s.send(f"{command}; {RESET}; echo {MARK[:3]}''{MARK[3:]}\r".encode())
    t1 = s.wait_until(lambda: marker_shown(s), timeout)
    if t1 is None:
        raise SessionError(f"timeout after {timeout:.0f} s: {command}")
    sc1, cc1 = s.cpu()
    net1 = s.relay_stats()
    out1 = s.client_bytes
    at_screen = screen.scrolled
    end = time.perf_counter() + (HISTORY_LIMIT_S if history else 0.0)
    while time.perf_counter() < end:
        s.pump(0.2)
        if time.perf_counter() - max(screen.last_scroll, t1) > SETTLE_S:
            break
    sc2, _ = s.cpu()
    net2 = s.relay_stats()
    result = {
        "wall_s": t1 - t0,
        "server_cpu_s": None if sc0 is None or sc1 is None else sc1 - sc0,
        "server_cpu_total_s": None if sc0 is None or sc2 is None else sc2 - sc0,
        "client_cpu_s": None if cc0 is None or cc1 is None else cc1 - cc0,
        "client_out_bytes": out1 - out0,
        "wire_s2c_bytes": net1["s2c_bytes"] - net0["s2c_bytes"],
        "wire_s2c_total_bytes": net2["s2c_bytes"] - net0["s2c_bytes"],
        "history_lines_at_screen": at_screen,
        "history_lines": screen.scrolled,
        "history_after_screen_s": max(0.0, screen.last_scroll - t1) if screen.scrolled else 0.0,
    }
    s.send(b"clear\r")
    s.wait_until(lambda: s.at_prompt() and s.screen.cursor.y == 0, 5.0)
    return result


def _median_run(results: list[dict]) -> dict:
    """The run with the median wall time, with every run's wall time and server CPU beside
    it, and the median server CPU (steadier than wall times on a busy host)."""
    ordered = sorted(results, key=lambda r: r["wall_s"])
    out = dict(ordered[(len(ordered) - 1) // 2])
    out["wall_s_runs"] = [r["wall_s"] for r in results]
    cpu = [r["server_cpu_s"] for r in results]
    out["server_cpu_s_runs"] = cpu
    known = sorted(c for c in cpu if c is not None)
    out["server_cpu_s_median"] = known[(len(known) - 1) // 2] if known else None
    return out


def summary(runs: dict) -> list[str]:
    """Wall time of each pymosh configuration over Mosh's, per command (same run)."""
    mosh = runs.get("mosh", {})
    out = []
    for name, by_label in runs.items():
        if name == "mosh":
            continue
        for label, r in by_label.items():
            base = mosh.get(label, {}).get("wall_s") if isinstance(mosh.get(label), dict) else None
            if isinstance(r, dict) and "wall_s" in r and base:
                out.append(f"{name:30} {label:22} wall {r['wall_s'] / base:5.2f}x Mosh")
    for name, by_label in runs.items():  # scrollback on over off, per installation
        if not name.endswith(" scrollback off"):
            continue
        on = runs.get(name.replace(" off", " 10k"), {})
        for label, r in by_label.items():
            o = on.get(label)
            if not (
                isinstance(r, dict) and isinstance(o, dict) and "wall_s" in r and "wall_s" in o
            ):
                continue
            cpu_off, cpu_on = r.get("server_cpu_s_median"), o.get("server_cpu_s_median")
            cpu = f"{cpu_on / cpu_off:5.2f}x" if cpu_off and cpu_on else "  n/a"
            out.append(
                f"{name[: -len(' off')] + ' on/off':30} {label:22} wall {o['wall_s'] / r['wall_s']:5.2f}x"
                f"  server CPU (median) {cpu}"
            )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.e2e.scrollback",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default=os.path.join(OUT, "scrollback.json"))
    p.add_argument("--corpus", action="append", help="only these corpus files (and seq)")
    p.add_argument(
        "--rounds",
        type=int,
        help=f"runs of each command (the median run is reported; {QUICK_ROUNDS} with --quick, else 1)",
    )
    p.add_argument(
        "--also",
        action="append",
        metavar="NAME=BINDIR",
        help="another pymosh installation to run beside this one (e.g. a venv of main)",
    )
    p.add_argument("--skip-seq", action="store_true", help="only the corpus files")
    args = p.parse_args(argv)
    size = QUICK_BYTES if args.quick else (16 << 20)
    rounds = max(args.rounds or (QUICK_ROUNDS if args.quick else 1), 1)
    seq = 20_000 if args.quick else 100_000  # what the big history gets, all of it
    bulk = 1_000_000 if args.quick else 2_000_000  # (quick: half the full run, as the files)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    result: dict = {"quick": args.quick, "corpus_bytes": size, "rounds": rounds, "runs": {}}
    with tempfile.TemporaryDirectory(prefix="pymosh-bench-") as tmp:
        corpus, source = write_corpus(tmp, size)
        result["corpus_source"] = source
        commands = [
            (f"cat {name}", f"cat {shlex.quote(path)}")
            for name, path in sorted(corpus.items())
            if not args.corpus or name in args.corpus
        ]
        if not args.skip_seq:
            commands.append((f"seq 1 {bulk}", f"seq 1 {bulk}"))
        plan = configs(args.also or [], tmp)
        if not args.skip_seq:
            big = Impl.pymosh()
            big.env["PYMOSH_SCROLLBACK"] = str(seq)
            plan.append((f"pymosh scrollback {seq // 1000}k", big))
        sessions: dict[str, Session] = {}
        try:
            for name, impl in plan:
                s = Session(impl, f"bench-scrollback-{os.getpid()}-{len(sessions)}")
                s.screen = CountingScreen(s.width, s.height)
                s.stream = pyte.ByteStream(s.screen)
                s.screen.clock = lambda s=s: s.last_read  # not pyte's own (slow) pace
                try:
                    s.start()
                    sessions[name] = s
                except SessionError as e:
                    s.close()
                    result["runs"][name] = {"error": str(e)}
                    log(f"{name}: n/a ({e})")
            # rounds outermost, configurations innermost: load changes hit them all alike
            samples: dict[str, dict[str, list[dict]]] = {}
            for _ in range(rounds):
                for name, impl in plan:
                    s = sessions.get(name)
                    if s is None:
                        continue
                    mine = (
                        [(f"seq 1 {seq}", f"seq 1 {seq}")]
                        if name.endswith(f"{seq // 1000}k")
                        and impl.env.get("PYMOSH_SCROLLBACK") == str(seq)
                        else commands
                    )
                    for label, command in mine:
                        try:
                            r = run(s, command, 120.0, keeps_history(impl))
                        except SessionError as e:
                            result["runs"].setdefault(name, {})[label] = {"error": str(e)}
                            sessions.pop(name).close()
                            break
                        samples.setdefault(name, {}).setdefault(label, []).append(r)
                        log(
                            f"{name:30} {label:22} wall {r['wall_s']:6.2f} s  cpu "
                            f"{r['server_cpu_s'] or 0:5.2f} + {r['client_cpu_s'] or 0:5.2f} s  "
                            f"wire {r['wire_s2c_bytes']:>9} B "
                            f"(total {r['wire_s2c_total_bytes']:>9} B)"
                            f"  out {r['client_out_bytes']:>9} B  history "
                            f"{r['history_lines']:>7} lines, +{r['history_after_screen_s']:.2f} s"
                            f"  load {os.getloadavg()[0]:.1f}"
                        )
            for name, by_label in samples.items():
                runs = result["runs"].setdefault(name, {})
                for label, results in by_label.items():
                    runs.setdefault(label, _median_run(results))
        finally:
            for s in sessions.values():
                s.close()
    result["summary"] = summary(result["runs"])
    for line in result["summary"]:
        log(line)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    log(f"scrollback: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
