"""Scrollback for a resumed client: the session's newest history lines, kept on the server.

A client's ``HistoryLog`` ends with the client; lines it had not acknowledged, and lines that
scrolled while nobody was attached, would never reach a client that resumes the session.
``HistoryArchive`` keeps the newest rendered history lines for the session (whatever client
they were for), numbered like the emulator produced them, so lines the emulator had to drop
leave a hole. On resume, ``replay`` seeds the new client's fresh log with the newest of them,
behind one marker line; the log then paces them out like any other lines, before the lines
that scroll later. The new client cannot know what its terminal already shows, so it is
given the session's retained history, up to what it asked for: a fresh terminal then holds
what a terminal attached all along would hold.

Bound: at most ``max_lines`` lines (the largest scrollback any client of the session was
granted, at most ``MAX_SCROLLBACK_LINES``) and ``BYTE_BUDGET`` bytes charged (each line's
text, at most ``LINE_MAX``, plus ``LINE_OVERHEAD``); the oldest lines go first. The archive
and the live log share the same ``bytes`` objects, so the archive adds only its per-line
bookkeeping while both hold a line.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Deque, Iterable, List, Tuple

from pymosh.statesync.hello import MAX_SCROLLBACK_LINES
from pymosh.statesync.history import BYTE_BUDGET, LINE_OVERHEAD, HistoryLog, Line, _cut


def marker(session: str, replayed: int, total: int) -> bytes:
    """The line in front of a replay (reverse video, like the history's gap lines)."""
    count = f"its {replayed}" if replayed == total else f"its last {replayed} of {total}"
    text = f"[pymosh: session {session} resumed; {count} history lines follow]"
    return b"\x1b[0;7m" + text.encode("utf-8", "replace") + b"\x1b[0m"


class HistoryArchive:
    """(server) The session's newest rendered history lines (see the module docstring).

    Stored as one chunk per ``record`` (the seq of its first line, its texts, its wrap
    flags), so a line costs the archive a list slot and a flag byte besides the text it
    shares with the live log; the oldest chunk is trimmed from its front (``skip``)."""

    def __init__(self, max_lines: int, byte_budget: int = BYTE_BUDGET) -> None:
        self.max_lines = 0
        self.byte_budget = byte_budget
        self.chunks: Deque[Tuple[int, List[bytes], bytes]] = deque()
        self.skip = 0  # lines of the first chunk already dropped
        self.count = 0  # lines kept
        self.charge = 0  # bytes charged for them (text + LINE_OVERHEAD each)
        self.next_seq = 0  # seq of the next line to scroll off
        self.base = 0  # seq of the first line since the session began or the latest ESC[3J
        self.grow(max_lines)

    def grow(self, max_lines: int) -> None:
        """A client was granted ``max_lines``: keep at least that many from now on."""
        self.max_lines = max(self.max_lines, min(int(max_lines), MAX_SCROLLBACK_LINES))

    def record(
        self, dropped: int, lines: Iterable[Tuple[bytes, bool]], cleared: bool
    ) -> List[Tuple[bytes, bool]]:
        """One ``Emulator.take_history()`` result; returns its lines as kept (cut to
        ``LINE_MAX``), for the live log to share."""
        if cleared:  # ESC[3J erased the history: nothing before it is ever replayed
            self.chunks.clear()
            self.skip = self.count = self.charge = 0
            self.base = self.next_seq
        out = [(_cut(bytes(data)), bool(wrap)) for data, wrap in lines]
        seq = self.next_seq + dropped
        self.next_seq = seq + len(out)
        if out:
            texts = [data for data, _ in out]
            self.chunks.append((seq, texts, bytes(wrap for _, wrap in out)))
            self.count += len(texts)
            self.charge += sum(map(len, texts)) + LINE_OVERHEAD * len(texts)
            self._trim()
        return out

    def _trim(self) -> None:
        chunks = self.chunks
        while chunks and (self.count > self.max_lines or self.charge > self.byte_budget):
            texts = chunks[0][1]
            i = self.skip
            while i < len(texts) and (
                self.count > self.max_lines or self.charge > self.byte_budget
            ):
                self.count -= 1
                self.charge -= len(texts[i]) + LINE_OVERHEAD
                texts[i] = b""  # its bytes are freed now, not with the chunk
                i += 1
            if i == len(texts):
                chunks.popleft()
                i = 0
            self.skip = i

    def lines(self) -> List[Line]:
        """Every line kept, oldest first, as ``(seq, text, wrapped)``."""
        return self._newest(self.count)

    def _newest(self, count: int) -> List[Line]:
        out: List[Line] = []
        for first, texts, wraps in reversed(self.chunks):
            if len(out) >= count:
                break
            start = self.skip if texts is self.chunks[0][1] else 0
            start = max(start, len(texts) - (count - len(out)))
            out.extend(
                (first + i, texts[i], bool(wraps[i])) for i in range(len(texts) - 1, start - 1, -1)
            )
        out.reverse()
        return out

    def replay(self, log: HistoryLog, wanted: int, session: str) -> int:
        """Seed a new client's empty ``log`` with the newest ``wanted`` lines, behind a
        marker line; lines the emulator dropped between them stay one gap each. Returns
        the number of lines replayed (0: nothing, not even the marker)."""
        tail = self._newest(max(min(wanted, self.count, log.max_lines - 1), 0))
        room = log.byte_budget - 2 * LINE_OVERHEAD - 256  # the marker's share
        for i in range(len(tail) - 1, -1, -1):  # the log must not drop the marker
            room -= len(tail[i][1]) + LINE_OVERHEAD
            if room < 0:
                del tail[: i + 1]
                break
        count = len(tail)
        if not count:
            return 0
        total = self.next_seq - self.base
        # now=-inf: these holes are old, not an overflow that should hold the log back
        log.feed(0, [(marker(session, count, total), False)], False, -math.inf)
        start = 0
        for i in range(1, count + 1):
            if i == count or tail[i][0] != tail[i - 1][0] + 1:
                hole = tail[start][0] - tail[start - 1][0] - 1 if start else 0
                run = [(data, wrap) for _, data, wrap in tail[start:i]]
                log.feed(hole, run, False, -math.inf)
                start = i
        return count
