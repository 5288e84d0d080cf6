"""Erase a variable from the process's kernel-visible environment block (Linux).

``os.environ.pop`` only unsets a variable for this process and its children; the
original ``NAME=value`` bytes stay in the initial environment block that
``/proc/PID/environ`` shows to the user's other processes. The session key must not
linger there, so we overwrite the entry in place with NUL bytes: through
``/proc/self/mem`` (no ctypes to import: milliseconds of pymosh-client's start-up), else
with ctypes.
"""

from __future__ import annotations


def _environ_block() -> tuple[int, int] | None:
    """Start and end addresses of the initial environment (fields 50/51 of /proc/self/stat)."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[47]), int(fields[48])
    except (OSError, IndexError, ValueError):
        return None


def _entries(data: bytes, prefix: bytes) -> list[tuple[int, int]]:
    """(offset, length) of every entry of ``data`` starting with ``prefix``."""
    found = []
    pos = 0
    for entry in data.split(b"\0"):
        if entry.startswith(prefix):
            found.append((pos, len(entry)))
        pos += len(entry) + 1
    return found


def _scrub_mem(start: int, end: int, prefix: bytes) -> bool:
    with open("/proc/self/mem", "r+b", buffering=0) as mem:
        mem.seek(start)
        data = mem.read(end - start)
        entries = _entries(data, prefix)
        for offset, length in entries:
            mem.seek(start + offset)
            mem.write(bytes(length))
    return bool(entries)


def _scrub_ctypes(start: int, end: int, prefix: bytes) -> bool:
    import ctypes

    entries = _entries(ctypes.string_at(start, end - start), prefix)
    for offset, length in entries:
        ctypes.memset(start + offset, 0, length)
    return bool(entries)


def scrub_environ_entry(name: str) -> bool:
    """Zero every ``name=...`` entry of the initial environment; True if one was found."""
    block = _environ_block()
    if block is None or block[1] <= block[0]:
        return False
    prefix = name.encode() + b"="
    try:
        return _scrub_mem(*block, prefix)
    except OSError:
        return _scrub_ctypes(*block, prefix)
