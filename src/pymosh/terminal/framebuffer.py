"""The screen model (terminal.md 2.7): rows of cells plus the draw state.

A cell is an immutable tuple ``(contents, fg, bg, attrs, wide, fallback, wrap)`` —
exactly what ``Emulator.get_cell`` returns — so cloning a row is a list copy.
Rows carry a generation number (``gen``) from a process-wide counter: a new or
*reset* row gets a fresh one, a clone keeps it. Rows are shared between snapshots
and copied on first write: a row may be mutated in place only by the framebuffer
whose ``token`` it carries; ``copy()`` gives both framebuffers new tokens.
"""

from __future__ import annotations

import itertools
from collections import deque

from .api import Cell

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

_generations = itertools.count(1)

# indices into a cell tuple
CONTENTS, FG, BG, ATTRS, WIDE, FALLBACK, WRAP = range(7)

MOUSE_NONE = 0
HISTORY_LIMIT_MAX = 1_000_000  # rows an emulator may keep for take_history (whatever asked)
HISTORY_LINE_BYTES = 100  # charged per kept row besides its text (bytes, tuple, deque slot)
# display.history_line, imported on first use (display imports this module)
_history_line: Callable[[Row], tuple[bytes, bool]] | None = None
MOUSE_ENCODING_DEFAULT = 0


BLANK: Cell = ("", 0, 0, 0, False, False, False)  # the default blank, shared


def blank_cell(bg: int) -> Cell:
    return ("", 0, bg, 0, False, False, False) if bg else BLANK


class Row:
    __slots__ = ("cells", "gen", "owner")

    def __init__(self, cells: list, gen: int, owner: object = None) -> None:
        self.cells = cells
        self.gen = gen
        self.owner = owner

    @classmethod
    def blank(cls, width: int, bg: int, owner: object = None) -> Row:
        return cls([blank_cell(bg)] * width, next(_generations), owner)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Row):
            return NotImplemented
        return self.gen == other.gen and self.cells == other.cells

    __hash__ = None  # type: ignore[assignment]

    @property
    def wrapped(self) -> bool:
        return bool(self.cells[-1][WRAP])


class SavedCursor:
    __slots__ = ("col", "row", "renditions", "auto_wrap", "origin")

    def __init__(self) -> None:
        self.col = 0
        self.row = 0
        self.renditions = (0, 0, 0)
        self.auto_wrap = True
        self.origin = False


class Framebuffer:
    """Rows + DrawState + titles/clipboard/bell. Operations follow Mosh's semantics."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.token = object()
        shared = Row.blank(width, 0)
        self.rows: list[Row] = [shared] * height
        self.icon_name = ""
        self.window_title = ""
        self.clipboard = ""  # Mosh's: selection c, raw
        self.selections: dict[str, str] = {}  # every selection's latest valid write
        self.bell_count = 0
        self.title_initialized = False
        self.alt_saved: tuple | None = None  # main screen while the alternate is shown
        # scrollback capture (Emulator.take_history): the rows rendered as they leave
        # (display.history_line: the text and SGR of a line, little memory), oldest first
        self.history_limit = 0
        self.history: deque[tuple[bytes, bool]] = deque()
        self.history_bytes = 0  # charged for ``history``: HISTORY_LINE_BYTES + text each
        self.history_dropped = 0
        self.history_cleared = False
        self.reset_draw_state()

    def reset_draw_state(self) -> None:
        self.cursor_row = 0
        self.cursor_col = 0
        self.combining_row = 0  # grapheme position; -1 = invalid
        self.combining_col = 0
        self.tabs = [col % 8 == 0 for col in range(self.width)]
        self.default_tabs = True
        self.top = 0
        self.bottom = self.height - 1
        self.fg = 0
        self.bg = 0
        self.attrs = 0
        self.saved = SavedCursor()
        self.alt_cursor = SavedCursor()  # saved by ?1049
        self.next_print_will_wrap = False
        self.origin_mode = False
        self.auto_wrap_mode = True
        self.insert_mode = False
        self.cursor_visible = True
        self.reverse_video = False
        self.bracketed_paste = False
        self.mouse_reporting_mode = MOUSE_NONE
        self.mouse_focus_event = False
        self.mouse_alternate_scroll = False
        self.mouse_encoding_mode = MOUSE_ENCODING_DEFAULT
        self.application_cursor_keys = False
        self.application_keypad = False

    # -- snapshots ---------------------------------------------------------------
    def copy(self) -> Framebuffer:
        other = Framebuffer.__new__(Framebuffer)
        other.__dict__.update(self.__dict__)
        other.rows = list(self.rows)
        other.tabs = list(self.tabs)
        saved, alt = SavedCursor(), SavedCursor()
        for src, dst in ((self.saved, saved), (self.alt_cursor, alt)):
            dst.col, dst.row, dst.renditions = src.col, src.row, src.renditions
            dst.auto_wrap, dst.origin = src.auto_wrap, src.origin
        other.saved, other.alt_cursor = saved, alt
        if self.alt_saved is not None:
            other.alt_saved = (list(self.alt_saved[0]),) + self.alt_saved[1:]
        # the copy keeps the limit; pending history belongs to the original (taken once)
        other.history = deque()
        other.history_bytes = 0
        other.history_dropped = 0
        other.history_cleared = False
        # every row is now shared: neither side may write in place any more
        self.token = object()
        other.token = object()
        return other

    def ds_equal(self, other: Framebuffer) -> bool:
        return (
            self.width == other.width
            and self.height == other.height
            and self.cursor_row == other.cursor_row
            and self.cursor_col == other.cursor_col
            and self.cursor_visible == other.cursor_visible
            and self.reverse_video == other.reverse_video
            and self.renditions == other.renditions
            and self.bracketed_paste == other.bracketed_paste
            and self.mouse_reporting_mode == other.mouse_reporting_mode
            and self.mouse_focus_event == other.mouse_focus_event
            and self.mouse_alternate_scroll == other.mouse_alternate_scroll
            and self.mouse_encoding_mode == other.mouse_encoding_mode
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Framebuffer):
            return NotImplemented
        return (
            self.ds_equal(other)
            and self.rows == other.rows
            and self.window_title == other.window_title
            and self.clipboard == other.clipboard
            and self.bell_count == other.bell_count
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def renditions(self) -> tuple[int, int, int]:
        return (self.fg, self.bg, self.attrs)

    # -- rows --------------------------------------------------------------------
    def mutable_row(self, y: int) -> list:
        """The cells of row ``y``, cloned first if the row is shared."""
        row = self.rows[y]
        if row.owner is not self.token:
            row = Row(list(row.cells), row.gen, self.token)
            self.rows[y] = row
        return row.cells

    def reset_row(self, y: int) -> None:
        self.rows[y] = Row.blank(self.width, self.bg, self.token)

    def set_wrap(self, y: int, wrap: bool) -> None:
        cells = self.mutable_row(y)
        last = cells[-1]
        if last[WRAP] != wrap:
            cells[-1] = last[:WRAP] + (wrap,)

    def erase_cells(self, y: int, start: int, end: int) -> None:
        """Reset cells [start, end) of row y to the current background."""
        if start < end:
            cells = self.mutable_row(y)
            cells[start:end] = [blank_cell(self.bg)] * (end - start)

    def insert_lines(self, y: int, count: int) -> None:
        if y < self.top or y > self.bottom or count <= 0:
            return
        count = min(count, self.bottom - y + 1)
        blank = Row.blank(self.width, self.bg)
        rows = self.rows
        del rows[self.bottom - count + 1 : self.bottom + 1]
        rows[y:y] = [blank] * count

    def delete_lines(self, y: int, count: int) -> None:
        if y < self.top or y > self.bottom or count <= 0:
            return
        count = min(count, self.bottom - y + 1)
        blank = Row.blank(self.width, self.bg)
        rows = self.rows
        if y == 0 and self.history_limit and self.alt_saved is None:
            self.keep_history(rows[:count])
        del rows[y : y + count]
        at = self.bottom - count + 1
        rows[at:at] = [blank] * count

    # -- scrollback capture --------------------------------------------------------
    def set_history_limit(self, lines: int) -> None:
        limit = min(max(0, int(lines)), HISTORY_LIMIT_MAX)
        self.history_limit = limit
        self._trim_history()
        if not limit:
            self.history_dropped = 0
            self.history_cleared = False

    def keep_history(self, rows: list[Row]) -> None:
        """Rows leaving the top of the main screen, rendered now (rows are never written
        once they have left ``self.rows``, so this is what taking them later would give);
        rows beyond the limit at once (one scroll of more rows than it) are only counted."""
        over = len(rows) - self.history_limit
        if over > 0:
            self.history_dropped += over
            rows = rows[over:]
        render = _history_line or _load_history_line()
        for row in rows:
            line = render(row)
            self.history.append(line)
            self.history_bytes += HISTORY_LINE_BYTES + len(line[0])
        self._trim_history()

    def take_history(self, n: int) -> list[tuple[bytes, bool]]:
        """The ``n`` oldest kept lines, handed over."""
        history = self.history
        lines = [history.popleft() for _ in range(n)]
        self.history_bytes -= sum(HISTORY_LINE_BYTES + len(text) for text, _ in lines)
        return lines

    def _trim_history(self) -> None:
        """The oldest lines over the limit go (counted as dropped)."""
        history = self.history
        while len(history) > self.history_limit:
            self.history_bytes -= HISTORY_LINE_BYTES + len(history.popleft()[0])
            self.history_dropped += 1

    def clear_history(self) -> None:
        """ED 3: everything pending is gone, and so is the count of what was dropped."""
        if self.history_limit:
            self.history.clear()
            self.history_bytes = 0
            self.history_dropped = 0
            self.history_cleared = True

    def scroll(self, n: int) -> None:
        """n > 0: content of the region moves up n rows; n < 0: down."""
        if n > 0:
            self.delete_lines(self.top, n)
        elif n < 0:
            self.insert_lines(self.top, -n)

    # -- cursor ------------------------------------------------------------------
    def new_grapheme(self) -> None:
        self.combining_row = self.cursor_row
        self.combining_col = self.cursor_col

    def snap_cursor(self) -> None:
        if self.origin_mode:
            self.cursor_row = min(max(self.cursor_row, self.top), self.bottom)
        else:
            self.cursor_row = min(max(self.cursor_row, 0), self.height - 1)
        self.cursor_col = min(max(self.cursor_col, 0), self.width - 1)

    def move_row(self, n: int, relative: bool = False) -> None:
        if relative:
            self.cursor_row += n
        else:
            self.cursor_row = n + (self.top if self.origin_mode else 0)
        self.snap_cursor()
        self.new_grapheme()
        self.next_print_will_wrap = False

    def move_col(self, n: int, relative: bool = False) -> None:
        """Explicit column move: clamps, new grapheme, clears the pending wrap."""
        self.cursor_col = self.cursor_col + n if relative else n
        self.snap_cursor()
        self.new_grapheme()
        self.next_print_will_wrap = False

    def advance(self, n: int) -> None:
        """Implicit column move (printing): may set the pending-wrap flag."""
        self.new_grapheme()
        col = self.cursor_col + n
        self.next_print_will_wrap = col >= self.width
        self.cursor_col = col
        self.snap_cursor()

    def move_rows_autoscroll(self, n: int) -> None:
        """Line feed (n > 0) / reverse line feed (n < 0) scrolling the region."""
        row = self.cursor_row
        if self.top <= row <= self.bottom:
            if row + n > self.bottom:
                excess = row + n - self.bottom
                self.scroll(excess)
                n -= excess
            elif row + n < self.top:
                excess = row + n - self.top
                self.scroll(excess)
                n -= excess
        self.move_row(n, True)

    # -- tabs --------------------------------------------------------------------
    def next_tab(self, count: int) -> int:
        """Column of the count-th tab stop after the cursor, or -1."""
        for col in range(self.cursor_col + 1, self.width):
            if self.tabs[col]:
                count -= 1
                if count <= 0:
                    return col
        return -1

    def prev_tab(self, count: int) -> int:
        for col in range(self.cursor_col - 1, 0, -1):
            if self.tabs[col]:
                count -= 1
                if count <= 0:
                    return col
        return 0

    # -- resets ------------------------------------------------------------------
    def reset(self) -> None:
        """RIS: keeps icon name, title_initialized and bell count."""
        self.alt_saved = None
        self.reset_draw_state()
        shared = Row.blank(self.width, 0)
        self.rows = [shared] * self.height
        self.window_title = ""
        self.clipboard = ""
        self.selections = {}

    def soft_reset(self) -> None:
        """DECSTR."""
        self.insert_mode = False
        self.origin_mode = False
        self.cursor_visible = True
        self.application_cursor_keys = False
        self.application_keypad = False
        self.top, self.bottom = 0, self.height - 1
        self.fg = self.bg = self.attrs = 0
        self.saved = SavedCursor()

    def resize(self, width: int, height: int) -> None:
        if width == self.width and height == self.height:
            return
        self.rows = self._resized_rows(self.rows, width, height)
        if self.alt_saved is not None:
            main_rows = self._resized_rows(self.alt_saved[0], width, height)
            self.alt_saved = (main_rows,) + self.alt_saved[1:]
        old_width = self.width
        self.width, self.height = width, height
        self.top, self.bottom = 0, height - 1
        if width > old_width:
            self.tabs += [self.default_tabs and col % 8 == 0 for col in range(old_width, width)]
        else:
            del self.tabs[width:]
        self.cursor_row = min(self.cursor_row, height - 1)
        self.cursor_col = min(self.cursor_col, width - 1)
        if self.combining_row >= height or self.combining_col >= width:
            self.combining_row = self.combining_col = -1

    def _resized_rows(self, rows: list, width: int, height: int) -> list:
        rows = list(rows[:height])
        if width != self.width:
            pad = [blank_cell(self.bg)] * max(0, width - self.width)
            resized = []
            for row in rows:
                cells = list(row.cells)
                if cells[-1][WRAP]:
                    cells[-1] = cells[-1][:WRAP] + (False,)
                cells = (cells + pad)[:width]
                if cells[-1][WIDE]:  # cut at the new edge: blank it, as xterm does
                    cells[-1] = blank_cell(self.bg)
                resized.append(Row(cells, row.gen, self.token))
            rows = resized
        if len(rows) < height:
            rows += [Row.blank(width, self.bg)] * (height - len(rows))
        return rows

    # -- alternate screen (beyond Mosh: the visible screen is what is diffed) ----
    def enter_alternate(self, clear: bool) -> None:
        if self.alt_saved is None:
            self.alt_saved = (self.rows,)
            self.rows = [Row.blank(self.width, 0)] * self.height
        if clear:
            self.rows = [Row.blank(self.width, self.bg)] * self.height

    def leave_alternate(self, clear: bool) -> None:
        if self.alt_saved is not None:
            if clear:
                self.rows = [Row.blank(self.width, self.bg)] * self.height
            self.rows = self.alt_saved[0]
            self.alt_saved = None


def _load_history_line() -> Callable[[Row], tuple[bytes, bool]]:
    global _history_line
    from .display import history_line

    _history_line = history_line
    return history_line
