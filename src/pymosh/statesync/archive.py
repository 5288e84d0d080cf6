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

Fed where rendered lines enter the live log (``HistoryLog._add`` calls ``record``); rows the
emulator's ring still holds unrendered are recorded when the log takes them, or by the
server when there is no log (a resume flushes the ring into the archive first).

Bound: at most ``max_lines`` lines (the largest scrollback any client of the session was
granted, at most ``MAX_SCROLLBACK_LINES``) and ``BYTE_BUDGET`` bytes charged (each line's
text, at most ``LINE_MAX``, plus ``LINE_OVERHEAD``); the oldest lines go first. The archive
and the live log share the same ``bytes`` objects, so the archive adds only its per-line
bookkeeping while both hold a line.
"""

from __future__ import annotations

import math
from collections import deque
from itertools import accumulate
from typing import Any, Deque, Iterable, List, Tuple

from pymosh.statesync.hello import MAX_SCROLLBACK_LINES
from pymosh.statesync.history import BYTE_BUDGET, LINE_MAX, LINE_OVERHEAD, HistoryLog, Line, _cut


def marker(session: str, replayed: int, total: int) -> bytes:
    """The line in front of a replay (reverse video, like the history's gap lines)."""
    count = f"its {replayed}" if replayed == total else f"its last {replayed} of {total}"
    text = f"[pymosh: session {session} resumed; {count} history lines follow]"
    return b"\x1b[0;7m" + text.encode("utf-8", "replace") + b"\x1b[0m"


class HistoryArchive:
    """(server) The session's newest rendered history lines (see the module docstring).

    Stored as one chunk per ``record``: ``[seq of its first line, texts, wrap flags,
    charge]``, so a line costs the archive a list slot and a flag byte besides the text it
    shares with the live log, and recording and trimming run in C loops (``sum``, ``del``)
    rather than a Python step per line."""

    def __init__(self, max_lines: int, byte_budget: int = BYTE_BUDGET) -> None:
        self.max_lines = 0
        self.byte_budget = byte_budget
        self.chunks: Deque[List[Any]] = deque()
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
        ``LINE_MAX``), for the live log to share (``lines`` itself if none was cut)."""
        if cleared:  # ESC[3J erased the history: nothing before it is ever replayed
            self.chunks.clear()
            self.count = self.charge = 0
            self.base = self.next_seq
        if not isinstance(lines, list):
            lines = list(lines)
        seq = self.next_seq + dropped
        self.next_seq = seq + len(lines)
        if not lines:
            return lines
        texts = [data if type(data) is bytes else bytes(data) for data, _ in lines]
        wraps = bytes([bool(wrap) for _, wrap in lines])
        if max(map(len, texts)) > LINE_MAX:
            texts = [_cut(data) for data in texts]
        if any(a is not b for a, (b, _) in zip(texts, lines)):
            lines = list(zip(texts, map(bool, wraps)))
        charge = sum(map(len, texts)) + LINE_OVERHEAD * len(texts)
        self.chunks.append([seq, texts, wraps, charge])
        self.count += len(texts)
        self.charge += charge
        self._trim()
        return lines

    def _trim(self) -> None:
        """Drop the oldest lines until both bounds hold."""
        chunks = self.chunks
        while chunks and (self.count > self.max_lines or self.charge > self.byte_budget):
            chunk = chunks[0]
            seq, texts, wraps, charge = chunk
            n = self.count - self.max_lines  # lines the count bound wants gone from here
            over = self.charge - self.byte_budget  # bytes the budget wants gone
            if n >= len(texts) or over >= charge:
                chunks.popleft()  # all of it goes
                self.count -= len(texts)
                self.charge -= charge
                continue
            if over > 0:
                sums = enumerate(accumulate(map(len, texts)), 1)
                n = max(n, next(i for i, size in sums if size + LINE_OVERHEAD * i >= over))
            gone = sum(map(len, texts[:n])) + LINE_OVERHEAD * n
            del texts[:n]
            chunk[0], chunk[2], chunk[3] = seq + n, wraps[n:], charge - gone
            self.count -= n
            self.charge -= gone

    def lines(self) -> List[Line]:
        """Every line kept, oldest first, as ``(seq, text, wrapped)``."""
        return self._newest(self.count)

    def _newest(self, count: int) -> List[Line]:
        parts: List[List[Line]] = []
        for first, texts, wraps, _ in reversed(self.chunks):
            if count <= 0:
                break
            start = max(len(texts) - count, 0)
            parts.append([(first + i, texts[i], bool(wraps[i])) for i in range(start, len(texts))])
            count -= len(texts) - start
        return [line for part in reversed(parts) for line in part]

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
