"""Run pymosh's programs as subprocesses, from src or installed, with PYTHONPATH propagated."""

from __future__ import annotations

import os
import shlex
import sys

import pymosh

# the directory holding the ``pymosh`` package actually imported by the tests
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(pymosh.__file__)))


def program(name: str, *args: str) -> list[str]:
    """argv running ``pymosh.frontend.<name>`` (wrapper, server, client) with this Python."""
    return [sys.executable, "-m", f"pymosh.frontend.{name}", *args]


def program_command(name: str) -> str:
    """The same as one shell-quoted string (for --server= / --client= / tmux)."""
    return " ".join(shlex.quote(w) for w in program(name))


def child_env(**extra: str) -> dict[str, str]:
    """os.environ with PYTHONPATH leading to the tested package, a UTF-8 locale, and extras."""
    env = dict(os.environ)
    paths = [PACKAGE_ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    if "UTF-8" not in (env.get("LC_ALL") or env.get("LC_CTYPE") or env.get("LANG") or "").upper():
        env["LANG"] = "C.UTF-8"
    env.update(extra)
    return env
