# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Cython fast path of the display differ (terminal.md 4; the twin:
``pymosh.terminal.display``): bytes that turn a terminal showing one emulator state into one
showing another. It walks the rows of both emulators in C through their shared layout
(``emulator.pxd``), skips shared / equal rows (pointer, then gen + memcmp) and builds its
output in a C buffer; nothing in the row loop touches a Python object.
"""

from libc.stdint cimport uint32_t
from libc.string cimport memcpy, memset
from libc.stdlib cimport free
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE

from _fastpath.cells cimport (
    Cell, Row, INLINE, F_WIDE, F_FALLBACK, F_WRAP, F_EXT, xmalloc, row_new, cell_data,
    cell_eq, row_eq)
from _fastpath.emulator cimport Emulator, DrawState
from _fastpath.output cimport (
    Buf, buf_grow, put, putc, puts, putn, putrep, sgr)

__all__ = ["new_frame"]

cdef object _changed_writes = None


cdef object changed_writes():
    """pymosh.terminal.clipboard.changed_writes, imported on first use."""
    global _changed_writes
    if _changed_writes is None:
        from pymosh.terminal.clipboard import changed_writes as function
        _changed_writes = function
    return _changed_writes


cdef void mode_change(Buf *b, long old_mode, long new_mode, const char *all_off) noexcept:
    """Switch a numbered private mode family (mouse reporting or encoding): all off, or
    the old number off and the new one on."""
    if new_mode == 0:
        puts(b, all_off)
        return
    if old_mode != 0:
        puts(b, "\x1b[?")
        putn(b, old_mode)
        putc(b, b'l')
    puts(b, "\x1b[?")
    putn(b, new_mode)
    putc(b, b'h')


ctypedef struct Frame:
    Buf out
    int x
    int y
    uint32_t fg
    uint32_t bg
    uint32_t attrs
    int cursor_visible
    int has_ech
    int has_bce


cdef inline void update_rendition(Frame *f, uint32_t fg, uint32_t bg, uint32_t attrs, bint force) noexcept:
    if force or f.fg != fg or f.bg != bg or f.attrs != attrs:
        sgr(&f.out, fg, bg, attrs)
        f.fg = fg
        f.bg = bg
        f.attrs = attrs


cdef void append_move(Frame *f, int y, int x, int width) noexcept:
    cdef int last_x = f.x, last_y = f.y
    f.x = x
    f.y = y
    if last_x != -1 and last_y != -1:
        if x == 0 and 0 <= y - last_y < 5:
            if last_x != 0:
                putc(&f.out, b'\r')
            putrep(&f.out, b'\n', y - last_y)
            return
        # BS shortcut; never from beyond the last column (terminal.md 4.7-1 fix)
        if y == last_y and -5 < x - last_x < 0 and last_x < width:
            putrep(&f.out, b'\b', last_x - x)
            return
    puts(&f.out, "\x1b[")
    putn(&f.out, y + 1)
    putc(&f.out, b';')
    putn(&f.out, x + 1)
    putc(&f.out, b'H')


cdef inline void append_silent_move(Frame *f, int y, int x, int width) noexcept:
    if f.x == x and f.y == y:
        return
    if f.cursor_visible:
        puts(&f.out, "\x1b[?25l")
        f.cursor_visible = 0
    append_move(f, y, x, width)


cdef inline void grapheme(Frame *f, const Row *r, const Cell *c) noexcept:
    cdef int i, n = c.len
    cdef char *dst
    if n == 0:
        putc(&f.out, b' ')
        return
    if c.flags & (F_FALLBACK | F_EXT):
        if c.flags & F_FALLBACK:
            put(&f.out, "\xc2\xa0", 2)
        put(&f.out, cell_data(r, c), n)
        return
    if f.out.n + INLINE > f.out.cap:
        buf_grow(&f.out, INLINE)
    dst = f.out.p + f.out.n
    for i in range(n):
        dst[i] = c.u[i]
    f.out.n += n


cdef inline int cell_width(const Cell *c) noexcept:
    return 2 if c.flags & F_WIDE else 1


cdef int fast_run(Frame *f, const Row *row, const Row *old, int x, int width,
                  bint wrap_this) noexcept:
    """Write plain cells while nothing but their bytes is needed; new x."""
    cdef const Cell *cell
    cdef const Cell *cells = row.cells
    cdef uint32_t fg = f.fg, bg = f.bg, attrs = f.attrs
    cdef int cw, i, n, start = x
    cdef char *dst
    if f.out.n + <Py_ssize_t>(width - x) * INLINE > f.out.cap:
        buf_grow(&f.out, <Py_ssize_t>(width - x) * INLINE)
    dst = f.out.p + f.out.n
    while x < width:
        cell = &cells[x]
        n = cell.len
        if (n == 0 or (cell.flags & (F_FALLBACK | F_EXT)) or cell.fg != fg or cell.bg != bg
                or cell.attrs != attrs):
            break
        cw = 2 if cell.flags & F_WIDE else 1
        if wrap_this and x + cw >= width:
            break
        if old != NULL and x < old.width and cell_eq(row, cell, old, &old.cells[x]):
            break
        for i in range(n):
            dst[i] = cell.u[i]
        dst += n
        x += cw
    f.out.n = dst - f.out.p
    f.x += x - start
    return x


cdef bint put_row(Frame *f, bint initialized, Emulator emu, int y, Row *old, bint wrap) noexcept:
    cdef Row *row = emu.rows[y]
    cdef Cell *cells = row.cells
    cdef Cell *cell
    cdef int width = emu.ds.width, x = 0, cw, clear_count = 0
    cdef bint wrap_this, wrote_last = False, can_erase
    cdef uint32_t bfg = 0, bbg = 0, battrs = 0
    wrap_this = (cells[width - 1].flags & F_WRAP) != 0
    if wrap:
        cell = &cells[0]
        update_rendition(f, cell.fg, cell.bg, cell.attrs, False)
        grapheme(f, row, cell)
        x += cell_width(cell)
        f.x += cell_width(cell)
        if x >= width:  # (1- or 2-column screens) the wrapped-in cell fills the row
            return end_row(f, emu, y, wrap_this)
    if initialized and row == old:
        return False
    while x < width:
        if clear_count == 0 and f.x == x and f.y == y:
            # tight run: the cursor is here and the renditions are current
            x = fast_run(f, row, old if initialized else NULL, x, width, wrap_this)
            if x >= width:
                wrote_last = True
                break
        cell = &cells[x]
        if (initialized and clear_count == 0 and x < old.width
                and cell_eq(row, cell, old, &old.cells[x])
                and not ((cell.flags & F_WIDE) and x + 2 == width and old.width == width
                         and wrap_this != ((old.cells[width - 1].flags & F_WRAP) != 0))):
            # (a wide last character hides the wrap bit: redraw it when that changes)
            x += cell_width(cell)
            continue
        if cell.len == 0:
            if clear_count == 0:
                bfg = cell.fg
                bbg = cell.bg
                battrs = cell.attrs
            if cell.fg == bfg and cell.bg == bbg and cell.attrs == battrs:
                clear_count += 1
                x += 1
                # an open run swallows every following empty cell of its renditions
                while x < width:
                    cell = &cells[x]
                    if cell.len or cell.fg != bfg or cell.bg != bbg or cell.attrs != battrs:
                        break
                    clear_count += 1
                    x += 1
                continue
        if clear_count:
            append_silent_move(f, y, x - clear_count, width)
            update_rendition(f, bfg, bbg, battrs, False)
            can_erase = f.has_bce or (f.fg == 0 and f.bg == 0 and f.attrs == 0)
            if can_erase and f.has_ech and clear_count > 4:
                puts(&f.out, "\x1b[")
                putn(&f.out, clear_count)
                putc(&f.out, b'X')
            else:
                putrep(&f.out, b' ', clear_count)
                f.x = x
            clear_count = 0
            if cell.len == 0:
                bfg = cell.fg
                bbg = cell.bg
                battrs = cell.attrs
                clear_count = 1
                x += 1
                continue
        cw = cell_width(cell)
        if wrap_this and x + cw >= width:
            f.x = -1
            f.y = -1
        append_silent_move(f, y, x, width)
        update_rendition(f, cell.fg, cell.bg, cell.attrs, False)
        grapheme(f, row, cell)
        x += cw
        f.x += cw
        if x >= width:
            wrote_last = True
    if clear_count:
        append_silent_move(f, y, x - clear_count, width)
        update_rendition(f, bfg, bbg, battrs, False)
        can_erase = f.has_bce or (f.fg == 0 and f.bg == 0 and f.attrs == 0)
        if can_erase and not wrap_this:
            puts(&f.out, "\x1b[K")
        else:
            putrep(&f.out, b' ', clear_count)
            f.x = x
            wrote_last = True
    if wrote_last:
        return end_row(f, emu, y, wrap_this)
    return False


cdef bint end_row(Frame *f, Emulator emu, int y, bint wrap_this) noexcept:
    """The last cell of row y was written: soft-wrap (True) or CR LF to the next row."""
    if y >= emu.ds.height - 1:
        return False
    f.x = 0
    f.y += 1
    if wrap_this:
        return True
    puts(&f.out, "\r\n")
    return False


cdef void put_title(Buf *b, str s):
    cdef bytes enc = s.encode("utf-8", "surrogatepass")
    put(b, PyBytes_AS_STRING(enc), PyBytes_GET_SIZE(enc))


def new_frame(initialized, Emulator last not None, Emulator new not None, *,
              has_ech=True, has_bce=True, has_title=True, clipboard_selections=False,
              scroll_below_top=False):
    """Bytes that turn a terminal showing ``last`` into one showing ``new``.

    Server configuration by default (ECH, BCE, titles); the client passes its
    terminal's capabilities. ``clipboard_selections`` (a pymosh peer): OSC 52 writes for
    every selection; otherwise Mosh's selection ``c`` only. ``scroll_below_top`` (as the
    twin): a scroll deletes lines below the first row, which is then redrawn.
    """
    cdef bint init = bool(initialized)
    cdef bint below_top = bool(scroll_below_top)
    cdef int top
    cdef Frame f
    cdef DrawState *last_ds = &last.ds
    cdef DrawState *new_ds = &new.ds
    cdef int width = new_ds.width, height = new_ds.height
    cdef int i, row, lines_scrolled = 0, scroll_height = 0, region_height, bottom_margin
    cdef int frame_y = 0
    cdef Row **rows = NULL
    cdef Row *blank = NULL
    cdef bint wrap = False
    memset(&f, 0, sizeof(Frame))
    f.out.cap = 1024
    f.out.p = <char *>xmalloc(1024)
    f.out.n = 0
    f.cursor_visible = last_ds.cursor_visible
    f.has_ech = 1 if has_ech else 0
    f.has_bce = 1 if has_bce else 0
    try:
        if new.bell_count != last.bell_count:
            putc(&f.out, 7)
        if has_title and new.title_initialized and (not init or new.icon_name != last.icon_name
                                      or new.title != last.title):
            if new.icon_name == new.title:
                puts(&f.out, "\x1b]0;")
                put_title(&f.out, new.title)
                putc(&f.out, 7)
            else:
                puts(&f.out, "\x1b]1;")
                put_title(&f.out, new.icon_name)
                putc(&f.out, 7)
                puts(&f.out, "\x1b]2;")
                put_title(&f.out, new.title)
                putc(&f.out, 7)
        if clipboard_selections:
            if new.selection_writes is not last.selection_writes:
                put_title(&f.out, changed_writes()(last.selection_writes, new.selection_writes))
        elif new.clipboard != last.clipboard:
            puts(&f.out, "\x1b]52;c;")
            put_title(&f.out, new.clipboard)
            putc(&f.out, 7)
        if not init or new_ds.reverse_video != last_ds.reverse_video:
            puts(&f.out, "\x1b[?5h" if new_ds.reverse_video else "\x1b[?5l")
        if not init or new_ds.width != last_ds.width or new_ds.height != last_ds.height:
            puts(&f.out, "\x1b[r\x1b[0m\x1b[H\x1b[2J")
            init = False
            f.x = 0
            f.y = 0
            f.fg = 0
            f.bg = 0
            f.attrs = 0
        else:
            f.x = last_ds.cursor_col
            f.y = last_ds.cursor_row
            f.fg = last_ds.fg
            f.bg = last_ds.bg
            f.attrs = last_ds.attrs
        if not init:
            f.cursor_visible = 0
            puts(&f.out, "\x1b[?25l")

        rows = <Row **>xmalloc(<size_t>height * sizeof(Row *))
        if init:
            memcpy(rows, last.rows, <size_t>height * sizeof(Row *))
            # scroll detection
            for row in range(height):
                if not row_eq(new.rows[0], rows[row]):
                    continue
                if row == 0:
                    break
                lines_scrolled = row
                scroll_height = 1
                region_height = 1
                while lines_scrolled + region_height < height:
                    if row_eq(new.rows[region_height], rows[lines_scrolled + region_height]):
                        scroll_height = region_height + 1
                    else:
                        break
                    region_height += 1
                break
            if below_top and scroll_height < 2:
                scroll_height = 0   # (only the first row matched: nothing to save)
            if scroll_height:
                frame_y = 0 if below_top else scroll_height
                top = 1 if below_top else 0
                if lines_scrolled:
                    blank = row_new(width, 0, 0)   # (its generation is never compared)
                    update_rendition(&f, 0, 0, 0, True)
                    bottom_margin = lines_scrolled + scroll_height - 1
                    if below_top:   # DL on the second row (see the twin)
                        if bottom_margin < height - 1:
                            puts(&f.out, "\x1b[1;")
                            putn(&f.out, bottom_margin + 1)
                            putc(&f.out, b'r')
                        puts(&f.out, "\x1b[2H\x1b[")
                        putn(&f.out, lines_scrolled)
                        putc(&f.out, b'M')
                        if bottom_margin < height - 1:
                            puts(&f.out, "\x1b[r")
                        f.x = -1
                        f.y = -1
                    elif bottom_margin == height - 1 and f.y == bottom_margin:
                        putc(&f.out, b'\r')
                        putrep(&f.out, b'\n', lines_scrolled)
                        f.x = 0
                    else:
                        puts(&f.out, "\x1b[1;")
                        putn(&f.out, bottom_margin + 1)
                        putc(&f.out, b'r')
                        f.x = -1
                        f.y = -1
                        append_silent_move(&f, bottom_margin, 0, width)
                        putrep(&f.out, b'\n', lines_scrolled)
                        puts(&f.out, "\x1b[r")
                        f.x = -1
                        f.y = -1
                    for i in range(top, bottom_margin + 1):
                        if i + lines_scrolled <= bottom_margin:
                            rows[i] = rows[i + lines_scrolled]
                        else:
                            rows[i] = blank
        else:
            # old rows are never looked at when not initialized
            for i in range(height):
                rows[i] = new.rows[i]

        while frame_y < height:
            wrap = put_row(&f, init, new, frame_y, rows[frame_y], wrap)
            frame_y += 1

        if not init or new_ds.cursor_row != f.y or new_ds.cursor_col != f.x:
            append_move(&f, new_ds.cursor_row, new_ds.cursor_col, width)
        if not init or new_ds.cursor_visible != f.cursor_visible:
            puts(&f.out, "\x1b[?25h" if new_ds.cursor_visible else "\x1b[?25l")
        update_rendition(&f, new_ds.fg, new_ds.bg, new_ds.attrs, not init)
        if not init or new_ds.bracketed_paste != last_ds.bracketed_paste:
            puts(&f.out, "\x1b[?2004h" if new_ds.bracketed_paste else "\x1b[?2004l")
        if not init or new_ds.mouse_reporting_mode != last_ds.mouse_reporting_mode:
            mode_change(&f.out, last_ds.mouse_reporting_mode, new_ds.mouse_reporting_mode,
                            "\x1b[?1003l\x1b[?1002l\x1b[?1001l\x1b[?1000l")
        if not init or new_ds.mouse_focus_event != last_ds.mouse_focus_event:
            puts(&f.out, "\x1b[?1004h" if new_ds.mouse_focus_event else "\x1b[?1004l")
        if not init or new_ds.mouse_encoding_mode != last_ds.mouse_encoding_mode:
            mode_change(&f.out, last_ds.mouse_encoding_mode, new_ds.mouse_encoding_mode,
                            "\x1b[?1015l\x1b[?1006l\x1b[?1005l")
        return PyBytes_FromStringAndSize(f.out.p, f.out.n)
    finally:
        free(f.out.p)
        if rows != NULL:
            free(rows)
        if blank != NULL:
            free(blank)
