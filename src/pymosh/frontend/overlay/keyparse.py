"""Classify typed bytes the way Mosh's prediction engine sees them (terminal.md 2.1, 2.2, 9.1).

The prediction engine runs the user's keystrokes through its own UTF-8 decoder and VT
state machine and reacts to the resulting actions. Only the action *kind* (and the code
point or final character) matters to it, so this parser keeps no parameters.

Actions are ``(kind, ch)`` tuples, ``kind`` one of ``PRINT``, ``EXECUTE``, ``ESC``
(escape dispatch) and ``CSI`` (CSI dispatch; ``ch`` is the final character).
"""

from __future__ import annotations

PRINT = "print"
EXECUTE = "execute"
ESC = "esc"
CSI = "csi"

_GROUND, _ESCAPE, _ESC_INTER, _CSI_ENTRY, _CSI_PARAM, _CSI_INTER, _CSI_IGNORE = range(7)
_OSC, _STRING = 7, 8  # _STRING: DCS/SOS/PM/APC, all content inert until ST

_REPLACEMENT = 0xFFFD


class Utf8Decoder:
    """Byte-at-a-time UTF-8 decoder with glibc ``mbrtowc`` error behaviour (terminal.md 2.1)."""

    def __init__(self) -> None:
        self._pending = bytearray()

    @staticmethod
    def _need(lead: int) -> int:
        """Continuation bytes announced by a lead byte, or -1 for an invalid lead."""
        if 0xC2 <= lead <= 0xDF:
            return 1
        if 0xE0 <= lead <= 0xEF:
            return 2
        if 0xF0 <= lead <= 0xF7:
            return 3
        if 0xF8 <= lead <= 0xFB:
            return 4
        if 0xFC <= lead <= 0xFD:
            return 5
        return -1

    @staticmethod
    def _value(seq: bytes) -> int:
        n = len(seq)
        masks = {2: 0x1F, 3: 0x0F, 4: 0x07, 5: 0x03, 6: 0x01}
        value = seq[0] & masks[n]
        for b in seq[1:]:
            value = (value << 6) | (b & 0x3F)
        minimum = {2: 0x80, 3: 0x800, 4: 0x10000, 5: 0x200000, 6: 0x4000000}[n]
        if value < minimum or 0xD800 <= value <= 0xDFFF:
            return -1  # overlong or surrogate: invalid at the last byte
        return value if value <= 0x10FFFF else _REPLACEMENT

    def feed(self, byte: int) -> list[int]:
        if not self._pending and byte <= 0x7F:
            return [byte]
        out: list[int] = []
        self._pending.append(byte)
        while self._pending:
            lead = self._pending[0]
            if lead <= 0x7F:  # an ASCII byte left over from an invalid sequence
                out.append(lead)
                self._pending.clear()
                break
            need = self._need(lead)
            if need < 0:
                out.append(_REPLACEMENT)
                self._retry_last()
                continue
            bad = any(not 0x80 <= b <= 0xBF for b in self._pending[1:])
            if bad:
                out.append(_REPLACEMENT)
                self._retry_last()
                continue
            if len(self._pending) < need + 1:
                break
            value = self._value(bytes(self._pending))
            if value < 0:
                out.append(_REPLACEMENT)
                self._retry_last()
                continue
            out.append(value)
            self._pending.clear()
        return out

    def _retry_last(self) -> None:
        """After an invalid sequence keep only the byte that made it invalid."""
        if len(self._pending) > 1:
            del self._pending[:-1]
        else:
            self._pending.clear()


class KeyParser:
    """VT state machine over decoded code points, reduced to what prediction needs."""

    def __init__(self) -> None:
        self._utf8 = Utf8Decoder()
        self._state = _GROUND

    def feed(self, byte: int) -> list[tuple[str, str]]:
        actions: list[tuple[str, str]] = []
        for cp in self._utf8.feed(byte):
            self._step(cp, actions)
        return actions

    def _step(self, cp: int, actions: list[tuple[str, str]]) -> None:
        ch = chr(cp)
        # "anywhere" transitions, on the real code point
        if cp in (0x18, 0x1A) or 0x80 <= cp <= 0x8F or cp in (0x91, 0x92, 0x93, 0x94, 0x95,
                                                               0x96, 0x97, 0x99, 0x9A):
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
