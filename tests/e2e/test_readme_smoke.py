"""The README's commands, verbatim, on a fresh copy of the checkout: install into a new
virtual environment, the test command on the smoke subset, then a ``pymosh --local``
session in tmux from that environment, with PATH and PYTHONPATH left as a user has them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.e2e.tmux import TmuxPane
from tests.support.procs import wait_gone

pytestmark = [pytest.mark.smoke, pytest.mark.e2e, pytest.mark.slow]

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
INNER = "PYMOSH_README_SMOKE_INNER"  # set for the inner run, which leaves this test out
SKIP_COPY = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "__pycache__",
    "*.so",
    "*.egg-info",
    ".pytest_cache",
    ".hypothesis",
    "out",
    ".ruff_cache",
    ".benchmarks",
    "*.c",
    "*.html",
)


def readme_block(heading: str) -> list[str]:
    """The command lines of the first ```sh block under ``## heading``."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text[text.index(f"## {heading}\n") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, f"no sh block under {heading}"
    return [line for line in block.group(1).splitlines() if line.strip()]


def user_env(tag: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "TMUX") and not k.startswith("PYMOSH_")
    }
    env.update(PYMOSH_TEST_TAG=tag, LANG="C.UTF-8", SHELL="/bin/sh", PS1="$ ", ENV="")
    # no per-user session forker: it would outlive the test in the real state directory
    # (tests/frontend/test_forker.py covers it)
    env["PYMOSH_FORKER"] = "0"
    return env


@pytest.mark.timeout(1200)  # two pip installs and a build: minutes on a loaded machine
def test_readme_commands_in_a_fresh_virtual_environment(tmp_path, tag):
    install, run = readme_block("Install and try it")
    assert run == ".venv/bin/pymosh --local"
    (test_command,) = readme_block("Run the tests")
    checkout = tmp_path / "checkout"
    shutil.copytree(ROOT, checkout, ignore=SKIP_COPY)
    shared = os.path.join(ROOT, "..", "shared")  # the vectors beside the checkout
    if os.path.isdir(shared):
        os.symlink(os.path.realpath(shared), tmp_path / "shared")
    env = user_env(tag)

    done = subprocess.run(
        install,
        shell=True,
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    done = subprocess.run(
        f"{test_command} -m smoke -q -p no:cacheprovider",
        shell=True,
        cwd=checkout,
        env=dict(env, **{INNER: "1"}),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0 and " passed" in done.stdout, done.stdout[-3000:]

    man = subprocess.run(
        ["man", "-M", str(checkout / ".venv" / "share" / "man"), "-P", "cat", "pymosh"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert man.returncode == 0 and "ESCAPE KEYS" in man.stdout, man.stderr

    with TmuxPane(tmp_path, f"cd {checkout} && {run}", env=env) as pane:
        pane.wait_prompt(timeout=30)
        # the shell's parent is the server: the one installed in .venv, not one on PATH
        pane.send_line("tr '\\0' ' ' < /proc/$PPID/cmdline; echo; echo smoke-$((6*7))")
        screen = pane.wait_for("smoke-42", timeout=20)
        # (the C launcher, or with no forker the Python entry script it runs)
        server = re.escape(f"{checkout}/.venv/") + r"(bin|share/pymosh)/pymosh-server"
        assert re.search(server, screen.replace("\n", "")), screen
        pane.send_line("exit")
        assert pane.wait_exit(timeout=20) == 0
    assert wait_gone(tag, timeout=10) == []
