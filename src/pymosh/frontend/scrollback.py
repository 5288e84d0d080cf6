"""The client's side of scrollback: history lines into the local terminal's own history.

A terminal keeps no history for its alternate screen, so with a pymosh server that grants
scrollback the client leaves the alternate screen (``enter_main_screen``). History lines
(``HistoryReader`` events) are written over the top rows of the screen, scrolled off with
LFs at the bottom and the screen put back with reverse indexes at the top (``paint``); the
differ then redraws only the rows the history was written on. Nothing the client merely
displayed (notification bar, predictions, the differ's own scrolling) reaches the history:
the screen is cleared with EL/ED-from-row-2, never with ``ESC[2J`` (which some terminals,
e.g. tmux, push into history), and every full repaint in this mode goes through
``no_history_clear``.
"""

from __future__ import annotations

from pymosh.statesync.hello import MAX_SCROLLBACK_LINES
from pymosh.statesync.history import DEFAULT_LINES, Event, HistoryReader, HistoryWindow
from pymosh.wire.protobuf import FEATURE_SCROLLBACK

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from typing import List, Tuple

ENV = "PYMOSH_SCROLLBACK"
PAINT_GAP = 50  # ms from the end of one history paint to the next: the screen shows between
MOVING_GAP = 250  # ... and while the screen changes: a new screen is drawn before history
_INF = float("inf")
ESC = b"\x1b"
_FULL_CLEAR = b"\x1b[r\x1b[0m\x1b[H\x1b[2J"  # how the differ starts a full repaint
# keep printable text and SGR; drop other escapes, C0/C1 controls and DEL (compiled on
# first use: importing re costs pymosh-client start-up)
_UNSAFE = (
    r"\x1b\[[0-9;:]*m"  # SGR: kept
    r"|(\x1b\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"  # any other CSI
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, DCS, SOS, PM, APC strings
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]?"  # other escapes
    r"|[\x00-\x1f\x7f-\x9f])"
)  # C0, DEL, C1
_unsafe: list[re.Pattern[str]] = []


def setting(value: str | None) -> int:
    """Lines of history wanted: ``value`` (from --scrollback or $PYMOSH_SCROLLBACK);
    ValueError with a one-line message if it is not a number."""
    if value is None or value == "":
        return DEFAULT_LINES
    if not value.isdigit():
        raise ValueError(f"scrollback: not a number of lines: {value!r}")
    return min(int(value), MAX_SCROLLBACK_LINES)  # what any server would grant at most


def sanitize(text: bytes) -> bytes:
    """A server's history line as safe bytes for the local terminal: valid UTF-8, SGR only."""
    if not _unsafe:
        import re

        _unsafe.append(re.compile(_UNSAFE))
    decoded = text.decode("utf-8", "replace")
    return (
        _unsafe[0]
        .sub(lambda m: "" if m.group(1) is not None else m.group(0), decoded)
        .encode("utf-8")
    )


def _blank(height: int) -> bytes:
    """Blank the screen without ED 2 / ED 0 at the home position (tmux's scroll-on-clear)."""
    return b"\x1b[0m\x1b[H\x1b[2K" + (b"\x1b[2;1H\x1b[J" if height > 1 else b"") + b"\x1b[H"


def no_history_clear(frame: bytes, height: int) -> bytes:
    """A full repaint from the differ, its ``ESC[2J`` replaced by a clear that pushes
    nothing into the local history."""
    return frame.replace(_FULL_CLEAR, b"\x1b[r" + _blank(height), 1)


def enter_main_screen(rmcup: bytes, height: int) -> bytes:
    """Leave the alternate screen; scroll what the main screen showed into the history
    (it was there before pymosh started), leaving a blank screen, cursor home."""
    return rmcup + b"\x1b[0m\x1b[r\x1b[%d;1H" % height + b"\n" * height + b"\x1b[H"


def gap_line(skipped: int) -> bytes:
    return b"\x1b[0;7m[pymosh: %d lines skipped]\x1b[0m" % skipped


def paint(events: List[Event], local) -> bytes:
    """Bytes that put ``events`` into the history of a terminal showing ``local`` (an
    Emulator); ``local`` is fed to match: the rows the history was written on are blank
    (cursor home, modes unchanged), the rest of the screen is intact, so the differ
    repaints only those rows.

    Lines go in blocks of at most a screen's rows: a block (each line with the rows it
    soft-wraps into) is written over the top rows, scrolled off into the history with LFs
    on the bottom row (``CUP 999``: right whatever the terminal's height really is at that
    moment, a window being resized may not have told us yet), and the screen is put back
    with as many reverse indexes at the top (RI there scrolls the screen down and pushes
    nothing into the history; the rows it brings in are blank)."""
    width, height = local.width, local.height
    measure = type(local)(width, height)
    out: List[bytes] = [b"\x1b[?25l\x1b[r\x1b[0m"]
    block: List[Tuple[List[bytes], int]] = []  # (texts of one line, its rows) in the block
    top = 0  # rows at the top of the screen that are blank after painting

    def rows_of(texts: List[bytes]) -> int:
        data = b"".join(texts)
        if len(texts) == 1 and data.isascii() and b"\x1b" not in data:
            rows = -(-len(data) // width)
        else:
            measure.feed(b"\x1b[0m\x1b[H\x1b[2J" + data)
            rows = measure.cursor_row + 1
        # a longer line scrolls its own first rows off while it is written
        return min(max(rows, 1), height)

    def flush() -> None:
        nonlocal top
        rows = sum(r for _, r in block)
        if not rows:
            return
        clear = b"".join(b"\x1b[%d;1H\x1b[2K" % (y + 1) for y in range(rows))
        text, y = [], 0
        for texts, r in block:
            text.append(b"\x1b[%d;1H" % (y + 1) + b"".join(texts) + b"\x1b[0m")
            y += r
        out.append(clear + b"".join(text) + b"\x1b[999;1H" + b"\n" * rows)
        out.append(b"\x1b[H" + b"\x1bM" * rows)
        top = max(top, rows)
        block.clear()

    def push(texts: List[bytes]) -> None:
        rows = rows_of(texts)
        if rows >= height and len(texts) > 1:  # longer than the screen: row by row
            for text in texts:
                push([text])
            return
        if sum(r for _, r in block) + rows > height:
            flush()
        block.append((texts, rows))

    group: List[bytes] = []
    for kind, value, wrap in events:
        if kind == "clear":
            if group:
                push(group)
                group = []
            flush()
            out.append(b"\x1b[3J")
            continue
        if isinstance(value, int):  # a gap
            text, wrap = gap_line(value), False
        else:
            text = sanitize(value)
        if wrap:  # the row continues: pad its trimmed blanks so the next row starts below
            measure.feed(b"\x1b[0m\x1b[H\x1b[2J" + text)
            if measure.cursor_row == 0 and not _filled(measure, width):
                text += b" " * (width - measure.cursor_col)
        group.append(text)
        if not wrap:
            push(group)
            group = []
    if group:
        push(group)
    flush()
    finish = (
        b"\x1b[?25l\x1b[r\x1b[0m"
        + b"".join(b"\x1b[%d;1H\x1b[2K" % (y + 1) for y in range(top))
        + b"\x1b[H"
    )
    out.append(finish)
    local.feed(finish)
    return b"".join(out)


def _filled(term, width: int) -> bool:
    """The cursor waits at the last column after writing it (the next text wraps)."""
    return term.cursor_col == width - 1 and bool(term.get_cell(term.cursor_row, width - 1)[0])


class LocalScrollback:
    """The client's scrollback mode: off until the server's hello grants it, then the
    terminal's main screen is used and history lines are painted into its history."""

    def __init__(self, lines: int, smcup: bytes = b"", rmcup: bytes = b"") -> None:
        self.lines = lines
        self.smcup, self.rmcup = smcup, rmcup  # the terminal's alternate-screen switches
        self.reader = HistoryReader()
        self.active = False  # on the main screen, painting history
        self.size = (0, 0)  # the terminal's size when last drawn on (while active)
        self.screen: object = None  # the server's screen when last drawn
        self.painted_at = -_INF  # when the latest history paint was written
        self.held = 0.0  # ms after ``painted_at`` that held lines wait for (0: none held)

    def window(self) -> HistoryWindow | None:
        """The history slot of the client's copy of the server's state (None: not asked)."""
        return HistoryWindow() if self.lines else None

    def before_draw(self, state, local, width: int, height: int, now: float) -> Tuple[bytes, bool]:
        """(bytes to write before the differ's frame, whether a full repaint is needed).
        ``local`` (what the screen shows) is updated to match the bytes; painting uses the
        terminal's real size (``width`` x ``height``). Lines that arrive within PAINT_GAP
        of the previous paint (``painted``; MOVING_GAP if the screen changed since the last
        draw) wait for the next: a new screen is drawn first, a terminal slower than the
        history still shows the finished screen between paints, and each paint's redraw
        covers more lines."""
        window = state.history
        if window is None:
            return b"", False
        moved = state.terminal != self.screen
        self.screen = state.terminal
        hello = state.hello
        if not self.active:
            if hello is None or not hello.features & FEATURE_SCROLLBACK:
                window.take()  # a stock (or unwilling) server: nothing is shown
                return b"", False
            self.active = True
            self.size = (width, height)
            local.resize(width, height)
            out = enter_main_screen(self.rmcup, height)
            local.feed(b"\x1b[H\x1b[2J")
            return out + paint(self.reader.events(window), local), True
        out = b""
        full = self.size != (width, height)
        news = bool(window.lines) or window.clears > self.reader.clears
        gap = MOVING_GAP if moved else PAINT_GAP
        self.held = gap if news and not full and now < self.painted_at + gap else 0.0
        if self.held:
            return b"", False
        if full:
            # A terminal that grows taller pulls rows back from its history onto the top
            # of the screen (xterm, tmux, VTE): scroll them back before the repaint.
            grown = height - self.size[1]
            if grown > 0:
                out = b"\x1b[r\x1b[%d;1H" % height + b"\n" * grown
            self.size = (width, height)
        events = self.reader.events(window)
        if events or full:
            local.resize(width, height)
        return out + (paint(events, local) if events else b""), full

    def painted(self, now: float) -> None:
        """The bytes of a history paint were written (at ``now``, after the write)."""
        self.painted_at = now

    def wait_time(self, now: float) -> float:
        """ms until held lines may be painted (inf: none held)."""
        return max(self.painted_at + self.held - now, 0) if self.held else _INF

    def settled(self, state) -> bool:
        """``state`` (just received) brought history and left the screen as drawn: the
        client acknowledges it at once, so a quiet screen lets history flow (states that
        change the screen keep Mosh's delayed ack: history never crowds out bulk output)."""
        window = state.history
        return bool(self.active and window is not None and window.lines) and (
            state.terminal == self.screen
        )

    def frame(self, data: bytes, full: bool, local, repaint) -> bytes:
        """The differ's bytes for the main screen: never ``ESC[2J``; and where the differ
        would scroll rows off the top (its shortcut for scrolled screens; those rows would
        land in the history ahead of, and besides, the server's lines), ``repaint()``'s
        full repaint instead."""
        if not self.active:
            return data
        if not full and b"\n" in data:
            probe = local.copy()
            probe.set_history_limit(local.height)
            probe.feed(data)
            dropped, lines, _ = probe.take_history()
            if dropped or lines:
                data, full = repaint(), True
        return no_history_clear(data, local.height) if full else data

    def leave(self, closing: bytes, height: int) -> bytes:
        """What the client writes on exit or suspend: on the main screen, the mode resets
        without rmcup (which would restore the cursor saved at start), then a new line
        below the last screen, which stays like it does after ssh exits."""
        if not self.active:
            return closing
        rmcup = self.rmcup
        if rmcup and closing.endswith(rmcup):
            closing = closing[: -len(rmcup)]
        return closing + b"\x1b[%d;1H\r\n" % height

    def enter(self, opening: bytes) -> bytes:
        """What the client writes on resume: the main screen stays (only the cursor-key
        mode of ``opening`` is kept)."""
        smcup = self.smcup
        if self.active and smcup and opening.startswith(smcup):
            return opening[len(smcup) :]
        return opening
