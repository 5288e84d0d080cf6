"""The client's real terminal: raw mode that is always undone, and its window size."""

from __future__ import annotations

import fcntl
import os
import struct
import termios
import tty as _tty


def get_winsize(fd: int) -> tuple[int, int] | None:
    """(columns, rows) of a terminal fd, or None if it is not one / reports zero."""
    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    return (cols, rows) if cols and rows else None


def window_size(fd: int) -> tuple[int, int]:
    """(columns, rows) of ``fd``, 80x24 if unknown."""
    return get_winsize(fd) or (80, 24)


class RawMode:
    """``with RawMode(fd):`` puts a tty in raw mode (+ IUTF8) and restores it on any exit.

    ``enter``/``leave`` may also be called by hand (suspend / resume); both are idempotent
    and do nothing when ``fd`` is not a terminal.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.saved: list | None = None

    def enter(self) -> None:
        if self.saved is not None or not os.isatty(self.fd):
            return
        self.saved = termios.tcgetattr(self.fd)
        _tty.setraw(self.fd, termios.TCSANOW)
        attrs = termios.tcgetattr(self.fd)
        attrs[0] |= getattr(termios, "IUTF8", 0)
        termios.tcsetattr(self.fd, termios.TCSANOW, attrs)

    def leave(self) -> None:
        if self.saved is None:
            return
        try:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
        except termios.error:
            pass
        self.saved = None

    def __enter__(self) -> RawMode:
        self.enter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.leave()
