"""The client's real terminal, read once from terminfo (terminal.md §4.6).

`read_caps()` asks terminfo a single time (curses honours only the first `setupterm` of a
process) and returns a frozen `TerminalCaps`: the differ's options (ECH, BCE, titles),
the colour count, and the strings the client writes when it takes over the terminal and
gives it back.
"""

from __future__ import annotations

import os

from pymosh.value import Frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping

ESC = b"\x1b"
APPLICATION_CURSOR_KEYS = ESC + b"[?1h"
# leaves 2004, 1004, ?9 and ?5 alone, like Mosh
_RESET = (
    ESC
    + b"[?1l"
    + ESC
    + b"[0m"
    + ESC
    + b"[?25h"
    + ESC
    + b"[?1003l"
    + ESC
    + b"[?1002l"
    + ESC
    + b"[?1001l"
    + ESC
    + b"[?1000l"
    + ESC
    + b"[?1015l"
    + ESC
    + b"[?1006l"
    + ESC
    + b"[?1005l"
)
_TITLE_TERMS = ("xterm", "rxvt", "kterm", "Eterm", "alacritty", "screen", "tmux")


class TerminalCaps(Frozen):
    __slots__ = ("has_ech", "has_bce", "has_title", "colors", "rgb", "smcup", "rmcup")
    has_ech: bool  # ECH (erase characters) exists
    has_bce: bool  # erasing paints the current background colour
    has_title: bool  # the terminal shows OSC 0/2 window titles
    colors: int
    rgb: bool  # 24-bit colour: terminfo's RGB flag (ncurses) or tmux's Tc
    smcup: bytes  # enter the alternate screen ("" with MOSH_NO_TERM_INIT)
    rmcup: bytes

    def __init__(
        self,
        has_ech: bool = False,
        has_bce: bool = False,
        has_title: bool = False,
        colors: int = 0,
        rgb: bool = False,
        smcup: bytes = b"",
        rmcup: bytes = b"",
    ) -> None:
        for name, value in zip(
            self.__slots__, (has_ech, has_bce, has_title, colors, rgb, smcup, rmcup)
        ):
            object.__setattr__(self, name, value)

    def differ_options(self) -> dict[str, bool]:
        """Keyword arguments for `new_frame`."""
        return {"has_ech": self.has_ech, "has_bce": self.has_bce, "has_title": self.has_title}

    def open_terminal(self) -> bytes:
        """What the client writes to its tty on start: smcup + application cursor keys."""
        return self.smcup + APPLICATION_CURSOR_KEYS

    def close_terminal(self) -> bytes:
        """What the client writes on exit (and before suspending)."""
        return _RESET + self.rmcup


def read_caps(term: str | None = None, environ: Mapping[str, str] = os.environ) -> TerminalCaps:
    """`term` (default ``$TERM``) from terminfo; the capability-less value if unknown."""
    if term is None:
        term = environ.get("TERM", "")
    has_title = term.startswith(_TITLE_TERMS)
    if not term:
        return TerminalCaps(has_title=has_title)
    try:
        import curses

        fd = os.open(os.devnull, os.O_WRONLY)
        try:
            curses.setupterm(term, fd)
        finally:
            os.close(fd)
        init = environ.get("MOSH_NO_TERM_INIT") is None
        return TerminalCaps(
            has_ech=bool(curses.tigetstr("ech")),
            has_bce=curses.tigetflag("bce") > 0,
            has_title=has_title,
            colors=max(curses.tigetnum("colors"), 0),
            rgb=any(curses.tigetflag(cap) > 0 for cap in ("RGB", "Tc")),
            smcup=(curses.tigetstr("smcup") or b"") if init else b"",
            rmcup=(curses.tigetstr("rmcup") or b"") if init else b"",
        )
    except Exception:  # noqa: BLE001 - no terminfo database or unknown terminal
        return TerminalCaps(has_title=has_title)
