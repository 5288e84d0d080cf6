"""Terminal emulator, framebuffer and display differ (terminal.md).

``pymosh.terminal.emulator`` is the pure-Python twin; ``_fastpath.terminal`` the
compiled one. This package exports whichever ``pymosh._accel`` picks.
"""

from __future__ import annotations

from pymosh import _accel

from . import emulator as _twin

_impl = _accel.pick("terminal", _twin)

Emulator = _impl.Emulator
new_frame = _impl.new_frame
open_terminal = _impl.open_terminal
close_terminal = _impl.close_terminal

__all__ = ["Emulator", "new_frame", "open_terminal", "close_terminal"]
