"""UTF-8 bytes -> code points with glibc ``mbrtowc`` semantics (terminal.md 2.1).

The one decoder in front of both VT state machines: the emulator's (``parser.Parser``,
via :meth:`Utf8Decoder.decode`) and the prediction engine's key classifier
(``frontend.overlay.keyparse``, via :meth:`Utf8Decoder.feed_byte`). Runs of valid UTF-8
go through Python's codec in one call; only the bytes around an invalid or incomplete
sequence take the byte-wise path. Kept apart from ``parser`` so that importing it does
not compile the parser's regexes.
"""

from __future__ import annotations

REPLACEMENT = "\ufffd"

# lead byte -> number of continuation bytes (glibc also accepts 5- and 6-byte forms)
_MIN_VALUE = {1: 0x80, 2: 0x800, 3: 0x10000, 4: 0x200000, 5: 0x4000000}


def _continuations(lead: int) -> int:
    """Continuation bytes announced by ``lead``; -1 for an invalid lead byte."""
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


class Utf8Decoder:
    """Incremental UTF-8 decoder reproducing Mosh's ``UTF8Parser`` over glibc."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending = bytearray()

    def copy(self) -> Utf8Decoder:
        other = Utf8Decoder()
        other.pending = bytearray(self.pending)
        return other

    def decode(self, data: bytes) -> str:
        out: list[str] = []
        pos, n = 0, len(data)
        while pos < n:
            if self.pending:
                out.append(self.feed_byte(data[pos]))
                pos += 1
                continue
            try:
                out.append(data[pos:].decode("utf-8"))
                break
            except UnicodeDecodeError as err:
                if err.start:
                    out.append(data[pos : pos + err.start].decode("utf-8"))
                pos += err.start
                # the offending sequence goes through the glibc emulation
                out.append(self.feed_byte(data[pos]))
                pos += 1
        return "".join(out)

    def feed_byte(self, byte: int) -> str:
        """Decode one byte: the characters it completes ("" while a sequence is pending)."""
        if not self.pending and byte < 0x80:
            return chr(byte)
        pending = self.pending
        pending.append(byte)
        out = ""
        while pending:
            verdict, value = self._try(pending)
            if verdict == 0:  # incomplete
                break
            if verdict < 0:  # invalid: keep only the byte that made it so
                out += REPLACEMENT
                if len(pending) > 1:
                    del pending[:-1]
                else:
                    pending.clear()
                continue
            del pending[:verdict]
            out += (
                chr(value) if value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF else REPLACEMENT
            )
        return out

    @staticmethod
    def _try(buf: bytearray) -> tuple[int, int]:
        """(bytes consumed, value) if valid; (0, 0) incomplete; (-1, 0) invalid."""
        lead = buf[0]
        if lead < 0x80:
            return 1, lead
        need = _continuations(lead)
        if need < 0:
            return -1, 0
        value = lead & (0x3F >> need)
        for i in range(1, min(len(buf), need + 1)):
            b = buf[i]
            if not 0x80 <= b <= 0xBF:
                return -1, 0
            value = (value << 6) | (b & 0x3F)
        if len(buf) < need + 1:
            return 0, 0
        if value < _MIN_VALUE[need] or 0xD800 <= value <= 0xDFFF:
            return -1, 0
        return need + 1, value
