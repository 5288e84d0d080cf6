"""Stub for the compiled _fastpath.terminal: the emulator and the differ together."""

from _fastpath.display import new_frame as new_frame
from _fastpath.emulator import Emulator as Emulator
from _fastpath.emulator import _char_width as _char_width

__all__ = ["Emulator", "new_frame"]
