"""The environment this process was started with, before CPython's locale coercion.

Read from ``/proc/self/environ``, except in a session the forker forked: there the block
is the forker's, and the session adopts the environment its asker was started with.
Standard library only and small: ``pymosh-server``'s launcher imports it (handoff.py).
"""

from __future__ import annotations

import os

_adopted: dict[str, str] | None = None


def original_environ() -> dict[str, str]:
    if _adopted is not None:
        return dict(_adopted)
    try:
        with open("/proc/self/environ", "rb") as f:
            block = f.read()
    except OSError:
        return dict(os.environ)
    env: dict[str, str] = {}
    for entry in block.split(b"\0"):
        name, sep, value = entry.partition(b"=")
        if sep and name:
            env[os.fsdecode(name)] = os.fsdecode(value)
    return env


def adopt(env: dict[str, str]) -> None:
    """From now on `original_environ()` is ``env`` (the forked session's asker's)."""
    global _adopted
    _adopted = dict(env)
