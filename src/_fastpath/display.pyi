"""Stub for the compiled _fastpath.display (the twin: pymosh.terminal.display.new_frame)."""

from _fastpath.emulator import Emulator

def new_frame(
    initialized: bool,
    last: Emulator,
    new: Emulator,
    *,
    has_ech: bool = True,
    has_bce: bool = True,
    has_title: bool = True,
    clipboard_selections: bool = False,
    scroll_below_top: bool = False,
) -> bytes: ...
