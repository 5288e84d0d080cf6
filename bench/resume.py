"""Resume vs fresh start: ``python -m bench.resume [--rounds N]``.

Time from launching ``pymosh --local --resume=ID 127.0.0.1`` until the session's current
screen (a marker line left on it before the client was killed, and the prompt) is drawn,
against a fresh ``pymosh --local 127.0.0.1`` until its prompt is drawn, in one run,
alternating. Both run in a pty owned by the bench whose output feeds a pyte screen (what
the user sees). Writes ``bench/out/resume.json`` and prints the medians and their ratio.
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
TAG_VAR = "PYMOSH_BENCH_TAG"


class Pane:
    """A program in a pty of 80x24, its output fed to a pyte screen."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.screen = pyte.Screen(80, 24)
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


def one_round(env: dict[str, str], n: int) -> tuple[float, float]:
    """(fresh start to prompt, resume to current screen) in seconds."""
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
        resumed.type("exit\r")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.waitpid(resumed.pid, os.WNOHANG)[0]:
                resumed.pid = -1
                break
            time.sleep(0.05)
    finally:
        if resumed.pid > 0:
            resumed.kill()
        else:
            os.close(resumed.fd)
    return fresh_s, resume_s


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
    try:
        for n in range(args.rounds):
            f, r = one_round(env, n)
            fresh.append(f)
            resumed.append(r)
    finally:
        _end_tagged(tag)
        shutil.rmtree(state, ignore_errors=True)
    result = {
        "rounds": args.rounds,
        "fresh_start_to_prompt_ms": [round(x * 1000, 1) for x in fresh],
        "resume_to_current_screen_ms": [round(x * 1000, 1) for x in resumed],
        "median_fresh_ms": round(statistics.median(fresh) * 1000, 1),
        "median_resume_ms": round(statistics.median(resumed) * 1000, 1),
    }
    result["resume_over_fresh"] = round(result["median_resume_ms"] / result["median_fresh_ms"], 2)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "resume.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(
        f"fresh `pymosh --local` to prompt: median {result['median_fresh_ms']} ms; "
        f"`pymosh --local --resume=ID` to the current screen: median "
        f"{result['median_resume_ms']} ms; ratio {result['resume_over_fresh']} "
        f"({args.rounds} rounds)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
