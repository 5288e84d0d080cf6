"""Erase a variable from the process's kernel-visible environment block (Linux).

``os.environ.pop`` only unsets a variable for this process and its children; the
original ``NAME=value`` bytes stay in the initial environment block that
``/proc/PID/environ`` shows to the user's other processes. The session key must not
linger there, so we overwrite the entry in place with NUL bytes.
"""

from __future__ import annotations

import ctypes


def _environ_block() -> tuple[int, int] | None:
    """Start and end addresses of the initial environment (fields 50/51 of /proc/self/stat)."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[47]), int(fields[48])
    except (OSError, IndexError, ValueError):
        return None


def scrub_environ_entry(name: str) -> bool:
    """Zero every ``name=...`` entry of the initial environment; True if one was found."""
    block = _environ_block()
    if block is None or block[1] <= block[0]:
        return False
    start, end = block
    data = ctypes.string_at(start, end - start)
    prefix = name.encode() + b"="
    found = False
    pos = 0
    for entry in data.split(b"\0"):
        if entry.startswith(prefix):
            ctypes.memset(start + pos, 0, len(entry))
            found = True
        pos += len(entry) + 1
    return found
