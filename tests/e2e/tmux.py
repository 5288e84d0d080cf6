"""Drive a program in a private tmux server with a fixed-size pane (for end-to-end tests).

    with TmuxPane(tmp_path, "bash", width=80, height=24, env=env) as pane:
        pane.send_keys("echo hi", "Enter")
        pane.wait_for("hi", timeout=5)
        assert pane.wait_exit(timeout=5) == 0

Each pane runs on its own tmux socket; ``kill()`` (also on ``__exit__``) ends the tmux
server and with it the pane's process group. The pane stays after its command exits
(remain-on-exit) so its exit status and last screen can be read.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from typing import Mapping, Sequence


class TmuxTimeout(AssertionError):
    """Raised by wait_* helpers; the message includes the current screen."""


class TmuxPane:
    def __init__(
        self,
        workdir: str | os.PathLike,
        command: str | Sequence[str],
        width: int = 80,
        height: int = 24,
        env: Mapping[str, str] | None = None,
        term: str = "xterm-256color",
        history_limit: int = 2000,
    ):
        self.workdir = os.fspath(workdir)
        self.socket = os.path.join(self.workdir, f"tmux-{os.getpid()}-{id(self):x}.sock")
        self.width, self.height = width, height
        self.status_file = self.socket + ".status"
        command = command if isinstance(command, str) else shlex.join(command)
        # write the status to a temp name, then rename: readers never see a partial file
        self.command = (
            f"{command}; echo $? > {shlex.quote(self.status_file)}.tmp; "
            f"mv {shlex.quote(self.status_file)}.tmp {shlex.quote(self.status_file)}"
        )
        self.env = dict(os.environ if env is None else env)
        self.env.pop("TMUX", None)
        self.term = term
        self.history_limit = history_limit
        self.started = False

    # -------------------------------------------------------------- lifecycle

    def start(self) -> TmuxPane:
        conf = os.path.join(self.workdir, "tmux.conf")
        with open(conf, "w") as f:
            f.write(
                "set -g remain-on-exit on\n"
                f"set -g default-terminal {self.term}\n"
                "set -g status off\n"
                f"set -g history-limit {self.history_limit}\n"
            )
        self._tmux(
            "-f",
            conf,
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            str(self.width),
            "-y",
            str(self.height),
            self.command,
        )
        self.started = True
        return self

    def kill(self) -> None:
        if self.started:
            subprocess.run(
                ["tmux", "-S", self.socket, "kill-server"],
                env=self.env,
                capture_output=True,
                timeout=10,
                check=False,
            )
            self.started = False

    def __enter__(self) -> TmuxPane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()

    # -------------------------------------------------------------- actions

    def _tmux(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-S", self.socket, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def send_keys(self, *keys: str) -> None:
        """tmux key names (``Enter``, ``C-c``) or text; text is sent literally with -l."""
        for key in keys:
            if key in ("Enter", "Escape", "Tab", "BSpace", "Up", "Down", "Left", "Right") or (
                len(key) == 3 and key[:2] in ("C-", "M-")
            ):
                self._tmux("send-keys", "-t", "t", key)
            else:
                self._tmux("send-keys", "-t", "t", "-l", key)

    def send_line(self, text: str) -> None:
        self.send_keys(text, "Enter")

    def capture(self, escapes: bool = False, history: bool = False) -> str:
        """The visible screen (and with ``history`` the scrolled-off lines before it),
        one line per row, trailing blanks trimmed by tmux."""
        args = (
            ["capture-pane", "-p", "-t", "t"]
            + (["-e"] if escapes else [])
            + (["-S", "-"] if history else [])
        )
        return self._tmux(*args)

    def resize(self, width: int, height: int) -> None:
        self._tmux("resize-window", "-t", "t", "-x", str(width), "-y", str(height))
        self.width, self.height = width, height

    def info(self, fmt: str) -> str:
        return self._tmux("display-message", "-p", "-t", "t", fmt).strip()

    def pane_pid(self) -> int:
        return int(self.info("#{pane_pid}"))

    # -------------------------------------------------------------- waiting

    def wait_for(self, text: str, timeout: float = 10.0, escapes: bool = False) -> str:
        """Poll the screen until ``text`` appears; return the screen."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.capture(escapes)
            if text in screen:
                return screen
            if time.monotonic() > deadline or self._dead_for_a_while():
                raise TmuxTimeout(f"{text!r} not on screen after {timeout}s:\n{screen}")
            time.sleep(0.05)

    def wait_until(self, predicate, timeout: float = 10.0, what: str = "condition") -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.capture()
            if predicate(screen):
                return screen
            if time.monotonic() > deadline or self._dead_for_a_while():
                raise TmuxTimeout(f"{what} not met after {timeout}s:\n{screen}")
            time.sleep(0.05)

    def _dead_for_a_while(self) -> bool:
        """True once the pane's command has exited (checked twice, so a last redraw lands)."""
        if self.exit_status() is None:
            self._dead_since = None
            return False
        if getattr(self, "_dead_since", None) is None:
            self._dead_since = time.monotonic()
        return time.monotonic() - self._dead_since > 0.3

    def wait_prompt(self, timeout: float = 20.0) -> str:
        """Wait for a line ending in a shell prompt character (``$`` or ``#``)."""
        return self.wait_until(
            lambda screen: any(line.rstrip().endswith(("$", "#")) for line in screen.splitlines()),
            timeout=timeout,
            what="a shell prompt",
        )

    def exit_status(self) -> int | None:
        """The pane command's exit status, or None while it runs.

        Read from a file the wrapping shell writes (tmux 3.3's #{pane_dead_status} is
        sometimes left empty)."""
        try:
            with open(self.status_file) as f:
                text = f.read().strip()
        except FileNotFoundError:
            return None
        return int(text) if text else None

    def wait_exit(self, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while True:
            status = self.exit_status()
            if status is not None:
                return status
            if time.monotonic() > deadline:
                raise TmuxTimeout(f"pane still running after {timeout}s:\n{self.capture()}")
            time.sleep(0.05)
