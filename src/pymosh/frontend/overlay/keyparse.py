"""Classify typed bytes the way Mosh's prediction engine sees them (terminal.md 2.1, 2.2, 9.1).

The prediction engine runs the user's keystrokes through a UTF-8 decoder (the
emulator's, ``pymosh.terminal.utf8``) and its own VT state machine and reacts to the
resulting actions. Only the action *kind* (and the code point or final character)
matters to it, so this parser keeps no parameters.

Actions are ``(kind, ch)`` tuples, ``kind`` one of ``PRINT``, ``EXECUTE``, ``ESC``
(escape dispatch) and ``CSI`` (CSI dispatch; ``ch`` is the final character).
"""

from __future__ import annotations

from ...terminal.utf8 import Utf8Decoder

PRINT = "print"
EXECUTE = "execute"
ESC = "esc"
CSI = "csi"

_GROUND, _ESCAPE, _ESC_INTER, _CSI_ENTRY, _CSI_PARAM, _CSI_INTER, _CSI_IGNORE = range(7)
_OSC, _STRING = 7, 8  # _STRING: DCS/SOS/PM/APC, all content inert until ST


class KeyParser:
    """VT state machine over decoded code points, reduced to what prediction needs."""

    def __init__(self) -> None:
        self._utf8 = Utf8Decoder()
        self._state = _GROUND

    def feed(self, byte: int) -> list[tuple[str, str]]:
        actions: list[tuple[str, str]] = []
        for ch in self._utf8.feed_byte(byte):
            self._step(ord(ch), actions)
        return actions

    def _step(self, cp: int, actions: list[tuple[str, str]]) -> None:
        ch = chr(cp)
        # "anywhere" transitions, on the real code point
        if (
            cp in (0x18, 0x1A)
            or 0x80 <= cp <= 0x8F
            or cp in (0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x99, 0x9A)
        ):
            actions.append((EXECUTE, ch))
            self._state = _GROUND
            return
        if cp == 0x9C:
            self._state = _GROUND
            return
        if cp == 0x1B:
            self._state = _ESCAPE
            return
        if cp in (0x98, 0x9E, 0x9F):
            self._state = _STRING
            return
        if cp == 0x90:
            self._state = _STRING
            return
        if cp == 0x9D:
            self._state = _OSC
            return
        if cp == 0x9B:
            self._state = _CSI_ENTRY
            return
        c = 0x41 if cp >= 0xA0 else cp  # per-state rules see non-ASCII as 'A'
        c0 = c <= 0x1F  # CAN, SUB, ESC were handled above
        state = self._state
        if state == _GROUND:
            if c0:
                actions.append((EXECUTE, ch))
            elif 0x20 <= c <= 0x7F:
                actions.append((PRINT, ch))
        elif state in (_ESCAPE, _ESC_INTER):
            if c0:
                actions.append((EXECUTE, ch))
            elif 0x20 <= c <= 0x2F:
                self._state = _ESC_INTER
            elif state == _ESCAPE and c == 0x5B:
                self._state = _CSI_ENTRY
            elif state == _ESCAPE and c == 0x5D:
                self._state = _OSC
            elif state == _ESCAPE and c in (0x50, 0x58, 0x5E, 0x5F):
                self._state = _STRING
            elif 0x30 <= c <= 0x7E:
                actions.append((ESC, ch))
                self._state = _GROUND
        elif state in (_CSI_ENTRY, _CSI_PARAM, _CSI_INTER, _CSI_IGNORE):
            if c0:
                actions.append((EXECUTE, ch))
            elif 0x40 <= c <= 0x7E:
                if state != _CSI_IGNORE:
                    actions.append((CSI, ch))
                self._state = _GROUND
            elif state == _CSI_IGNORE:
                pass
            elif 0x20 <= c <= 0x2F:
                self._state = _CSI_INTER
            elif state == _CSI_INTER:
                self._state = _CSI_IGNORE  # 0x30-0x3F after an intermediate
            elif c == 0x3A:
                self._state = _CSI_IGNORE
            elif 0x3C <= c <= 0x3F:
                self._state = _CSI_PARAM if state == _CSI_ENTRY else _CSI_IGNORE
            elif 0x30 <= c <= 0x3B:
                self._state = _CSI_PARAM
        elif state == _OSC:
            if c == 0x07:
                self._state = _GROUND
        # _STRING: everything ignored until ST or an "anywhere" code
