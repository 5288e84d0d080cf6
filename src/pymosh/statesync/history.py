"""Scrollback: the lines that leave the top of the server's screen, delivered exactly once.

Sans-I/O, three parts:

- ``HistoryLog`` (server): lines scrolled off and not yet in flight, numbered from 0. The
  newest stay unrendered in the emulator's ring (its ``history_pending`` rows, at most
  ``ROW_BUDGET`` bytes of them) and are rendered only when they go on the wire, so bulk
  output that scrolls far more lines than the budget renders none of the lines it drops;
  older ones (beyond that row budget) are rendered into ``pending``. Bounded by a line
  count (ring and ``pending`` together) and a byte budget for ``pending``; when the client
  falls behind, the oldest are dropped and the client later sees one numbered jump.
- ``HistoryWindow``: the slot of ``CompleteTerminal`` (extension 101 of the HostMessage).
  On the server it holds the lines in flight (sent, not yet acknowledged: ``subtract`` drops
  the acknowledged prefix); a diff carries the lines numbered from the older state's ``end``.
  ``HistoryLog.pump`` moves at most ``CHUNK`` bytes per send into it, up to ``WINDOW`` bytes
  in flight, and starts such a batch only when the client has acknowledged everything (the
  screen first) and the program paused (``QUIET``; ``BUSY`` while it prints on), so any
  one diff carries a bounded amount of history and the screen is never held back by it.
- ``HistoryReader`` (client): turns received windows into ordered events (line, gap, clear),
  ignoring every line it has already had (replays, late or duplicated states).

Wire format of the extension body (a nested protobuf message):
  1 varint  seq of the first line below       2 repeated bytes  lines (SGR + UTF-8)
  3 packed  indices of soft-wrapped lines     4 packed  (index, skipped) pairs: ``skipped``
  5 varint  ESC[3J count so far                 lines were dropped before line ``index``
  6 varint  seq at the latest ESC[3J (lines numbered below it were erased with it)
"""

from __future__ import annotations

import math

from pymosh.errors import DecodeError
from pymosh.generics import Protocol
from pymosh.wire.protobuf import LEN, VARINT, _fields, _read_varint, _varint

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections import deque
    from typing import Deque, Iterable, List, Tuple

    from pymosh.statesync.archive import HistoryArchive
else:
    from _collections import deque  # collections' own, without the package (start-up)

DEFAULT_LINES = 10_000  # history a client asks for unless told otherwise
BYTE_BUDGET = 32 << 20  # per session: what the server's pending log may hold
# per session: unrendered rows the emulator's ring may hold (compact: 10,000 rows of 80
# columns of a log or of CJK text take 0.7 MiB, of coloured ``ls`` 1.3 MiB, of 24-bit
# colour art 10 MiB);
# the fast path's arena is at most twice that
ROW_BUDGET = 8 << 20
PULL = 32  # rows rendered at a time when the window takes lines from the ring
LINE_OVERHEAD = 128  # bytes charged per line besides its text (Python objects)
LINE_MAX = 16 << 10  # a longer rendered row is cut (one row is at most 1024 cells)
CHUNK = 8192  # history bytes added to the state per send ...
WINDOW = 16384  # ... and in flight (sent, not yet acknowledged), at first:
GROW = 4  # up to GROW times both, doubled each time a send's lines are acknowledged within
FAST = 100  # ms, with no output since the window started
SETTLE = 300  # ms without overflow before an overflowing log sends again
QUIET = 50  # ms without output before a window of lines starts ...
BUSY = 250  # ... or since the last window started, while the program keeps printing

Line = tuple[int, bytes, bool]  # (seq, SGR + UTF-8 text, soft-wrapped into the next line)


def _cut(data: bytes) -> bytes:
    """A row longer than LINE_MAX loses its tail (at a character start) and its SGR state."""
    if len(data) <= LINE_MAX:
        return data
    end = LINE_MAX
    while end > 0 and data[end] & 0xC0 == 0x80:
        end -= 1
    return data[:end] + b"\x1b[0m"


class HistoryWindow:
    """The history part of the server's state (see the module docstring)."""

    __slots__ = ("end", "clears", "clear_seq", "lines", "size")

    def __init__(self) -> None:
        self.end = 0  # seq of the next line this state would carry
        self.clears = 0  # ESC[3J seen so far
        self.clear_seq = 0  # ``end`` when the latest ESC[3J was seen
        self.lines: List[Line] = []
        self.size = 0  # bytes of text in ``lines``

    def copy(self) -> HistoryWindow:
        other = HistoryWindow.__new__(HistoryWindow)
        other.end, other.clears, other.clear_seq = self.end, self.clears, self.clear_seq
        other.lines, other.size = list(self.lines), self.size
        return other

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HistoryWindow):
            return NotImplemented
        return (self.end, self.clears) == (other.end, other.clears)

    __hash__ = None  # type: ignore[assignment]

    def append(self, line: Line) -> None:
        self.lines.append(line)
        self.size += len(line[1])
        self.end = line[0] + 1

    def subtract(self, prefix: HistoryWindow) -> None:
        """Drop the lines the (acknowledged) ``prefix`` state already carried."""
        lines = self.lines
        if not lines or lines[0][0] >= prefix.end:
            return
        cut = 0
        while cut < len(lines) and lines[cut][0] < prefix.end:
            self.size -= len(lines[cut][1])
            cut += 1
        del lines[:cut]

    def take(self) -> List[Line]:
        """(client) The lines received so far, handing them over once."""
        lines, self.lines, self.size = self.lines, [], 0
        return lines

    # ------------------------------------------------------------------ wire

    def diff_from(self, existing: HistoryWindow) -> bytes:
        """The extension body turning ``existing`` into this state (b"" if nothing new)."""
        lines = (
            [line for line in self.lines if line[0] >= existing.end]
            if (self.end > existing.end)
            else []
        )
        if not lines and self.clears == existing.clears:
            return b""
        out = [b"\x08", _varint(lines[0][0] if lines else self.end)]
        wrapped: List[int] = []
        skips: List[int] = []
        expected = lines[0][0] if lines else 0
        for i, (seq, data, wrap) in enumerate(lines):
            if seq != expected:
                skips += (i, seq - expected)
            expected = seq + 1
            out += (b"\x12", _varint(len(data)), data)
            if wrap:
                wrapped.append(i)
        for tag, values in ((b"\x1a", wrapped), (b"\x22", skips)):
            if values:
                packed = b"".join(_varint(v) for v in values)
                out += (tag, _varint(len(packed)), packed)
        if self.clears != existing.clears:
            out += (b"\x28", _varint(self.clears), b"\x30", _varint(self.clear_seq))
        return b"".join(out)

    def apply(self, body: bytes) -> None:
        """Replay a ``diff_from`` body (DecodeError on garbage)."""
        first = 0
        texts: List[bytes] = []
        wrapped: set[int] = set()
        skips: dict[int, int] = {}
        clears = clear_seq = None
        for number, wtype, value in _fields(body):
            if number == 2:
                if wtype != LEN:
                    raise DecodeError("history: a line is not bytes")
                texts.append(value)
            elif number in (3, 4):
                values = _packed(wtype, value)
                if number == 3:
                    wrapped.update(values)
                else:
                    skips.update(zip(values[::2], values[1::2]))
            elif number in (1, 5, 6):
                if wtype != VARINT:
                    raise DecodeError("history: a number is not a varint")
                if number == 1:
                    first = value
                elif number == 5:
                    clears = value
                else:
                    clear_seq = value
        if clears is not None and clears != self.clears:
            self.clears, self.clear_seq = clears, clear_seq or 0
            self.end = max(self.end, self.clear_seq)
        seq = first
        for i, text in enumerate(texts):
            seq += skips.get(i, 0)
            if seq >= self.end:
                self.append((seq, text, i in wrapped))
            seq += 1


def _packed(wtype: int, value: object) -> List[int]:
    if wtype == VARINT:
        return [value]  # type: ignore[list-item]
    if wtype != LEN:
        raise DecodeError("history: a list is not packed")
    out: List[int] = []
    pos = 0
    data: bytes = value  # type: ignore[assignment]
    while pos < len(data):
        number, pos = _read_varint(data, pos)
        out.append(number)
    return out


class RowSource(Protocol):
    """What ``HistoryLog`` needs of an emulator (both implementations)."""

    @property
    def history_pending(self) -> int: ...

    @property
    def history_pending_bytes(self) -> int: ...

    def take_history(
        self, max_lines: int | None = None
    ) -> Tuple[int, List[Tuple[bytes, bool]], bool]: ...


class HistoryLog:
    """(server) Lines scrolled off, waiting to be sent; bounded in lines and bytes."""

    def __init__(
        self, max_lines: int, source: RowSource | None = None, byte_budget: int = BYTE_BUDGET
    ) -> None:
        self.max_lines = max(int(max_lines), 0)
        self.source = source  # the emulator whose ring holds the newest lines, unrendered
        self.byte_budget = byte_budget
        self.pending: Deque[Line] = deque()
        self.charge = 0  # bytes charged for ``pending``
        self.next_seq = 0
        self.clears = 0
        self.clear_seq = 0
        self.may_send = CHUNK  # bytes ``pump`` may still add before the next send
        self.overflow_at = -math.inf  # when lines were last dropped for lack of room
        self.window = HistoryWindow()  # the state's slot the lines are pumped into
        self.filling = False  # a window of lines is being sent (see ``pump``)
        self.printed_at = -math.inf  # the program's latest output
        self.window_at = -math.inf  # the latest window's start
        self.scale = 1  # CHUNK and WINDOW times this (see ``pump``)
        # (window end after lines were added, when): the fills in flight, oldest first
        self.fills: Deque[Tuple[int, float]] = deque()
        self.archive: HistoryArchive | None = None  # the session's copy (for a resume)

    def capture(self, now: float) -> None:
        """After the program printed: the source's news (an ESC[3J, rows it dropped), and
        its oldest rows rendered only beyond what its ring may hold (``ROW_BUDGET``)."""
        source = self.source
        if source is None:
            return
        dropped, lines, cleared = source.take_history(0)
        if lines or cleared or self.pending:
            self._add(dropped, lines, cleared, now)
        elif dropped:  # bulk output, every read: only the count moves (as ``_add`` would)
            if self.archive is not None:
                self.archive.record(dropped, lines, False)
            self.next_seq += dropped
            self.overflow_at = now
        self.filling = False  # (as ``feed``)
        self.printed_at = now
        while True:
            held, over = source.history_pending, source.history_pending_bytes - ROW_BUDGET
            if over <= 0 or not held:
                return
            # about as many of the oldest rows as hold the excess (row sizes vary)
            self.feed(*source.take_history(-(-over * held // source.history_pending_bytes)), now)

    def _unrendered(self) -> int:
        return 0 if self.source is None else self.source.history_pending

    def feed(
        self, dropped: int, lines: Iterable[Tuple[bytes, bool]], cleared: bool, now: float = 0.0
    ) -> None:
        """The program printed: one ``Emulator.take_history()`` result (see ``_add``). While
        lines are being dropped, nothing is sent (``pump``): the client gets one gap and the
        newest lines once output settles, not a trickle of fragments between many gaps."""
        self._add(dropped, lines, cleared, now)
        self.filling = False  # the screen changed: it goes first (see ``pump``)
        self.printed_at = now

    def _add(
        self, dropped: int, lines: Iterable[Tuple[bytes, bool]], cleared: bool, now: float
    ) -> None:
        """An ESC[3J first, then ``dropped`` lines that were never kept, then ``lines``: the
        one place rendered lines enter the log."""
        if self.archive is not None:
            lines = self.archive.record(dropped, lines, cleared)
        if cleared:
            self.pending.clear()
            self.charge = 0
            self.clears += 1
            self.clear_seq = self.next_seq
        self.next_seq += dropped
        pending = self.pending
        for data, wrap in lines:
            data = _cut(bytes(data))
            pending.append((self.next_seq, data, bool(wrap)))
            self.charge += len(data) + LINE_OVERHEAD
            self.next_seq += 1
        if dropped:
            self.overflow_at = now
        limit = self.max_lines - self._unrendered()  # the ring's rows are newer
        while pending and (len(pending) > limit or self.charge > self.byte_budget):
            self.charge -= len(pending.popleft()[1]) + LINE_OVERHEAD
            self.overflow_at = now

    def sent(self) -> None:
        """The transport sent a state: the next one may carry another CHUNK (scaled)."""
        self.may_send = CHUNK * self.scale

    def wait_time(self, now: float) -> float:
        """ms until ``pump`` may send lines it is holding back (inf: not holding back)."""
        if self.filling or not self.backlog:
            return math.inf
        due = self._window_due() - now
        return due if due > 0 else math.inf

    def _window_due(self) -> float:
        """When a window may start: output settled (no overflow for SETTLE), and quiet for
        QUIET or the last window BUSY ago (a program printing without pause still gets a
        little history through, a bulk one hardly slowed)."""
        return max(self.overflow_at + SETTLE, min(self.printed_at + QUIET, self.window_at + BUSY))

    def ready(self, now: float) -> bool:
        """``pump`` may change something now (else it would return at once: nothing to
        move, or lines dropped less than SETTLE ago). Cheap: the server asks every turn."""
        if self.window.clears != self.clears:
            return True
        return now >= self.overflow_at + SETTLE and bool(self.pending or self._unrendered())

    def pump(self, now: float = math.inf, all_acked: bool = True) -> bool:
        """Move pending lines into the state (``window``) while the pacing allows; True if
        it changed.

        Screen first: a window of lines starts only when the client has acknowledged
        everything (``all_acked``: the screen and the lines before), fills by CHUNK per
        send up to WINDOW bytes, and stops filling as soon as the program prints. A lost
        diff is resent with every unacknowledged line in it, so the screen never waits
        behind more history than the little sent since it last settled.

        Once the screen is quiet, history may use the link: each time the lines added
        for a send are acknowledged within FAST ms, with no output since the window
        started, CHUNK and WINDOW double (up to GROW times; a pymosh client acknowledges at
        once a state that changed its history and not its screen). A slow acknowledgment
        (a long or lossy path, Mosh's delayed ack) or any output starts over at 1. (Lines
        in flight are never taken back: the newest state must carry every line after the
        acknowledged one, a client reads history from the newest state it has; so a diff
        resent when the path turns lossy may carry up to GROW times WINDOW.)"""
        window = self.window
        changed = False
        if window.clears != self.clears:
            window.clears, window.clear_seq = self.clears, self.clear_seq
            window.end = max(window.end, self.clear_seq)
            window.lines = [line for line in window.lines if line[0] >= self.clear_seq]
            window.size = sum(len(line[1]) for line in window.lines)
            changed = True
        pending = self.pending
        if now < self.overflow_at + SETTLE:
            return changed
        fills = self.fills
        head = window.lines[0][0] if window.lines else window.end
        while fills and fills[0][0] <= head:  # that fill is acknowledged
            scale = self.scale
            quick = now - fills.popleft()[1] <= FAST and self.window_at >= self.printed_at
            self.scale = min(2 * scale, GROW) if quick else 1
            self.may_send += CHUNK * (self.scale - scale)
        if self.window_at < self.printed_at:  # output since the window started
            self.scale = 1
        if all_acked and not window.size and not self.filling and now >= self._window_due():
            # nothing in flight: a window starts with a full CHUNK (whatever the previous
            # one left of its allowance, there may be no send to renew it)
            self.filling = True
            self.window_at = now
            self.may_send = CHUNK * self.scale
        limit = WINDOW * self.scale
        while self.filling and self.may_send > 0 and window.size < limit:
            if not pending:  # the ring's oldest rows, rendered as they go on the wire
                if self.source is None or not self.source.history_pending:
                    break
                dropped, lines, cleared = self.source.take_history(PULL)
                self._add(dropped, lines, cleared, now)
                continue
            line = pending.popleft()
            self.charge -= len(line[1]) + LINE_OVERHEAD
            self.may_send -= len(line[1]) + 2
            window.append(line)
            changed = True
        if changed and window.lines and (not fills or fills[-1][0] < window.end):
            fills.append((window.end, now))
        if window.size >= limit:
            self.filling = False
        return changed

    @property
    def backlog(self) -> int:
        return len(self.pending) + self._unrendered()


# ------------------------------------------------------------------ client


Event = tuple[str, "bytes | int", bool]  # (kind, text or count, soft-wrapped)


class HistoryReader:
    """(client) Received lines -> ``("clear", n, False)``, ``("gap", skipped, False)``,
    ``("line", text, wrapped)`` in order, each line once."""

    def __init__(self) -> None:
        self.next_seq = 0
        self.clears = 0

    def events(self, window: HistoryWindow) -> List[Event]:
        out: List[Event] = []
        if window.clears > self.clears:
            self.clears = window.clears
            self.next_seq = max(self.next_seq, window.clear_seq)
            out.append(("clear", window.clears, False))
        for seq, text, wrap in window.take():
            if seq < self.next_seq:
                continue  # had it already (a replayed or older state)
            if seq > self.next_seq:
                out.append(("gap", seq - self.next_seq, False))
            out.append(("line", text, wrap))
            self.next_seq = seq + 1
        return out
