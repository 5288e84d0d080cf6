"""24-bit colour: whether the local terminal has it, and what the remote shell is told.

The wrapper tells ``pymosh-server`` with ``-c 16777216`` (the colour count terminfo gives
a direct-colour terminal); a stock ``mosh-server`` gets the plain ``tput colors`` count as
always. The shell then sees ``COLORTERM=truecolor`` beside ``TERM=xterm-256color``
(terminfo's ``*-direct`` entries use colon-separated SGR, which the emulator ignores).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping


TRUECOLOR = 1 << 24
TRUECOLOR_NAMES = ("truecolor", "24bit")


def local_truecolor(env: Mapping[str, str], terminfo_rgb: bool) -> bool:
    """COLORTERM says so (anything else in it is ignored), or terminfo's RGB/Tc flag
    (``TerminalCaps.rgb``)."""
    return env.get("COLORTERM", "").strip().lower() in TRUECOLOR_NAMES or terminfo_rgb


def shell_colour_env(env: dict[str, str], colors: int) -> None:
    """Set TERM/COLORTERM for the remote shell from the client's colour count (``-c``)."""
    env["TERM"] = "xterm-256color" if colors == 256 or colors >= TRUECOLOR else "xterm"
    if colors >= TRUECOLOR:
        env["COLORTERM"] = "truecolor"
    else:
        # the server's own COLORTERM describes some other terminal, not the client's
        env.pop("COLORTERM", None)
