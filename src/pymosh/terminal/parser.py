"""Host output bytes -> terminal actions (terminal.md 2.1-2.3).

Two layers, both total over every byte sequence:

* ``Utf8Decoder`` (from ``pymosh.terminal.utf8``) turns bytes into code points with
  glibc ``mbrtowc`` semantics (what Mosh uses).
* ``Parser`` is the DEC/ANSI state machine (after Paul Williams). In Ground, runs
  of printable characters are found with a regex and handed to the handler in one
  call; other characters step through the states one by one.

The handler (the emulator) receives:
``print_run(text)``, ``execute(code)``, ``esc_dispatch(key)``,
``csi_dispatch(params, key)``, ``osc_dispatch(buffer)``, where ``key`` is the
collected intermediates/private markers plus the final character and ``params`` the
raw parameter string (digits and ``;``, at most 100 characters).
"""

from __future__ import annotations

import re
from typing import Protocol

from . import clipboard
from .utf8 import Utf8Decoder as Utf8Decoder  # re-exported: the decoder in front of Parser

PARAM_CHARS_MAX = 100
INTERMEDIATES_MAX = 8
OSC_MAX = clipboard.OSC_MAX  # Mosh: 16384; longer here for whole OSC 52 writes
PARAM_MAX = 65535


class Handler(Protocol):
    def print_run(self, text: str) -> None: ...
    def execute(self, code: int) -> None: ...
    def esc_dispatch(self, key: str) -> None: ...
    def csi_dispatch(self, params: str, key: str) -> None: ...
    def osc_dispatch(self, buffer: str) -> None: ...


# states (DCS_* and SOS/PM/APC have no observable effect and are merged into one)
GROUND, ESCAPE, ESCAPE_INTERMEDIATE = 0, 1, 2
CSI_ENTRY, CSI_PARAM, CSI_INTERMEDIATE, CSI_IGNORE = 3, 4, 5, 6
OSC_STRING, STRING_IGNORE = 7, 8

# printable in Ground: 0x20-0x7E and >= 0xA0 (0x7F "prints" with width -1: a no-op)
_PRINTABLE_RUN = re.compile("[\x20-\x7e\xa0-\U0010ffff]+")
_OTHER_RUN = re.compile("[^\x20-\x7e\xa0-\U0010ffff]+")
# Bulk runs inside strings, so an endless OSC/DCS costs one regex match per chunk
# rather than one Python step per character: OSC keeps printable text (DEL and
# non-ASCII included); an ignored string swallows all but ESC, CAN, SUB and C1.
_OSC_TEXT_RUN = re.compile("[\x20-\x7f\xa0-\U0010ffff]+")
_IGNORED_RUN = re.compile("[^\x18\x1a\x1b\x80-\x9f]+")
_PARAM_RUN = re.compile("[0-9;]+")

# C1 controls that execute from any state
_ANYWHERE_EXECUTE = frozenset([0x18, 0x1A, *range(0x80, 0x90), *range(0x91, 0x98), 0x99, 0x9A])


def _is_c0(c: int) -> bool:
    """C0 without CAN, SUB, ESC (the "C0'" of terminal.md 2.2)."""
    return c <= 0x17 or c == 0x19 or 0x1C <= c <= 0x1F


def parse_params(params: str) -> list[int]:
    """Mosh's lazy parameter parsing: -1 for empty/non-numeric/too large; never empty."""
    out = []
    for segment in params.split(";"):
        digits = ""
        for ch in segment:
            if "0" <= ch <= "9":
                digits += ch
            else:
                break
        value = int(digits) if digits else -1
        out.append(value if value <= PARAM_MAX else -1)
    return out


class Parser:
    """The state machine; feed it decoded text, it calls the handler."""

    __slots__ = ("handler", "state", "params", "collected", "osc", "osc_len")

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.state = GROUND
        self.params = ""
        self.collected = ""
        self.osc: list[str] = []  # pieces of the OSC string (copies share the pieces)
        self.osc_len = 0

    def copy_to(self, other: Parser) -> None:
        other.state = self.state
        other.params = self.params
        other.collected = self.collected
        other.osc = list(self.osc)
        other.osc_len = self.osc_len

    def feed(self, text: str) -> None:
        pos, n = 0, len(text)
        handler = self.handler
        while pos < n:
            if self.state == GROUND:
                m = _PRINTABLE_RUN.match(text, pos)
                if m:
                    handler.print_run(m.group())
                    pos = m.end()
                    continue
                m = _OTHER_RUN.match(text, pos)
                end = m.end() if m else pos + 1
                for i in range(pos, end):
                    self._step(ord(text[i]))
                    if self.state != GROUND:
                        end = i + 1
                        break
                pos = end
            elif self.state == OSC_STRING and (m := _OSC_TEXT_RUN.match(text, pos)):
                room = OSC_MAX - self.osc_len
                if room > 0:
                    piece = text[pos : min(m.end(), pos + room)]
                    self.osc.append(piece)
                    self.osc_len += len(piece)
                pos = m.end()
            elif self.state == STRING_IGNORE and (m := _IGNORED_RUN.match(text, pos)):
                pos = m.end()
            elif self.state in (CSI_ENTRY, CSI_PARAM) and (m := _PARAM_RUN.match(text, pos)):
                room = PARAM_CHARS_MAX - len(self.params)
                if room > 0:
                    self.params += text[pos : min(m.end(), pos + room)]
                self.state = CSI_PARAM
                pos = m.end()
            else:
                self._step(ord(text[pos]))
                pos += 1

    # -- one code point outside the Ground fast path ----------------------------
    def _enter(self, state: int) -> None:
        """Exit action of the old state, then entry action of the new one."""
        if self.state == OSC_STRING:
            buffer = "".join(self.osc)
            self.osc = []
            self.osc_len = 0
            self.handler.osc_dispatch(buffer)
        self.state = state
        if state in (ESCAPE, CSI_ENTRY):
            self.params = ""
            self.collected = ""
        elif state == OSC_STRING:
            self.osc = []
            self.osc_len = 0

    def _collect(self, c: int) -> None:
        if len(self.collected) < INTERMEDIATES_MAX and c <= 0xFF:
            self.collected += chr(c)

    def _param(self, c: int) -> None:
        if len(self.params) < PARAM_CHARS_MAX:
            self.params += chr(c)

    def _step(self, c: int) -> None:
        handler = self.handler
        # "anywhere" rules, on the real code point
        if c in _ANYWHERE_EXECUTE:
            self._enter(GROUND)
            handler.execute(c)
            return
        if c == 0x1B:
            self._enter(ESCAPE)
            return
        if 0x80 <= c <= 0x9F:
            if c == 0x9C:
                self._enter(GROUND)
            elif c in (0x98, 0x9E, 0x9F, 0x90):
                self._enter(STRING_IGNORE)
            elif c == 0x9D:
                self._enter(OSC_STRING)
            else:  # 0x9B
                self._enter(CSI_ENTRY)
            return
        state = self.state
        k = 0x41 if c >= 0xA0 else c  # non-ASCII classifies as 'A'
        if state == GROUND:
            if _is_c0(k):
                handler.execute(c)
            elif k != 0x7F:
                handler.print_run(chr(c))
        elif state == OSC_STRING:
            if k >= 0x20:
                if self.osc_len < OSC_MAX:
                    self.osc.append(chr(c))
                    self.osc_len += 1
            elif k == 0x07:
                self._enter(GROUND)
        elif state == STRING_IGNORE:
            pass
        elif _is_c0(k):  # every ESC/CSI state executes C0'
            handler.execute(c)
        elif state == ESCAPE:
            if 0x20 <= k <= 0x2F:
                self._collect(c)
                self.state = ESCAPE_INTERMEDIATE
            elif k == 0x5B:
                self._enter(CSI_ENTRY)
            elif k == 0x5D:
                self._enter(OSC_STRING)
            elif k in (0x50, 0x58, 0x5E, 0x5F):
                self._enter(STRING_IGNORE)
            elif 0x30 <= k <= 0x7E:
                self._esc_dispatch(c)
        elif state == ESCAPE_INTERMEDIATE:
            if 0x20 <= k <= 0x2F:
                self._collect(c)
            elif 0x30 <= k <= 0x7E:
                self._esc_dispatch(c)
        elif state == CSI_ENTRY or state == CSI_PARAM:
            if 0x30 <= k <= 0x39 or k == 0x3B:
                self._param(c)
                self.state = CSI_PARAM
            elif 0x3C <= k <= 0x3F:
                if state == CSI_ENTRY:
                    self._collect(c)
                    self.state = CSI_PARAM
                else:
                    self.state = CSI_IGNORE
            elif k == 0x3A:
                self.state = CSI_IGNORE
            elif 0x20 <= k <= 0x2F:
                self._collect(c)
                self.state = CSI_INTERMEDIATE
            elif 0x40 <= k <= 0x7E:
                self._csi_dispatch(c)
        elif state == CSI_INTERMEDIATE:
            if 0x20 <= k <= 0x2F:
                self._collect(c)
            elif 0x30 <= k <= 0x3F:
                self.state = CSI_IGNORE
            elif 0x40 <= k <= 0x7E:
                self._csi_dispatch(c)
        elif state == CSI_IGNORE:
            if 0x40 <= k <= 0x7E:
                self.state = GROUND

    def _esc_dispatch(self, c: int) -> None:
        self.state = GROUND
        self._collect(c)
        self.handler.esc_dispatch(self.collected)

    def _csi_dispatch(self, c: int) -> None:
        self.state = GROUND
        self._collect(c)
        self.handler.csi_dispatch(self.params, self.collected)
