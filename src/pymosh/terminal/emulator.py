"""The terminal emulator twin (terminal.md 2): parser actions -> framebuffer.

This is the readable specification of Mosh 1.4.0's emulator, plus two things Mosh
lacks: the alternate screen (?47/?1047/?1049) and the application keypad flag
(ESC = / ESC >). Both stay invisible to the differ (it diffs the visible screen).
"""

from __future__ import annotations

from .clipboard import osc52
from .display import new_frame
from .framebuffer import CONTENTS, WRAP, Framebuffer, SavedCursor, blank_cell
from .parser import Parser, parse_params
from .utf8 import Utf8Decoder
from .width import char_width

__all__ = ["Emulator", "new_frame"]

# width/height are clamped to 1..MAX_SIZE: what terminals really use, and what bounds the
# memory an authenticated client can make the server allocate (an erase fills a screen)
MAX_SIZE = 1024
TITLE_MAX = 256  # Mosh keeps OSC titles up to buffer position 256
CONTENTS_MAX = 32  # a cell stops accepting combining marks at 32 UTF-8 bytes
# set_cell keeps at most this many UTF-8 bytes of a cell's text, cut at a character
# boundary (printing never gets there: marks stop at CONTENTS_MAX + one character)
CELL_BYTES_MAX = 39
TRUECOLOR = 0x1000000

# attribute bits (interfaces.md)
BOLD, FAINT, ITALIC, UNDERLINED, BLINK, INVERSE, INVISIBLE = 1, 2, 4, 8, 16, 32, 64
_SGR_ATTR_ON = {1: BOLD, 3: ITALIC, 4: UNDERLINED, 5: BLINK, 7: INVERSE, 8: INVISIBLE}
_SGR_ATTR_OFF = {22: BOLD, 23: ITALIC, 24: UNDERLINED, 25: BLINK, 27: INVERSE, 28: INVISIBLE}

# dispatch keys that keep the pending-wrap flag (terminal.md 2.3)
_PRESERVE_WRAP_CSI = frozenset(["I", "Z", "g", "?h", "?l", "m"])
_MOUSE_REPORTING = (9, 1000, 1001, 1002, 1003)
_MOUSE_ENCODING = (1005, 1006, 1015)


def _clamp_size(n: int) -> int:
    return min(max(int(n), 1), MAX_SIZE)


class Emulator:
    """Mosh's Terminal::Emulator: feed host output, read the framebuffer."""

    def __init__(self, width: int, height: int) -> None:
        self.fb = Framebuffer(_clamp_size(width), _clamp_size(height))
        self._decoder = Utf8Decoder()
        self._parser = Parser(self)
        self._replies: list[bytes] = []
        self._input_state = 0  # keystroke translator: 0 ground, 1 after ESC, 2 after ESC O

    # -- public API ----------------------------------------------------------------
    @property
    def width(self) -> int:
        return self.fb.width

    @property
    def height(self) -> int:
        return self.fb.height

    def feed(self, data: bytes) -> None:
        self._parser.feed(self._decoder.decode(bytes(data)))

    def resize(self, width: int, height: int) -> None:
        self.fb.resize(_clamp_size(width), _clamp_size(height))

    def set_history_limit(self, lines: int) -> None:
        """Keep at most ``lines`` rows that scroll off the top of the main screen until
        ``take_history``; 0 (the default) captures nothing. Which scrolls count, like xterm:
        those of a scroll region whose top margin is the first row, by LF/IND/NEL/wrap at the
        bottom margin, SU (CSI S) and DL (CSI M) with the cursor on the first row. IL, SD, RI
        push lines off the bottom (never kept); ED 2, a resize and RIS keep nothing; the
        alternate screen adds nothing. A smaller limit drops the oldest pending rows."""
        self.fb.set_history_limit(lines)

    def take_history(
        self, max_lines: int | None = None
    ) -> tuple[int, list[tuple[bytes, bool]], bool]:
        """``(dropped, lines, cleared)`` since the previous call. ``lines``: the rows kept,
        oldest first, at most ``max_lines`` (None: all; the others stay pending),
        each as ``(bytes a terminal shows it with, soft-wrapped)``; ``dropped``: rows that
        scrolled off but were not kept (over the limit); ``cleared``: ESC[3J was seen
        (``lines`` and ``dropped`` then count only what scrolled after it)."""
        fb = self.fb
        pending = len(fb.history)
        n = pending if max_lines is None else min(max(max_lines, 0), pending)
        out = (fb.history_dropped, fb.take_history(n), fb.history_cleared)
        fb.history_dropped = 0
        fb.history_cleared = False
        return out

    @property
    def history_pending(self) -> int:
        """Rows kept for ``take_history``, not yet taken."""
        return len(self.fb.history)

    @property
    def history_pending_bytes(self) -> int:
        """Bytes charged for the pending rows: each line's text and HISTORY_LINE_BYTES."""
        return self.fb.history_bytes

    def take_replies(self) -> bytes:
        out = b"".join(self._replies)
        self._replies = []
        return out

    def copy(self) -> Emulator:
        other = Emulator.__new__(Emulator)
        other.fb = self.fb.copy()
        other._decoder = self._decoder.copy()
        other._parser = Parser(other)
        self._parser.copy_to(other._parser)
        other._replies = list(self._replies)
        other._input_state = self._input_state
        return other

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Emulator):
            return NotImplemented
        return self.fb == other.fb

    __hash__ = None  # type: ignore[assignment]

    def dump(self) -> dict:
        fb = self.fb
        return {
            "size": (fb.width, fb.height),
            "cursor": (fb.cursor_row, fb.cursor_col),
            "cursor_visible": fb.cursor_visible,
            "rows": [list(row.cells) for row in fb.rows],
            "renditions": fb.renditions,
            "title": fb.window_title,
            "icon_name": fb.icon_name,
            "clipboard": fb.clipboard,
            "selections": dict(fb.selections),
            "bell_count": fb.bell_count,
            "scroll_region": (fb.top, fb.bottom),
            "next_print_will_wrap": fb.next_print_will_wrap,
            "modes": {
                "reverse_video": fb.reverse_video,
                "bracketed_paste": fb.bracketed_paste,
                "mouse_reporting": fb.mouse_reporting_mode,
                "mouse_focus_event": fb.mouse_focus_event,
                "mouse_alternate_scroll": fb.mouse_alternate_scroll,
                "mouse_encoding": fb.mouse_encoding_mode,
                "application_cursor_keys": fb.application_cursor_keys,
                "application_keypad": fb.application_keypad,
                "auto_wrap": fb.auto_wrap_mode,
                "origin": fb.origin_mode,
                "insert": fb.insert_mode,
                "alternate_screen": fb.alt_saved is not None,
            },
        }

    @property
    def selections(self) -> dict[str, str]:
        """Latest valid OSC 52 write per selection (base64 payloads); read-only: the
        differ's ``clipboard_selections=True`` sends what changed. Not part of ``==``
        (Mosh's equality), so a state change that is only a selection write must be
        compared here by whoever sends it."""
        return self.fb.selections

    def get_cell(self, row: int, col: int) -> tuple:
        return self.fb.rows[row].cells[col]

    def set_cell(
        self, row: int, col: int, contents: str, fg: int, bg: int, attrs: int, wide: bool = False
    ) -> None:
        cells = self.fb.mutable_row(row)
        wrap = cells[col][WRAP]
        cells[col] = (_cell_text(contents), fg, bg, attrs, bool(wide), False, wrap)

    @property
    def cursor_row(self) -> int:
        return self.fb.cursor_row

    @cursor_row.setter
    def cursor_row(self, value: int) -> None:
        self.fb.cursor_row = min(max(int(value), 0), self.fb.height - 1)

    @property
    def cursor_col(self) -> int:
        return self.fb.cursor_col

    @cursor_col.setter
    def cursor_col(self, value: int) -> None:
        self.fb.cursor_col = min(max(int(value), 0), self.fb.width - 1)

    @property
    def cursor_visible(self) -> bool:
        return self.fb.cursor_visible

    @cursor_visible.setter
    def cursor_visible(self, value: bool) -> None:
        self.fb.cursor_visible = bool(value)

    def translate_input(self, data: bytes) -> bytes:
        """User keystrokes -> pty bytes: SS3 arrows become CSI unless DECCKM (3.2)."""
        out = bytearray()
        state = self._input_state
        for byte in bytes(data):
            if state == 2:
                state = 0
                if not self.fb.application_cursor_keys and 0x41 <= byte <= 0x44:
                    out += b"[" + bytes((byte,))
                else:
                    out += b"O" + bytes((byte,))
            elif state == 1 and byte == 0x4F:
                state = 2
            else:
                state = 1 if byte == 0x1B else 0
                out.append(byte)
        self._input_state = state
        return bytes(out)

    # -- parser handler: printing ------------------------------------------------
    def print_run(self, text: str) -> None:
        fb = self.fb
        if text.isascii() and not fb.insert_mode:
            self._print_ascii(text)
            return
        for ch in text:
            self._print_char(ch)

    def _print_ascii(self, text: str) -> None:
        """Width-1 characters without insert mode: whole slices of a row at once."""
        fb = self.fb
        pos, n = 0, len(text)
        while pos < n:
            if fb.next_print_will_wrap and fb.auto_wrap_mode:
                self._wrap_to_next_line()
            width = fb.width
            col = fb.cursor_col
            take = min(n - pos, width - col) if fb.auto_wrap_mode else n - pos
            if take <= 0:
                take = 1
            fg, bg, attrs = fb.fg, fb.bg, fb.attrs
            cells = fb.mutable_row(fb.cursor_row)
            if take <= width - col:
                cells[col : col + take] = [
                    (ch, fg, bg, attrs, False, False, False) for ch in text[pos : pos + take]
                ]
                last = col + take - 1
            else:  # no auto-wrap: everything past the edge overwrites the last column
                cells[col:] = [
                    (ch, fg, bg, attrs, False, False, False) for ch in text[pos : pos + width - col]
                ]
                cells[-1] = (text[pos + take - 1], fg, bg, attrs, False, False, False)
                last = width - 1
            pos += take
            fb.cursor_col = last
            fb.advance(1)

    def _wrap_to_next_line(self) -> None:
        fb = self.fb
        fb.set_wrap(fb.cursor_row, True)
        fb.move_col(0)
        fb.move_rows_autoscroll(1)

    def _print_char(self, ch: str) -> None:
        fb = self.fb
        width = char_width(ord(ch))
        if width < 0:
            return
        if width == 0:
            self._print_combining(ch)
            return
        if fb.auto_wrap_mode and fb.next_print_will_wrap:
            self._wrap_to_next_line()
        elif fb.auto_wrap_mode and width == 2 and fb.cursor_col == fb.width - 1:
            fb.erase_cells(fb.cursor_row, fb.cursor_col, fb.width)
            fb.set_wrap(fb.cursor_row, False)
            fb.move_col(0)
            fb.move_rows_autoscroll(1)
        col = fb.cursor_col
        cells = fb.mutable_row(fb.cursor_row)
        if fb.insert_mode:
            cells[col:col] = [blank_cell(fb.bg)] * width
            del cells[fb.width :]
        cells[col] = (ch, fb.fg, fb.bg, fb.attrs, width == 2, False, False)
        if width == 2 and col < fb.width - 1:
            cells[col + 1] = blank_cell(fb.bg)
        fb.advance(width)

    def _print_combining(self, ch: str) -> None:
        fb = self.fb
        row, col = fb.combining_row, fb.combining_col
        if not (0 <= row < fb.height and 0 <= col < fb.width):
            return
        cells = fb.mutable_row(row)
        cell = cells[col]
        contents, fallback = cell[CONTENTS], cell[5]
        if not contents:
            fallback = True
            fb.advance(1)
        if len(contents.encode("utf-8")) < CONTENTS_MAX:
            contents += ch
        cells[col] = (contents,) + cell[1:5] + (fallback, cell[WRAP])

    # -- parser handler: controls ------------------------------------------------
    def execute(self, code: int) -> None:
        fb = self.fb
        if code == 0x09:  # HT keeps the pending-wrap flag
            self._tab_to(fb.next_tab(1), fb.width - 1)
            return
        fb.next_print_will_wrap = False
        if code == 0x07:
            fb.bell_count += 1
        elif code == 0x08:
            fb.move_col(-1, True)
        elif code in (0x0A, 0x0B, 0x0C, 0x84):
            fb.move_rows_autoscroll(1)
        elif code == 0x0D:
            fb.move_col(0)
        elif code == 0x85:
            fb.move_col(0)
            fb.move_rows_autoscroll(1)
        elif code == 0x88:
            fb.tabs[fb.cursor_col] = True
        elif code == 0x8D:
            fb.move_rows_autoscroll(-1)

    def _tab_to(self, col: int, if_none: int) -> None:
        fb = self.fb
        wrap = fb.next_print_will_wrap
        fb.move_col(if_none if col < 0 else col)
        fb.next_print_will_wrap = wrap

    def esc_dispatch(self, key: str) -> None:
        if len(key) == 1 and 0x40 <= ord(key) <= 0x5F:
            self.execute(ord(key) + 0x40)  # 7-bit form of a C1 control
            return
        fb = self.fb
        fb.next_print_will_wrap = False
        if key == "7":
            self._save_cursor(fb.saved)
        elif key == "8":
            self._restore_cursor(fb.saved)
        elif key == "#8":
            for y in range(fb.height):
                cells = fb.mutable_row(y)
                cells[:] = [("E", 0, fb.bg, 0, False, False, False)] * fb.width
        elif key == "c":
            fb.reset()
        elif key == "=":
            fb.application_keypad = True
        elif key == ">":
            fb.application_keypad = False

    def _save_cursor(self, slot: SavedCursor) -> None:
        fb = self.fb
        slot.col, slot.row = fb.cursor_col, fb.cursor_row
        slot.renditions = fb.renditions
        slot.auto_wrap, slot.origin = fb.auto_wrap_mode, fb.origin_mode

    def _restore_cursor(self, slot: SavedCursor) -> None:
        fb = self.fb
        fb.cursor_col, fb.cursor_row = slot.col, slot.row
        fb.fg, fb.bg, fb.attrs = slot.renditions
        fb.auto_wrap_mode, fb.origin_mode = slot.auto_wrap, slot.origin
        fb.snap_cursor()
        fb.new_grapheme()

    def osc_dispatch(self, buffer: str) -> None:
        fb = self.fb
        if buffer.startswith("52;"):
            fb.clipboard, fb.selections = osc52(buffer, fb.clipboard, fb.selections)
            return
        if buffer.startswith(";"):
            command, offset = 0, 1
        elif len(buffer) >= 2 and buffer[1] == ";" and "0" <= buffer[0] <= "9":
            command, offset = ord(buffer[0]) - 0x30, 2
        else:
            return
        if command > 2:
            return
        text = buffer[offset:TITLE_MAX]
        fb.title_initialized = True
        if command in (0, 1):
            fb.icon_name = text
        if command in (0, 2):
            fb.window_title = text

    # -- CSI ----------------------------------------------------------------------
    def csi_dispatch(self, params: str, key: str) -> None:
        fb = self.fb
        if key not in _PRESERVE_WRAP_CSI:
            fb.next_print_will_wrap = False
        handler = _CSI.get(key)
        if handler is not None:
            handler(self, parse_params(params))

    def _csi_ich(self, p: list[int]) -> None:
        fb = self.fb
        n = min(_arg(p, 0, 1), fb.width)
        col = fb.cursor_col
        cells = fb.mutable_row(fb.cursor_row)
        cells[col:col] = [blank_cell(fb.bg)] * n
        del cells[fb.width :]

    def _csi_dch(self, p: list[int]) -> None:
        fb = self.fb
        col = fb.cursor_col
        n = min(_arg(p, 0, 1), fb.width - col)
        cells = fb.mutable_row(fb.cursor_row)
        del cells[col : col + n]
        cells += [blank_cell(fb.bg)] * n

    def _csi_cuu(self, p: list[int]) -> None:
        self.fb.move_row(-_arg(p, 0, 1), True)

    def _csi_cud(self, p: list[int]) -> None:
        self.fb.move_row(_arg(p, 0, 1), True)

    def _csi_cuf(self, p: list[int]) -> None:
        self.fb.move_col(_arg(p, 0, 1), True)

    def _csi_cub(self, p: list[int]) -> None:
        self.fb.move_col(-_arg(p, 0, 1), True)

    def _csi_cha(self, p: list[int]) -> None:
        self.fb.move_col(_arg(p, 0, 1) - 1)

    def _csi_cup(self, p: list[int]) -> None:
        self.fb.move_row(_arg(p, 0, 1) - 1)
        self.fb.move_col(_arg(p, 1, 1) - 1)

    def _csi_vpa(self, p: list[int]) -> None:
        self.fb.move_row(_arg(p, 0, 1) - 1)

    def _csi_cht(self, p: list[int]) -> None:
        fb = self.fb
        self._tab_to(fb.next_tab(_arg(p, 0, 1)), fb.width - 1)

    def _csi_cbt(self, p: list[int]) -> None:
        self._tab_to(self.fb.prev_tab(_arg(p, 0, 1)), 0)

    def _csi_ed(self, p: list[int]) -> None:
        fb = self.fb
        mode = _arg(p, 0, 0)
        y, x = fb.cursor_row, fb.cursor_col
        if mode == 0:
            fb.erase_cells(y, x, fb.width)
            for row in range(y + 1, fb.height):
                fb.reset_row(row)
        elif mode == 1:
            for row in range(y):
                fb.reset_row(row)
            fb.erase_cells(y, 0, x + 1)
        elif mode == 2:
            for row in range(fb.height):
                fb.reset_row(row)
        elif mode == 3:  # erase saved lines (xterm): the screen stays
            fb.clear_history()

    def _csi_el(self, p: list[int]) -> None:
        fb = self.fb
        mode = _arg(p, 0, 0)
        y, x = fb.cursor_row, fb.cursor_col
        if mode == 0:
            fb.erase_cells(y, x, fb.width)
        elif mode == 1:
            fb.erase_cells(y, 0, x + 1)
        elif mode == 2:
            fb.reset_row(y)

    def _csi_il(self, p: list[int]) -> None:
        self.fb.insert_lines(self.fb.cursor_row, _arg(p, 0, 1))
        self.fb.move_col(0)

    def _csi_dl(self, p: list[int]) -> None:
        self.fb.delete_lines(self.fb.cursor_row, _arg(p, 0, 1))
        self.fb.move_col(0)

    def _csi_su(self, p: list[int]) -> None:
        self.fb.scroll(_arg(p, 0, 1))

    def _csi_sd(self, p: list[int]) -> None:
        self.fb.scroll(-_arg(p, 0, 1))

    def _csi_ech(self, p: list[int]) -> None:
        fb = self.fb
        x = fb.cursor_col
        fb.erase_cells(fb.cursor_row, x, min(fb.width, x + _arg(p, 0, 1)))

    def _csi_da1(self, p: list[int]) -> None:
        self._replies.append(b"\x1b[?62c")

    def _csi_da2(self, p: list[int]) -> None:
        self._replies.append(b"\x1b[>1;10;0c")

    def _csi_dsr(self, p: list[int]) -> None:
        fb = self.fb
        what = _arg(p, 0, 0)
        if what == 5:
            self._replies.append(b"\x1b[0n")
        elif what == 6:
            self._replies.append(b"\x1b[%d;%dR" % (fb.cursor_row + 1, fb.cursor_col + 1))

    def _csi_tbc(self, p: list[int]) -> None:
        fb = self.fb
        what = _arg(p, 0, 0)
        if what == 0:
            fb.tabs[fb.cursor_col] = False
        elif what == 3:
            fb.tabs = [False] * fb.width
            fb.default_tabs = False

    def _csi_sm(self, p: list[int], value: bool = True) -> None:
        for mode in p:
            if mode == 4:
                self.fb.insert_mode = value

    def _csi_rm(self, p: list[int]) -> None:
        self._csi_sm(p, False)

    def _csi_decset(self, p: list[int], value: bool = True) -> None:
        fb = self.fb
        for mode in p:
            if mode == 1:
                fb.application_cursor_keys = value
            elif mode == 3:  # 80/132 columns: only clears and homes
                fb.move_row(0)
                fb.move_col(0)
                for y in range(fb.height):
                    fb.reset_row(y)
            elif mode == 5:
                fb.reverse_video = value
            elif mode == 6:
                fb.move_row(0)
                fb.move_col(0)
                fb.origin_mode = value
            elif mode == 7:
                fb.auto_wrap_mode = value
            elif mode == 25:
                fb.cursor_visible = value
            elif mode in _MOUSE_REPORTING:
                fb.mouse_reporting_mode = mode if value else 0
            elif mode == 1004:
                fb.mouse_focus_event = value
            elif mode in _MOUSE_ENCODING:
                fb.mouse_encoding_mode = mode if value else 0
            elif mode == 1007:
                fb.mouse_alternate_scroll = value
            elif mode == 2004:
                fb.bracketed_paste = value
            elif mode in (47, 1047):
                if value:
                    fb.enter_alternate(clear=False)
                else:
                    fb.leave_alternate(clear=mode == 1047)
            elif mode == 1049:
                if value:
                    if fb.alt_saved is None:
                        self._save_cursor(fb.alt_cursor)
                    fb.enter_alternate(clear=True)
                elif fb.alt_saved is not None:
                    fb.leave_alternate(clear=False)
                    self._restore_cursor(fb.alt_cursor)

    def _csi_decrst(self, p: list[int]) -> None:
        self._csi_decset(p, False)

    def _csi_sgr(self, p: list[int]) -> None:
        fb = self.fb
        fg, bg, attrs = fb.fg, fb.bg, fb.attrs
        count = len(p)
        i = 0
        while i < count:
            v = _arg(p, i, 0)
            if v in (38, 48) and count - i >= 3 and _arg(p, i + 1, 0) == 5:
                index = _arg(p, i + 2, 0)
                if 0 <= index <= 255:  # 0-7 fold into the 16-colour values
                    if v == 38:
                        fg = 30 + index
                    else:
                        bg = 40 + index
                i += 3
                continue
            if v in (38, 48) and count - i >= 5 and _arg(p, i + 1, 0) == 2:
                r, g, b = _arg(p, i + 2, 0), _arg(p, i + 3, 0), _arg(p, i + 4, 0)
                value = (TRUECOLOR | (r << 16) | (g << 8) | b) & 0x1FFFFFF
                if v == 38:
                    fg = value
                else:
                    bg = value
                i += 5
                continue
            if v == 0:
                fg = bg = attrs = 0
            elif v == 39:
                fg = 0
            elif v == 49:
                bg = 0
            elif 30 <= v <= 37:
                fg = v
            elif 40 <= v <= 47:
                bg = v
            elif 90 <= v <= 97:
                fg = v - 52
            elif 100 <= v <= 107:
                bg = v - 52
            elif v in _SGR_ATTR_ON:
                attrs |= _SGR_ATTR_ON[v]
            elif v in _SGR_ATTR_OFF:
                attrs &= ~_SGR_ATTR_OFF[v]
            i += 1
        fb.fg, fb.bg, fb.attrs = fg, bg, attrs

    def _csi_decstbm(self, p: list[int]) -> None:
        fb = self.fb
        top = _arg(p, 0, 1)
        bottom = _arg(p, 1, fb.height)
        if bottom <= top or top > fb.height:
            return
        fb.top, fb.bottom = top - 1, min(bottom, fb.height) - 1
        fb.move_row(0)
        fb.move_col(0)

    def _csi_decstr(self, p: list[int]) -> None:
        self.fb.soft_reset()


def _cell_text(contents: str) -> str:
    """``contents`` as a cell holds it: valid UTF-8 (whatever is not becomes U+FFFD), at most
    CELL_BYTES_MAX bytes, cut at a character boundary."""
    if contents.isascii() and len(contents) <= CELL_BYTES_MAX:
        return contents
    data = contents.encode("utf-8", "surrogatepass").decode("utf-8", "replace").encode()
    n = len(data)
    if n > CELL_BYTES_MAX:
        n = CELL_BYTES_MAX
        while n > 0 and data[n] & 0xC0 == 0x80:
            n -= 1
    return data[:n].decode()


def _arg(params: list[int], index: int, default: int) -> int:
    """Mosh's getparam: missing, empty, 0 and out-of-range all mean ``default``."""
    if index < len(params):
        value = params[index]
        if value >= 1:
            return value
    return default


_CSI = {
    "@": Emulator._csi_ich,
    "A": Emulator._csi_cuu,
    "B": Emulator._csi_cud,
    "C": Emulator._csi_cuf,
    "D": Emulator._csi_cub,
    "G": Emulator._csi_cha,
    "`": Emulator._csi_cha,
    "H": Emulator._csi_cup,
    "f": Emulator._csi_cup,
    "I": Emulator._csi_cht,
    "Z": Emulator._csi_cbt,
    "J": Emulator._csi_ed,
    "K": Emulator._csi_el,
    "L": Emulator._csi_il,
    "M": Emulator._csi_dl,
    "P": Emulator._csi_dch,
    "S": Emulator._csi_su,
    "T": Emulator._csi_sd,
    "X": Emulator._csi_ech,
    "c": Emulator._csi_da1,
    ">c": Emulator._csi_da2,
    "d": Emulator._csi_vpa,
    "g": Emulator._csi_tbc,
    "h": Emulator._csi_sm,
    "l": Emulator._csi_rm,
    "?h": Emulator._csi_decset,
    "?l": Emulator._csi_decrst,
    "m": Emulator._csi_sgr,
    "n": Emulator._csi_dsr,
    "r": Emulator._csi_decstbm,
    "!p": Emulator._csi_decstr,
}
