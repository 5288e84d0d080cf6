"""The display differ (terminal.md 4): bytes that turn a terminal showing one frame
into one showing another, in the small vocabulary a stock mosh-client understands.

``new_frame(initialized, last, new)`` uses the server configuration (ECH, BCE and
titles available) unless told otherwise by keyword. One deliberate deviation from
Mosh 1.4.0 (its quirk 4.7-1): the backspace shortcut is never used while the
believed cursor sits past the last column, a CUP is sent instead. Two more, where
Mosh's frames lose a row's wrap bit: a row ending in a wide character whose (hidden) wrap
bit changed is redrawn from that character, and on 1-/2-column screens a wrapped-in cell
that fills its row continues the soft-wrap chain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .clipboard import changed_writes
from .framebuffer import BLANK, CONTENTS, FALLBACK, WIDE, WRAP, Cell, Framebuffer, Row

if TYPE_CHECKING:
    from .emulator import Emulator

ESC = "\x1b"
NBSP = "\u00a0"
_DEFAULT_RENDITIONS = (0, 0, 0)
_ATTR_SGR = ((1, ";1"), (4, ";3"), (8, ";4"), (16, ";5"), (32, ";7"), (64, ";8"))
TRUECOLOR = 0x1000000


def sgr(renditions: tuple[int, int, int]) -> str:
    """Mosh's only SGR form: ESC[0, attributes, fg, bg, m."""
    fg, bg, attrs = renditions
    out = [ESC, "[0"]
    for bit, text in _ATTR_SGR:
        if attrs & bit:
            out.append(text)
    for value, base in ((fg, 30), (bg, 40)):
        if value & TRUECOLOR:
            out.append(
                f";{base // 10}8;2;{(value >> 16) & 0xFF};{(value >> 8) & 0xFF};{value & 0xFF}"
            )
        elif value > base + 7:
            out.append(f";{base // 10}8;5;{value - base}")
        elif value:
            out.append(f";{value}")
    out.append("m")
    return "".join(out)


def grapheme(cell: tuple) -> str:
    contents = cell[CONTENTS]
    if not contents:
        return " "
    if cell[FALLBACK]:
        return NBSP + contents
    return contents


def history_line(row: Row) -> tuple[bytes, bool]:
    """A row as a terminal's scrollback line: Mosh's SGR form where the renditions change,
    the cells' UTF-8 text, trailing blanks (empty or space cells in the default rendition)
    trimmed, ESC[0m at the end if any SGR was written; and whether the row soft-wraps into
    the next one."""
    cells = row.cells
    end = len(cells)
    while end and (
        cells[end - 1] is BLANK
        or (cells[end - 1][CONTENTS] in ("", " ") and cells[end - 1][1:4] == _DEFAULT_RENDITIONS)
    ):
        end -= 1
    out: list[str] = []
    renditions = _DEFAULT_RENDITIONS
    styled = False
    x = 0
    while x < end:
        cell = cells[x]
        if cell[1:4] != renditions:
            renditions = cell[1:4]
            out.append(sgr(renditions))
            styled = True
        out.append(grapheme(cell))
        x += _cell_width(cell)
    if styled:
        out.append(ESC + "[0m")
    return "".join(out).encode("utf-8", "replace"), bool(cells[-1][WRAP])


def _cell_width(cell: tuple) -> int:
    return 2 if cell[WIDE] else 1


class _Frame:
    """What the differ believes about the receiving terminal while writing."""

    __slots__ = ("out", "x", "y", "renditions", "cursor_visible", "width")

    def __init__(self, width: int, cursor_visible: bool) -> None:
        self.out: list[str] = []
        self.x = self.y = -1
        self.renditions = _DEFAULT_RENDITIONS
        self.cursor_visible = cursor_visible
        self.width = width

    def append_move(self, y: int, x: int) -> None:
        last_x, last_y = self.x, self.y
        self.x, self.y = x, y
        if last_x != -1 and last_y != -1:
            if x == 0 and 0 <= y - last_y < 5:
                if last_x != 0:
                    self.out.append("\r")
                self.out.append("\n" * (y - last_y))
                return
            # (Mosh also does this from past the last column, landing one too far left)
            if y == last_y and -5 < x - last_x < 0 and last_x < self.width:
                self.out.append("\b" * (last_x - x))
                return
        self.out.append(f"{ESC}[{y + 1};{x + 1}H")

    def append_silent_move(self, y: int, x: int) -> None:
        if self.x == x and self.y == y:
            return
        if self.cursor_visible:
            self.out.append(ESC + "[?25l")
            self.cursor_visible = False
        self.append_move(y, x)

    def update_rendition(self, renditions: tuple, force: bool = False) -> None:
        if force or renditions != self.renditions:
            self.out.append(sgr(renditions))
            self.renditions = renditions


def _mode_change(out: list[str], old: int, new: int, all_off: tuple[int, ...]) -> None:
    if new == 0:
        out.extend(f"{ESC}[?{m}l" for m in all_off)
        return
    if old != 0:
        out.append(f"{ESC}[?{old}l")
    out.append(f"{ESC}[?{new}h")


def _flag(out: list[str], mode: int, on: bool) -> None:
    out.append(f"{ESC}[?{mode}{'h' if on else 'l'}")


def new_frame(
    initialized: bool,
    last: Emulator,
    new: Emulator,
    *,
    has_ech: bool = True,
    has_bce: bool = True,
    has_title: bool = True,
    clipboard_selections: bool = False,
    scroll_below_top: bool = False,
) -> bytes:
    """Bytes that make a terminal showing ``last`` show ``new`` (Emulator objects).

    ``clipboard_selections`` (a pymosh peer): OSC 52 writes for every selection, each with
    its own; otherwise Mosh's selection ``c`` only (its 16 KiB cap). ``scroll_below_top``
    (a client drawing on the main screen with scrollback): a scrolled screen is scrolled
    by deleting lines below the first row, so no row leaves the top of the screen into the
    terminal's history (which holds the server's lines only), and the first row redrawn."""
    a, f = last.fb, new.fb
    out: list[str] = []
    if f.bell_count != a.bell_count:
        out.append("\x07")
    if (
        has_title
        and f.title_initialized
        and (not initialized or f.icon_name != a.icon_name or f.window_title != a.window_title)
    ):
        if f.icon_name == f.window_title:
            out.append(f"{ESC}]0;{f.window_title}\x07")
        else:
            out.append(f"{ESC}]1;{f.icon_name}\x07{ESC}]2;{f.window_title}\x07")
    if clipboard_selections:
        if f.selections is not a.selections:
            out.append(changed_writes(a.selections, f.selections))
    elif f.clipboard != a.clipboard:
        out.append(f"{ESC}]52;c;{f.clipboard}\x07")
    if not initialized or f.reverse_video != a.reverse_video:
        _flag(out, 5, f.reverse_video)

    frame = _Frame(f.width, a.cursor_visible)
    frame.out = out
    height = f.height
    if not initialized or f.width != a.width or f.height != a.height:
        out.append(f"{ESC}[r{ESC}[0m{ESC}[H{ESC}[2J")
        initialized = False
        frame.x = frame.y = 0
    else:
        frame.x, frame.y = a.cursor_col, a.cursor_row
        frame.renditions = a.renditions
    if not initialized:
        frame.cursor_visible = False
        out.append(ESC + "[?25l")

    first_row = 0
    old_rows: list[Row] = []
    if initialized:
        old_rows = list(a.rows)
        first_row = _scroll(frame, f, old_rows, scroll_below_top)

    wrap = False
    for y in range(first_row, height):
        wrap = _put_row(
            frame, initialized, f, y, old_rows[y] if initialized else None, wrap, has_ech, has_bce
        )

    if not initialized or f.cursor_row != frame.y or f.cursor_col != frame.x:
        frame.append_move(f.cursor_row, f.cursor_col)
    if not initialized or f.cursor_visible != frame.cursor_visible:
        _flag(out, 25, f.cursor_visible)
    frame.update_rendition(f.renditions, force=not initialized)
    if not initialized or f.bracketed_paste != a.bracketed_paste:
        _flag(out, 2004, f.bracketed_paste)
    if not initialized or f.mouse_reporting_mode != a.mouse_reporting_mode:
        _mode_change(out, a.mouse_reporting_mode, f.mouse_reporting_mode, (1003, 1002, 1001, 1000))
    if not initialized or f.mouse_focus_event != a.mouse_focus_event:
        _flag(out, 1004, f.mouse_focus_event)
    if not initialized or f.mouse_encoding_mode != a.mouse_encoding_mode:
        _mode_change(out, a.mouse_encoding_mode, f.mouse_encoding_mode, (1015, 1006, 1005))
    return "".join(out).encode("utf-8", "replace")


def _scroll(frame: _Frame, f: Framebuffer, old_rows: list[Row], below_top: bool) -> int:
    """Detect a scroll of the top of the screen; emit it; return the first row to draw."""
    height = f.height
    first = f.rows[0]
    k = next((i for i, row in enumerate(old_rows) if row == first), 0)
    if k == 0:
        return 0
    scroll_height = 0
    while k + scroll_height < height and f.rows[scroll_height] == old_rows[k + scroll_height]:
        scroll_height += 1
    if below_top and scroll_height < 2:
        return 0  # (only the first row matched: the region from row 2 would save nothing)
    bottom = k + scroll_height - 1
    top = 1 if below_top else 0
    out = frame.out
    frame.update_rendition(_DEFAULT_RENDITIONS, force=True)
    if below_top:
        # DL on the second row: neither xterm nor tmux keeps deleted rows (tmux keeps
        # the top row of any scrolled region, so a region from row 2 would not do)
        if bottom < height - 1:
            out.append(f"{ESC}[1;{bottom + 1}r")
        out.append(f"{ESC}[2H{ESC}[{k}M")
        if bottom < height - 1:
            out.append(ESC + "[r")
        frame.x = frame.y = -1
    elif bottom == height - 1 and frame.y == height - 1:
        out.append("\r" + "\n" * k)
        frame.x = 0
    else:
        out.append(f"{ESC}[1;{bottom + 1}r")
        frame.x = frame.y = -1
        frame.append_silent_move(bottom, 0)
        out.append("\n" * k)
        out.append(ESC + "[r")
        frame.x = frame.y = -1
    blank = Row.blank(f.width, 0)
    old_rows[top : bottom + 1] = old_rows[top + k : bottom + 1] + [blank] * k
    return 0 if below_top else scroll_height


def _put_row(
    frame: _Frame,
    initialized: bool,
    f: Framebuffer,
    y: int,
    old_row: Row | None,
    wrap: bool,
    has_ech: bool,
    has_bce: bool,
) -> bool:
    """Draw row ``y``; True if the real cursor is left to soft-wrap into the next row."""
    row = f.rows[y]
    cells = row.cells
    width = f.width
    out = frame.out
    x = 0
    wrap_this = bool(cells[-1][WRAP])
    if wrap:
        cell = cells[0]
        frame.update_rendition(cell[1:4])
        out.append(grapheme(cell))
        x = _cell_width(cell)
        frame.x += x
        if x >= width:  # (1- or 2-column screens) the wrapped-in cell fills the row
            return _end_row(frame, f, y, wrap_this)
    if initialized and row is old_row:
        return False
    old_cells: list[Cell] = old_row.cells if old_row is not None else []
    clear_count = 0
    blank_renditions = _DEFAULT_RENDITIONS
    wrote_last_cell = False
    while x < width:
        cell = cells[x]
        if (
            initialized
            and not clear_count
            and cell == old_cells[x]
            and not (cell[WIDE] and x + 2 == width and wrap_this != old_cells[-1][WRAP])
        ):
            # (a wide last character hides the wrap bit: redraw it when that changes)
            x += _cell_width(cell)
            continue
        empty = not cell[CONTENTS]
        if empty:
            if not clear_count:
                blank_renditions = cell[1:4]
            if cell[1:4] == blank_renditions:
                clear_count += 1
                x += 1
                continue
        if clear_count:
            frame.append_silent_move(y, x - clear_count)
            frame.update_rendition(blank_renditions)
            can_erase = has_bce or frame.renditions == _DEFAULT_RENDITIONS
            if can_erase and has_ech and clear_count > 4:
                out.append(f"{ESC}[{clear_count}X")
            else:
                out.append(" " * clear_count)
                frame.x = x
            clear_count = 0
            if empty:  # an empty cell of other renditions starts the next run
                blank_renditions = cell[1:4]
                clear_count = 1
                x += 1
                continue
        cell_width = _cell_width(cell)
        if wrap_this and x + cell_width >= width:
            frame.x = frame.y = -1  # force a CUP before the last cell of a wrapped row
        frame.append_silent_move(y, x)
        frame.update_rendition(cell[1:4])
        out.append(grapheme(cell))
        x += cell_width
        frame.x += cell_width
        if x >= width:
            wrote_last_cell = True
    if clear_count:
        frame.append_silent_move(y, x - clear_count)
        frame.update_rendition(blank_renditions)
        can_erase = has_bce or frame.renditions == _DEFAULT_RENDITIONS
        if can_erase and not wrap_this:
            out.append(ESC + "[K")
        else:
            out.append(" " * clear_count)
            frame.x = x
            wrote_last_cell = True
    if wrote_last_cell:
        return _end_row(frame, f, y, wrap_this)
    return False


def _end_row(frame: _Frame, f: Framebuffer, y: int, wrap_this: bool) -> bool:
    """The last cell of row ``y`` was written: soft-wrap (True) or CR LF to the next row."""
    if y >= f.height - 1:
        return False
    frame.x = 0
    frame.y += 1
    if wrap_this:
        return True
    frame.out.append("\r\n")
    return False
