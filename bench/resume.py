"""Resume vs fresh start: ``python -m bench.resume [--rounds N]``.

Time from launching ``pymosh --local --resume=ID 127.0.0.1`` until the session's current
screen (a marker line left on it before the client was killed, and the prompt) is drawn,
against a fresh ``pymosh --local 127.0.0.1`` until its prompt is drawn, in one run,
alternating. Then the same session is left with ``seq 1 5000`` in its history and resumed
again: time to its current screen, and until the replayed history (statesync/archive.py)
is complete in the terminal's scrollback. All run in a pty owned by the bench whose output
feeds a pyte screen (what the user sees; with a history for the last one). Writes
``bench/out/resume.json`` and prints the medians and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable

import pyte

from bench import child_pythonpath

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
PROMPT = "PMB> "
HISTORY = 5000  # lines printed before the second resume (the client's default keeps 10,000)
TAG_VAR = "PYMOSH_BENCH_TAG"


class Pane:
    """A program in a pty of 80x24, its output fed to a pyte screen."""

    def __init__(self, argv: list[str], env: dict[str, str], history: int = 0) -> None:
        self.screen = (
            pyte.HistoryScreen(80, 24, history=history, ratio=0.5)
            if history
            else pyte.Screen(80, 24)
        )
        self.stream = pyte.ByteStream(self.screen)
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait(self, predicate: Callable[[str], bool], timeout: float) -> float:
        """Seconds until ``predicate(screen text)`` holds."""
        start = time.monotonic()
        while not predicate(self.text()):
            left = start + timeout - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"timed out; screen:\n{self.text()}")
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.5))
            if ready:
                try:
                    self.stream.feed(os.read(self.fd, 65536))
                except OSError:
                    raise RuntimeError(f"program ended; screen:\n{self.text()}") from None
        return time.monotonic() - start

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)


def wrapper(*options: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pymosh.frontend.wrapper",
        "--local",
        "--bind-server=127.0.0.1",
        *options,
        "127.0.0.1",
    ]


def prompt_shown(text: str) -> bool:
    return any(line.rstrip() == PROMPT.rstrip() for line in text.splitlines())


def _row(line) -> str:
    return "".join(line[x].data for x in sorted(line)).strip()


def history_complete(pane: Pane) -> bool:
    """The screen is the session's (its last number and the prompt) and the scrollback ends
    with the number just above its first (history arrives in order, after the screen)."""
    top = pane.screen.history.top
    rows = [row.strip() for row in pane.screen.display]
    if not top or str(HISTORY) not in rows or not prompt_shown("\n".join(rows)):
        return False
    first = next(row for row in rows if row.isdigit())
    return _row(top[-1]) == str(int(first) - 1)


def resume_with_history(env: dict[str, str], session_id: str) -> tuple[float, float]:
    """(to the current screen, to the history complete) in seconds, resuming a session that
    has ``seq 1 HISTORY`` in its history; checks the history is every line once, in order."""
    pane = Pane(wrapper(f"--resume={session_id}"), env, history=4 * HISTORY)
    try:
        last = str(HISTORY)
        screen_s = pane.wait(
            lambda t: any(r.strip() == last for r in t.splitlines()) and prompt_shown(t), 30
        )
        complete_s = pane.wait(lambda _: history_complete(pane), 120)
        rows = [_row(line) for line in pane.screen.history.top] + list(pane.screen.display)
        numbers = [int(r) for r in (x.strip() for x in rows) if r.isdigit()]
        if numbers != list(range(1, HISTORY + 1)):
            bad = next(i for i, x in enumerate(numbers + [None]) if x != i + 1)
            raise RuntimeError(
                f"replayed history is not 1..{HISTORY}: {len(numbers)} numbers, at {bad}: {numbers[bad - 3 : bad + 3]}"
            )
        if sum("resumed; its" in r for r in rows) != 1:
            raise RuntimeError("no (or more than one) replay marker in the history")
        pane.type("exit\r")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.waitpid(pane.pid, os.WNOHANG)[0]:
                pane.pid = -1
                break
            time.sleep(0.05)
    finally:
        if pane.pid > 0:
            pane.kill()
        else:
            os.close(pane.fd)
    return screen_s, complete_s


def one_round(env: dict[str, str], n: int) -> tuple[float, float, float, float]:
    """(fresh start to prompt, resume to current screen, then with HISTORY lines of
    history: resume to current screen, resume to history complete) in seconds."""
    shell = ["--", "bash", "--norc", "--noprofile"]
    fresh = Pane(wrapper() + shell, env)
    try:
        fresh_s = fresh.wait(prompt_shown, 30)
        marker = f"marker-{n}-{n * 7}"
        fresh.type(f"echo marker-{n}-$(({n}*7))\r")
        fresh.wait(lambda t: marker in t and t.rstrip().endswith(PROMPT.rstrip()), 15)
    finally:
        fresh.kill()  # the client dies; the session lives on
    listing = subprocess.run(
        [sys.executable, "-m", "pymosh.frontend.server", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    session_id = json.loads(listing.stdout)[-1]["id"]
    resumed = Pane(wrapper(f"--resume={session_id}"), env)
    try:
        resume_s = resumed.wait(lambda t: marker in t and prompt_shown(t), 30)
        resumed.type(f"clear; printf '\\033[3J'; seq 1 {HISTORY}\r")
        resumed.wait(lambda t: str(HISTORY) in t and t.rstrip().endswith(PROMPT.rstrip()), 30)
        time.sleep(0.5)  # the prompt's echo acknowledged
    finally:
        resumed.kill()  # the client dies again
    return (fresh_s, resume_s, *resume_with_history(env, session_id))


def _end_tagged(tag: str) -> None:
    """End any process this bench started that is still running (by pid, found by tag)."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                if f"{TAG_VAR}={tag}".encode() in f.read().split(b"\0"):
                    os.kill(int(name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    state = tempfile.mkdtemp(prefix="pymosh-bench-resume-")
    tag = os.path.basename(state)
    env = dict(
        os.environ,
        PYTHONPATH=child_pythonpath(),
        PYMOSH_STATE_DIR=state,
        PS1=PROMPT,
        TERM="xterm-256color",
        LANG="C.UTF-8",
        **{TAG_VAR: tag},
    )
    env.pop("LC_ALL", None)
    fresh: list[float] = []
    resumed: list[float] = []
    history_screen: list[float] = []
    history_done: list[float] = []
    try:
        for n in range(args.rounds):
            f, r, hs, hd = one_round(env, n)
            fresh.append(f)
            resumed.append(r)
            history_screen.append(hs)
            history_done.append(hd)
    finally:
        _end_tagged(tag)
        shutil.rmtree(state, ignore_errors=True)
    result = {
        "rounds": args.rounds,
        "fresh_start_to_prompt_ms": [round(x * 1000, 1) for x in fresh],
        "resume_to_current_screen_ms": [round(x * 1000, 1) for x in resumed],
        "median_fresh_ms": round(statistics.median(fresh) * 1000, 1),
        "median_resume_ms": round(statistics.median(resumed) * 1000, 1),
        "history_lines": HISTORY,
        "resume_with_history_to_current_screen_ms": [round(x * 1000, 1) for x in history_screen],
        "resume_with_history_to_history_complete_ms": [round(x * 1000, 1) for x in history_done],
        "median_resume_with_history_ms": round(statistics.median(history_screen) * 1000, 1),
        "median_history_complete_ms": round(statistics.median(history_done) * 1000, 1),
    }
    result["resume_over_fresh"] = round(result["median_resume_ms"] / result["median_fresh_ms"], 2)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "resume.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(
        f"fresh `pymosh --local` to prompt: median {result['median_fresh_ms']} ms; "
        f"`pymosh --local --resume=ID` to the current screen: median "
        f"{result['median_resume_ms']} ms; ratio {result['resume_over_fresh']} "
        f"({args.rounds} rounds)\n"
        f"with {HISTORY} lines of history: resume to the current screen: median "
        f"{result['median_resume_with_history_ms']} ms; the replayed history complete: "
        f"median {result['median_history_complete_ms']} ms after launch"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
