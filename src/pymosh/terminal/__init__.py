"""Terminal emulator, framebuffer and display differ (terminal.md).

``pymosh.terminal.emulator`` is the pure-Python twin; ``_fastpath.terminal`` the
compiled one. This package exports whichever ``pymosh._accel`` picks; the twin (and its
parser's regexes) is imported only when it is the one picked. The client's own terminal
(its capabilities, what it writes on start and exit) is ``pymosh.terminal.terminfo``.
"""

from __future__ import annotations

from pymosh import _accel

_impl = _accel.pick("terminal", "pymosh.terminal.emulator")

Emulator = _impl.Emulator
new_frame = _impl.new_frame

__all__ = ["Emulator", "new_frame"]
