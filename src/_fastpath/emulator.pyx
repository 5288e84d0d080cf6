# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Cython fast path of the terminal emulator (the twin: ``pymosh.terminal.emulator`` with
its ``framebuffer`` and ``parser``), on C-level data (terminal.md 2, design.md "Keep the hot
loop in C"):

* cells and rows: ``cells.pxd`` (copy-on-write rows shared by snapshots);
* UTF-8 decoding (glibc ``mbrtowc`` semantics) and the DEC/ANSI state machine run in one C
  loop over the input, fused with the emulator's actions (a per-byte call into a separate
  parser object would cost); Python is reached only for titles, clipboard, replies;
* widths come from the C library ``wcwidth`` in a ``C.UTF-8`` locale (like Mosh and the
  twin), cached in a lazily filled byte table.

The display differ (``display.pyx``) reads this module's C layout (``emulator.pxd``)
directly. Sizes are clamped to 1..1024 and every index is clamped explicitly (bounds checks
are compiled out).
"""

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int8_t
from libc.string cimport memcpy, memset, memmove, memcmp, memchr
from libc.stdlib cimport realloc, free, abort
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE

from _fastpath.cells cimport (
    Cell, Ext, Row, INLINE, EXT_BYTES, F_WIDE, F_FALLBACK, F_WRAP, F_EXT, xmalloc, cell_blank, cells_blank,
    row_new, row_clone, row_decref, row_rec_reset, cell_data, cell_set_bytes, cell_append, row_eq,
    utf8_encode)
from _fastpath.output cimport Buf, put, puts, sgr

cdef extern from "Python.h":
    object PyUnicode_FromKindAndData(int kind, const void *buffer, Py_ssize_t size)
    int PyUnicode_4BYTE_KIND
    object PyUnicode_DecodeUTF8(const char *s, Py_ssize_t size, const char *errors)

cdef extern from "<locale.h>" nogil:
    ctypedef void *locale_t
    locale_t newlocale(int category_mask, const char *locale, locale_t base)
    locale_t uselocale(locale_t newloc)
    int LC_CTYPE_MASK

cdef extern from "<wchar.h>" nogil:
    int wcwidth(Py_UCS4 c)

__all__ = ["Emulator"]

# ---------------------------------------------------------------------------------
# widths

cdef int8_t _wtab[0x110000]   # width + 2; 0 = not computed yet (BSS: pages on demand)
cdef locale_t _loc = NULL
cdef object _py_width = None


cdef void _init_width():
    global _loc, _py_width
    cdef const char *names[4]
    names[0] = "C.UTF-8"
    names[1] = "C.utf8"
    names[2] = "en_US.UTF-8"
    names[3] = "en_US.utf8"
    cdef int i
    cdef locale_t old
    for i in range(4):
        _loc = newlocale(LC_CTYPE_MASK, names[i], <locale_t>0)
        if _loc != NULL:
            break
    if _loc != NULL:
        old = uselocale(_loc)
        if wcwidth(0x4E2D) != 2:
            uselocale(old)
            _loc = NULL
        else:
            uselocale(old)
    if _loc == NULL:
        from pymosh.terminal.width import char_width
        _py_width = char_width


_init_width()


cdef int _slow_width(uint32_t cp):
    cdef int w
    cdef locale_t old
    if cp > 0x10FFFF:
        return -1
    if _loc != NULL:
        old = uselocale(_loc)
        w = wcwidth(<Py_UCS4>cp)
        uselocale(old)
    else:
        w = _py_width(cp)
    if w > 2:
        w = 2
    if w < -1:
        w = -1
    _wtab[cp] = <int8_t>(w + 2)
    return w


cdef inline int char_width(uint32_t cp):
    if cp < 0x7F:
        return 1 if cp >= 0x20 else -1
    if 0xA0 <= cp <= 0xFF:
        return 1
    if cp > 0x10FFFF:
        return -1
    cdef int8_t t = _wtab[cp]
    if t:
        return t - 2
    return _slow_width(cp)


def _char_width(cp):
    """Width of one code point as this module computes it (tests)."""
    return char_width(<uint32_t>cp)

# ---------------------------------------------------------------------------------
# rows: generations and Python views

cdef uint64_t _gen_counter = 0


cdef inline uint64_t next_gen() noexcept:
    """A fresh row generation (process-wide, as the twin's)."""
    global _gen_counter
    _gen_counter += 1
    return _gen_counter


cdef object cell_tuple(const Row *r, const Cell *c):
    cdef object contents = PyUnicode_DecodeUTF8(cell_data(r, c), c.len, "replace")
    return (contents, c.fg, c.bg, c.attrs, bool(c.flags & F_WIDE),
            bool(c.flags & F_FALLBACK), bool(c.flags & F_WRAP))

# ---------------------------------------------------------------------------------
# the OSC string: code points in a buffer that copies share until one of them writes

cdef inline OscBuf *osc_alloc(Py_ssize_t cap) noexcept:
    cdef OscBuf *o = <OscBuf *>xmalloc(sizeof(OscBuf) + <size_t>cap * 4)
    o.refcnt = 1
    o.cap = cap
    o.data = <uint32_t *>((<char *>o) + sizeof(OscBuf))
    return o


cdef inline void osc_decref(OscBuf *o) noexcept:
    if o != NULL:
        o.refcnt -= 1
        if o.refcnt <= 0:
            free(o)


cdef object _osc52 = None          # pymosh.terminal.clipboard, imported on first use
cdef object _changed_writes = None


cdef object clipboard_module():
    global _osc52, _changed_writes
    if _osc52 is None:
        from pymosh.terminal.clipboard import changed_writes, osc52
        _osc52 = osc52
        _changed_writes = changed_writes
    return _osc52

# ---------------------------------------------------------------------------------
# draw state

cdef void draw_state_default(DrawState *ds, int width, int height) noexcept:
    memset(ds, 0, sizeof(DrawState))
    ds.width = width
    ds.height = height
    ds.bottom = height - 1
    ds.auto_wrap_mode = 1
    ds.cursor_visible = 1
    ds.default_tabs = 1
    ds.saved.auto_wrap = 1
    ds.alt_cursor.auto_wrap = 1


# ---------------------------------------------------------------------------------
# scrollback rows, kept as the line they will show as (a kept row costs about a byte per
# character, so the ring stays small and in cache; most rows kept under bulk output are
# evicted unsent, so keeping one must cost little, and rendering one little more)
#
# a record: a 4-byte head (its size, head included, times 2, plus 1 if the row soft-wraps),
# then what display.history_line writes for the row, but for its SGR: the UTF-8 text of
# each cell it shows (a space for an empty one, U+00A0 before a fallback cell's marks;
# none for the cell after a wide one), and before a cell whose renditions differ from the
# previous one's (the first: from the defaults) REC_STYLE + fg (4 bytes) + bg (4) + attrs
# (1). REC_STYLE never occurs in UTF-8, so text runs are found with memchr. Trailing blanks
# are trimmed when the record is rendered (render_record), not when it is written: most
# records are never rendered.

cdef enum:
    REC_HEAD = 4
    REC_STYLE = 0xFF
    REC_CELL_MAX = 10 + 2 + EXT_BYTES   # most bytes one cell takes (row_encode writes
                                        # up to 10 + 12 for an inline cell)
    HISTORY_ARENA_MIN = 1 << 16


cdef inline Py_ssize_t row_encode(char *out, const Row *r) noexcept:
    """Row r's cells [0, used) into out (room for used * REC_CELL_MAX); bytes written."""
    cdef Py_ssize_t k = 0
    cdef int x = 0, n = r.used
    cdef const Cell *c
    cdef uint64_t style = 0, colours, text0   # renditions so far: (fg, bg) ...
    cdef uint8_t attrs = 0, fl, ln             # ... and attrs
    cdef uint32_t text1
    while x < n:
        c = &r.cells[x]
        memcpy(&colours, c, 8)
        if colours != style or c.attrs != attrs:
            style = colours
            attrs = c.attrs
            out[k] = <char>REC_STYLE
            memcpy(out + k + 1, &colours, 8)
            out[k + 9] = <char>attrs
            k += 10
        fl = c.flags
        ln = c.len
        if not fl & (F_FALLBACK | F_EXT):   # inline text: its 12 bytes, kept ln of them
            memcpy(&text0, c.u, 8)
            memcpy(&text1, c.u + 8, 4)
            memcpy(out + k, &text0, 8)
            memcpy(out + k + 8, &text1, 4)
            if ln == 0:
                out[k] = b' '
                ln = 1
            k += ln
        else:
            if fl & F_FALLBACK:
                out[k] = <char>0xC2
                out[k + 1] = <char>0xA0
                k += 2
            memcpy(out + k, cell_data(r, c), ln)
            k += ln
        x += 1 + (fl & F_WIDE)
    return k


cdef inline void render_record(Buf *b, const char *p, Py_ssize_t n) noexcept:
    """A record's body (``n`` bytes at p) as display.history_line writes the row: SGR for
    each style record, the text, trailing blanks (spaces in the default renditions)
    trimmed, ESC[0m if any SGR was written."""
    cdef Py_ssize_t i = 0, e, run = b.n, last_sgr = b.n
    cdef int styles = 0
    cdef uint32_t fg = 0, bg = 0
    cdef uint8_t attrs = 0
    cdef const char *q
    while i < n:
        if <uint8_t>p[i] == REC_STYLE:
            memcpy(&fg, p + i + 1, 4)
            memcpy(&bg, p + i + 5, 4)
            attrs = <uint8_t>p[i + 9]
            last_sgr = b.n
            sgr(b, fg, bg, attrs)
            styles += 1
            run = b.n
            i += 10
            continue
        q = <const char *>memchr(p + i, REC_STYLE, <size_t>(n - i))
        e = n if q == NULL else q - p
        put(b, p + i, e - i)
        i = e
    if fg == 0 and bg == 0 and attrs == 0:   # trailing blanks go; so does an SGR they follow
        while b.n > run and b.p[b.n - 1] == b' ':
            b.n -= 1
        if b.n == run and styles:
            b.n = last_sgr
            styles -= 1
    if styles:
        puts(b, "\x1b[0m")


cdef inline int clamp_size(object n) except -1:
    return <int>min(max(int(n), 1), MAX_SIZE)

# ---------------------------------------------------------------------------------
# the emulator

cdef class Emulator:
    """Mosh's Terminal::Emulator on C data: feed host output, read the framebuffer."""


    def __cinit__(self):
        self.rows = NULL
        self.alt_rows = NULL
        self.tabs = NULL
        self.osc = NULL
        self.history = NULL
        self.history_cap = 0
        self.history_head = 0
        self.history_tail = 0
        self.history_len = 0
        self.history_limit = 0
        self.history_dropped = 0
        self.history_cleared = False

    def __init__(self, width, height):
        cdef int w = clamp_size(width), h = clamp_size(height)
        self._setup(w, h)

    cdef void _setup(self, int w, int h):
        draw_state_default(&self.ds, w, h)
        self.rows = <Row **>xmalloc(<size_t>h * sizeof(Row *))
        cdef Row *blank = row_new(w, 0, next_gen())
        blank.refcnt = h
        cdef int i
        for i in range(h):
            self.rows[i] = blank
        self.tabs = <uint8_t *>xmalloc(<size_t>w)
        for i in range(w):
            self.tabs[i] = (i % 8 == 0)
        self.state = GROUND
        self.utf8_len = 0
        self.params_len = 0
        self.collected_len = 0
        self.osc_len = 0
        self.input_state = 0
        self.title = ""
        self.icon_name = ""
        self.clipboard = ""
        self.selection_writes = {}
        self.title_initialized = False
        self.bell_count = 0
        self.replies = bytearray()

    cdef void _free_screen(self, Row **rows, int h) noexcept:
        cdef int i
        if rows != NULL:
            for i in range(h):
                row_decref(rows[i])
            free(rows)

    def __dealloc__(self):
        self._free_screen(self.rows, self.ds.height)
        self._free_screen(self.alt_rows, self.ds.height)
        self.rows = NULL
        self.alt_rows = NULL
        if self.tabs != NULL:
            free(self.tabs)
        osc_decref(self.osc)
        self.osc = NULL
        self.history_free()

    # -- public API ---------------------------------------------------------------
    @property
    def width(self):
        return self.ds.width

    @property
    def height(self):
        return self.ds.height

    def feed(self, data):
        cdef bytes b = data if type(data) is bytes else bytes(data)
        self._feed(<const uint8_t *>PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b))

    def resize(self, width, height):
        cdef int w = clamp_size(width), h = clamp_size(height)
        self._resize(w, h)

    def set_history_limit(self, lines):
        """Keep at most ``lines`` rows that scroll off the top of the main screen until
        take_history; 0 (the default) captures nothing. Which scrolls count (as xterm, and
        as the twin): those of a scroll region whose top margin is the first row, by
        LF/IND/NEL/wrap at the bottom margin, SU (CSI S) and DL (CSI M) with the cursor on
        the first row; IL, SD, RI, ED 2, resize, RIS and the alternate screen add nothing."""
        cdef long limit = max(0, min(int(lines), HISTORY_LIMIT_MAX))
        if limit == self.history_limit:
            return
        while self.history_len > limit:   # the newest ``limit`` pending rows stay
            self.history_pop()
            self.history_dropped += 1
        if limit == 0:
            self.history_free()
            self.history_dropped = 0
            self.history_cleared = False
        self.history_limit = <int>limit

    def take_history(self, max_lines=None):
        """(dropped, lines, cleared) since the previous call, as the twin: lines are
        (bytes a terminal shows the row with, soft-wrapped), oldest first, at most
        ``max_lines`` of them (None: all); the others stay pending, unrendered."""
        cdef Buf b
        cdef uint32_t head
        cdef list lines = []
        cdef Py_ssize_t i, n = self.history_len
        if max_lines is not None and max_lines < n:
            n = max(<Py_ssize_t>max_lines, 0)
        out = (self.history_dropped, lines, bool(self.history_cleared))
        if n:
            b.cap = 256
            b.n = 0
            b.p = <char *>xmalloc(256)
            try:
                for i in range(n):
                    memcpy(&head, self.history + self.history_head, REC_HEAD)
                    b.n = 0
                    render_record(&b, self.history + self.history_head + REC_HEAD,
                                  (head >> 1) - REC_HEAD)
                    self.history_pop()
                    lines.append((PyBytes_FromStringAndSize(b.p, b.n), bool(head & 1)))
            finally:
                free(b.p)
        self.history_dropped = 0
        self.history_cleared = False
        return out

    @property
    def history_pending(self):
        """Rows kept for take_history, not yet taken."""
        return self.history_len

    @property
    def history_pending_bytes(self):
        """Bytes the pending rows take in the arena (see row_encode; the arena itself is at
        most twice what it held at its fullest, see history_room)."""
        return self.history_tail - self.history_head

    def take_replies(self):
        cdef bytes out = bytes(self.replies)
        self.replies = bytearray()
        return out

    def copy(self):
        cdef Emulator o = Emulator.__new__(Emulator)
        cdef int i, h = self.ds.height, w = self.ds.width
        o.ds = self.ds
        o.rows = <Row **>xmalloc(<size_t>h * sizeof(Row *))
        memcpy(o.rows, self.rows, <size_t>h * sizeof(Row *))
        for i in range(h):
            self.rows[i].refcnt += 1
        if self.alt_rows != NULL:
            o.alt_rows = <Row **>xmalloc(<size_t>h * sizeof(Row *))
            memcpy(o.alt_rows, self.alt_rows, <size_t>h * sizeof(Row *))
            for i in range(h):
                self.alt_rows[i].refcnt += 1
        o.tabs = <uint8_t *>xmalloc(<size_t>w)
        memcpy(o.tabs, self.tabs, <size_t>w)
        o.state = self.state
        memcpy(o.utf8_buf, self.utf8_buf, 8)
        o.utf8_len = self.utf8_len
        memcpy(o.params, self.params, sizeof(self.params))
        o.params_len = self.params_len
        memcpy(o.collected, self.collected, 8)
        o.collected_len = self.collected_len
        o.osc = self.osc
        if o.osc != NULL:
            o.osc.refcnt += 1
        o.osc_len = self.osc_len
        o.input_state = self.input_state
        o.param_count = 0
        o.title = self.title
        o.icon_name = self.icon_name
        o.clipboard = self.clipboard
        o.selection_writes = self.selection_writes
        o.title_initialized = self.title_initialized
        o.bell_count = self.bell_count
        o.replies = bytearray(self.replies)
        o.history_limit = self.history_limit   # pending history belongs to the original
        return o

    def __eq__(self, other):
        if not isinstance(other, Emulator):
            return NotImplemented
        return self._equal(<Emulator>other)

    def __ne__(self, other):
        if not isinstance(other, Emulator):
            return NotImplemented
        return not self._equal(<Emulator>other)

    __hash__ = None

    cdef bint _equal(self, Emulator o):
        cdef DrawState *a = &self.ds
        cdef DrawState *b = &o.ds
        cdef int i
        if not (a.width == b.width and a.height == b.height and a.cursor_row == b.cursor_row
                and a.cursor_col == b.cursor_col and a.cursor_visible == b.cursor_visible
                and a.reverse_video == b.reverse_video and a.fg == b.fg and a.bg == b.bg
                and a.attrs == b.attrs and a.bracketed_paste == b.bracketed_paste
                and a.mouse_reporting_mode == b.mouse_reporting_mode and a.mouse_focus_event == b.mouse_focus_event
                and a.mouse_alternate_scroll == b.mouse_alternate_scroll
                and a.mouse_encoding_mode == b.mouse_encoding_mode):
            return False
        if self.bell_count != o.bell_count:
            return False
        for i in range(a.height):
            if not row_eq(self.rows[i], o.rows[i]):
                return False
        return self.title == o.title and self.clipboard == o.clipboard

    def dump(self):
        cdef DrawState *ds = &self.ds
        cdef int y, x
        cdef Row *r
        rows = []
        for y in range(ds.height):
            r = self.rows[y]
            rows.append([cell_tuple(r, &r.cells[x]) for x in range(ds.width)])
        return {
            "size": (ds.width, ds.height),
            "cursor": (ds.cursor_row, ds.cursor_col),
            "cursor_visible": bool(ds.cursor_visible),
            "rows": rows,
            "renditions": (ds.fg, ds.bg, ds.attrs),
            "title": self.title,
            "icon_name": self.icon_name,
            "clipboard": self.clipboard,
            "selections": dict(self.selection_writes),
            "bell_count": self.bell_count,
            "scroll_region": (ds.top, ds.bottom),
            "next_print_will_wrap": bool(ds.next_print_will_wrap),
            "modes": {
                "reverse_video": bool(ds.reverse_video),
                "bracketed_paste": bool(ds.bracketed_paste),
                "mouse_reporting": ds.mouse_reporting_mode,
                "mouse_focus_event": bool(ds.mouse_focus_event),
                "mouse_alternate_scroll": bool(ds.mouse_alternate_scroll),
                "mouse_encoding": ds.mouse_encoding_mode,
                "application_cursor_keys": bool(ds.application_cursor_keys),
                "application_keypad": bool(ds.application_keypad),
                "auto_wrap": bool(ds.auto_wrap_mode),
                "origin": bool(ds.origin_mode),
                "insert": bool(ds.insert_mode),
                "alternate_screen": self.alt_rows != NULL,
            },
        }

    cdef int _index(self, object v, int n) except -1:
        i = v.__index__()
        if i < 0:
            i += n
        if i < 0 or i >= n:
            raise IndexError("cell index out of range")
        return <int>i

    @property
    def selections(self):
        """Latest valid OSC 52 write per selection (read-only; not part of ==)."""
        return self.selection_writes

    def get_cell(self, row, col):
        cdef int y = self._index(row, self.ds.height)
        cdef int x = self._index(col, self.ds.width)
        cdef Row *r = self.rows[y]
        return cell_tuple(r, &r.cells[x])

    def set_cell(self, row, col, str contents, fg, bg, attrs, wide=False):
        cdef int y = self._index(row, self.ds.height)
        cdef int x = self._index(col, self.ds.width)
        # as the twin's _cell_text: valid UTF-8, at most EXT_BYTES, whole characters
        cdef bytes enc = contents.encode("utf-8", "surrogatepass").decode(
            "utf-8", "replace").encode()
        cdef uint32_t f = fg, b = bg, a = attrs
        cdef Row *r = self.mutable_row(y)
        cdef Cell *c = &r.cells[x]
        cdef uint8_t wrap = c.flags & F_WRAP
        if r.used <= x:
            r.used = x + 1
        cell_blank(c, b)
        c.fg = f
        c.attrs = <uint8_t>a
        c.flags = wrap | (F_WIDE if wide else 0)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(enc)
        cdef const char *data = PyBytes_AS_STRING(enc)
        if n > EXT_BYTES:   # cut at a character boundary
            n = EXT_BYTES
            while n > 0 and (<uint8_t>data[n] & 0xC0) == 0x80:
                n -= 1
        cell_set_bytes(r, c, data, <int>n)

    @property
    def cursor_row(self):
        return self.ds.cursor_row

    @cursor_row.setter
    def cursor_row(self, value):
        self.ds.cursor_row = <int>min(max(int(value), 0), self.ds.height - 1)

    @property
    def cursor_col(self):
        return self.ds.cursor_col

    @cursor_col.setter
    def cursor_col(self, value):
        self.ds.cursor_col = <int>min(max(int(value), 0), self.ds.width - 1)

    @property
    def cursor_visible(self):
        return bool(self.ds.cursor_visible)

    @cursor_visible.setter
    def cursor_visible(self, value):
        self.ds.cursor_visible = 1 if value else 0

    def translate_input(self, data):
        """User keystrokes -> pty bytes: SS3 arrows become CSI unless DECCKM (3.2)."""
        cdef bytes src = data if type(data) is bytes else bytes(data)
        cdef const uint8_t *p = <const uint8_t *>PyBytes_AS_STRING(src)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(src), i, k = 0
        cdef char *out = <char *>xmalloc(<size_t>(2 * n + 2))
        cdef uint8_t byte
        cdef int state = self.input_state
        for i in range(n):
            byte = p[i]
            if state == 2:
                state = 0
                if not self.ds.application_cursor_keys and 0x41 <= byte <= 0x44:
                    out[k] = b'['
                else:
                    out[k] = b'O'
                out[k + 1] = <char>byte
                k += 2
            elif state == 1 and byte == 0x4F:
                state = 2
            else:
                state = 1 if byte == 0x1B else 0
                out[k] = <char>byte
                k += 1
        self.input_state = state
        try:
            return PyBytes_FromStringAndSize(out, k)
        finally:
            free(out)

    # -- scrollback ring ------------------------------------------------------------
    # history[head .. tail) holds the pending rows' records (row_encode), oldest first.
    cdef void history_pop(self) noexcept:
        """The oldest pending row goes."""
        cdef uint32_t head
        memcpy(&head, self.history + self.history_head, REC_HEAD)
        self.history_head += head >> 1
        self.history_len -= 1
        if self.history_len == 0:
            self.history_head = self.history_tail = 0

    cdef void history_free(self) noexcept:
        """The arena and every row in it."""
        free(self.history)
        self.history = NULL
        self.history_cap = 0
        self.history_head = 0
        self.history_tail = 0
        self.history_len = 0

    cdef void history_room(self, Py_ssize_t need) noexcept:
        """Room for ``need`` more bytes at the tail: the pending records move to the front;
        into a new arena of twice their size (with ``need``) if they fill over 3/4 of this
        one or under 1/16. So the arena is at most 2 * (pending + need) + 64 KiB, and each
        byte appended is moved at most 3 times on average."""
        cdef Py_ssize_t live = self.history_tail - self.history_head
        cdef Py_ssize_t want = 2 * (live + need) + HISTORY_ARENA_MIN
        cdef char *arena
        if 4 * (live + need) > 3 * self.history_cap or 16 * (live + need) < self.history_cap:
            arena = <char *>xmalloc(<size_t>want)
            if live:
                memcpy(arena, self.history + self.history_head, <size_t>live)
            free(self.history)
            self.history = arena
            self.history_cap = want
        elif live:
            memmove(self.history, self.history + self.history_head, <size_t>live)
        self.history_head = 0
        self.history_tail = live

    cdef void history_keep(self, const Row *r) noexcept:
        """Row r leaves the top of the main screen: its record goes into the arena (the
        oldest row goes when the ring holds ``history_limit`` of them)."""
        cdef uint32_t head
        cdef Py_ssize_t size, need = REC_HEAD + <Py_ssize_t>r.used * REC_CELL_MAX
        cdef char *body
        if self.history_len >= self.history_limit:
            self.history_pop()
            self.history_dropped += 1
        if self.history_tail + need > self.history_cap:
            self.history_room(need)
        body = self.history + self.history_tail + REC_HEAD
        if r.rec_n >= 0 and r.rec_col == r.used:   # built as it was printed: a copy
            memcpy(body, r.rec, <size_t>r.rec_n)
            size = REC_HEAD + r.rec_n
        else:
            size = REC_HEAD + row_encode(body, r)
        head = <uint32_t>(size << 1) | ((r.cells[r.width - 1].flags & F_WRAP) != 0)
        memcpy(self.history + self.history_tail, &head, REC_HEAD)
        self.history_tail += size
        self.history_len += 1

    cdef void clear_history(self) noexcept:
        """ED 3: everything pending is gone, and so is the count of what was dropped."""
        if self.history_limit:
            self.history_head = self.history_tail = 0
            self.history_len = 0
            self.history_dropped = 0
            self.history_cleared = True

    # -- rows ---------------------------------------------------------------------
    cdef inline Row *mutable_row(self, int y) noexcept:
        """Row y, to be written (its history record ends: see Row.rec)."""
        cdef Row *r = self.writable_row(y)
        r.rec_n = -1
        return r

    cdef inline Row *writable_row(self, int y) noexcept:
        """Row y, to be written by a writer that keeps or ends its record itself."""
        cdef Row *r = self.rows[y]
        cdef Row *c
        if r.refcnt > 1:
            c = row_clone(r, r.width, 0)
            r.refcnt -= 1
            self.rows[y] = c
            return c
        return r

    cdef inline void record_text(self, Row *r, int col, int width, int last, const Cell *t,
                                 const char *p, Py_ssize_t m, bint word) noexcept:
        """Cells [col, col + width) of r were just written, ``last`` the first column of
        the last character: ``t``'s renditions, the text p[:m] (ASCII: one cell a byte;
        else one character, 1 or 2 cells wide; ``word``: p has 4 bytes, copied at once).
        They extend r's record if it ends at col (else it ends)."""
        cdef uint64_t colours
        cdef Py_ssize_t need
        if r.rec_n < 0:
            return
        if (col != r.rec_col or col + width > r.width or not self.history_limit
                or self.alt_rows != NULL):
            r.rec_n = -1
            return
        memcpy(&colours, t, 8)
        need = m + (10 if colours != r.rec_colours or t.attrs != r.rec_attrs else 0)
        if r.rec_n + need + (4 if word else 0) > r.rec_cap:
            r.rec_n = -1
            return
        if need > m:   # a style record, as row_encode writes it
            r.rec[r.rec_n] = <char>REC_STYLE
            memcpy(r.rec + r.rec_n + 1, &colours, 8)
            r.rec[r.rec_n + 9] = <char>t.attrs
            r.rec_n += 10
            r.rec_colours = colours
            r.rec_attrs = t.attrs
        if word:
            memcpy(r.rec + r.rec_n, p, 4)
        else:
            memcpy(r.rec + r.rec_n, p, <size_t>m)
        r.rec_n += <int>m
        r.rec_col = col + width
        r.rec_last = last

    cdef void reset_row(self, int y) noexcept:
        cdef Row *r = self.rows[y]
        cdef int i
        if r.refcnt == 1:
            r.gen = next_gen()
            r.n_ext = 0
            r.used = r.width if self.ds.bg else 0
            cells_blank(r.cells, r.width, self.ds.bg)
            row_rec_reset(r, self.ds.bg)
        else:
            r.refcnt -= 1
            self.rows[y] = row_new(self.ds.width, self.ds.bg, next_gen())

    cdef void erase_cells(self, int y, int start, int end) noexcept:
        cdef Row *r
        cdef int i
        if start < 0:
            start = 0
        if end > self.ds.width:
            end = self.ds.width
        if start >= end:
            return
        r = self.mutable_row(y)
        if self.ds.bg and r.used < end:
            r.used = end
        cells_blank(&r.cells[start], end - start, self.ds.bg)

    cdef void insert_lines(self, int y, int count) noexcept:
        cdef DrawState *ds = &self.ds
        cdef int i
        cdef Row *blank
        if y < ds.top or y > ds.bottom or count <= 0:
            return
        if count > ds.bottom - y + 1:
            count = ds.bottom - y + 1
        for i in range(ds.bottom - count + 1, ds.bottom + 1):
            row_decref(self.rows[i])
        memmove(&self.rows[y + count], &self.rows[y],
                <size_t>(ds.bottom + 1 - count - y) * sizeof(Row *))
        blank = row_new(ds.width, ds.bg, next_gen())
        blank.refcnt = count
        for i in range(y, y + count):
            self.rows[i] = blank

    cdef void delete_lines(self, int y, int count) noexcept:
        cdef DrawState *ds = &self.ds
        cdef int i
        cdef Row *blank
        if y < ds.top or y > ds.bottom or count <= 0:
            return
        if count > ds.bottom - y + 1:
            count = ds.bottom - y + 1
        blank = NULL
        if y == 0 and self.history_limit and self.alt_rows == NULL:
            for i in range(count):   # into the history ring (see history_keep)
                self.history_keep(self.rows[i])
        if count == 1 and self.rows[y].refcnt == 1:
            blank = self.rows[y]   # recycle the row that scrolls off
        else:
            for i in range(y, y + count):
                row_decref(self.rows[i])
        if blank != NULL:
            blank.gen = next_gen()
            blank.n_ext = 0
            if ds.bg == 0:
                # cells from ``used`` on are default blanks already, but for the last
                # cell's wrap flag: a short line's recycled row is blanked by its length
                cells_blank(blank.cells, blank.used, 0)
                cell_blank(&blank.cells[blank.width - 1], 0)
            else:
                cells_blank(blank.cells, blank.width, ds.bg)
            blank.used = blank.width if ds.bg else 0
            row_rec_reset(blank, ds.bg)
        else:
            blank = row_new(ds.width, ds.bg, next_gen())
            blank.refcnt = count
        memmove(&self.rows[y], &self.rows[y + count],
                <size_t>(ds.bottom + 1 - y - count) * sizeof(Row *))
        for i in range(ds.bottom - count + 1, ds.bottom + 1):
            self.rows[i] = blank

    cdef inline void scroll(self, int n) noexcept:
        if n > 0:
            self.delete_lines(self.ds.top, n)
        elif n < 0:
            self.insert_lines(self.ds.top, -n)

    cdef void set_wrap(self, int y, bint wrap) noexcept:
        cdef Row *r = self.rows[y]
        cdef Cell *c = &r.cells[r.width - 1]
        if bool(c.flags & F_WRAP) == wrap:
            return
        r = self.writable_row(y)   # (the record leaves the wrap flag to its head)
        c = &r.cells[r.width - 1]
        if wrap:
            c.flags |= F_WRAP
        else:
            c.flags &= ~F_WRAP

    cdef void insert_cells(self, int y, int col, int n) noexcept:
        cdef Row *r
        cdef int w = self.ds.width, i
        if n > w - col:
            n = w - col
        if n <= 0:
            return
        r = self.mutable_row(y)
        r.used = w
        memmove(&r.cells[col + n], &r.cells[col], <size_t>(w - col - n) * sizeof(Cell))
        for i in range(col, col + n):
            cell_blank(&r.cells[i], self.ds.bg)

    cdef void delete_cells(self, int y, int col, int n) noexcept:
        cdef Row *r
        cdef int w = self.ds.width, i
        if n > w - col:
            n = w - col
        if n <= 0:
            return
        r = self.mutable_row(y)
        if self.ds.bg:
            r.used = w
        memmove(&r.cells[col], &r.cells[col + n], <size_t>(w - col - n) * sizeof(Cell))
        for i in range(w - n, w):
            cell_blank(&r.cells[i], self.ds.bg)

    # -- cursor -------------------------------------------------------------------
    cdef inline void snap_cursor(self) noexcept:
        cdef DrawState *ds = &self.ds
        if ds.origin_mode:
            if ds.cursor_row < ds.top:
                ds.cursor_row = ds.top
            if ds.cursor_row > ds.bottom:
                ds.cursor_row = ds.bottom
        else:
            if ds.cursor_row < 0:
                ds.cursor_row = 0
            if ds.cursor_row > ds.height - 1:
                ds.cursor_row = ds.height - 1
        if ds.cursor_col < 0:
            ds.cursor_col = 0
        if ds.cursor_col > ds.width - 1:
            ds.cursor_col = ds.width - 1

    cdef inline void move_row(self, long n, bint relative) noexcept:
        cdef DrawState *ds = &self.ds
        if n > 100000:
            n = 100000
        if n < -100000:
            n = -100000
        if relative:
            ds.cursor_row += <int>n
        else:
            ds.cursor_row = <int>n + (ds.top if ds.origin_mode else 0)
        self.snap_cursor()
        ds.combining_row = ds.cursor_row
        ds.combining_col = ds.cursor_col
        ds.next_print_will_wrap = 0

    cdef inline void move_col(self, long n, bint relative) noexcept:
        cdef DrawState *ds = &self.ds
        if n > 100000:
            n = 100000
        if n < -100000:
            n = -100000
        if relative:
            ds.cursor_col += <int>n
        else:
            ds.cursor_col = <int>n
        self.snap_cursor()
        ds.combining_row = ds.cursor_row
        ds.combining_col = ds.cursor_col
        ds.next_print_will_wrap = 0

    cdef inline void advance(self, int n) noexcept:
        cdef DrawState *ds = &self.ds
        ds.combining_row = ds.cursor_row
        ds.combining_col = ds.cursor_col
        ds.cursor_col += n
        ds.next_print_will_wrap = ds.cursor_col >= ds.width
        self.snap_cursor()

    cdef void move_rows_autoscroll(self, int n) noexcept:
        cdef DrawState *ds = &self.ds
        cdef int row = ds.cursor_row, excess
        if ds.top <= row <= ds.bottom:
            if row + n > ds.bottom:
                excess = row + n - ds.bottom
                self.scroll(excess)
                n -= excess
            elif row + n < ds.top:
                excess = row + n - ds.top
                self.scroll(excess)
                n -= excess
        self.move_row(n, True)

    cdef int next_tab(self, long count) noexcept:
        cdef int col
        for col in range(self.ds.cursor_col + 1, self.ds.width):
            if self.tabs[col]:
                count -= 1
                if count <= 0:
                    return col
        return -1

    cdef int prev_tab(self, long count) noexcept:
        cdef int col = self.ds.cursor_col - 1
        while col > 0:
            if self.tabs[col]:
                count -= 1
                if count <= 0:
                    return col
            col -= 1
        return 0

    cdef void tab_to(self, int col, int if_none) noexcept:
        cdef int wrap = self.ds.next_print_will_wrap
        self.move_col(if_none if col < 0 else col, False)
        self.ds.next_print_will_wrap = wrap

    # -- resets / resize ------------------------------------------------------------
    cdef void reset(self) noexcept:
        cdef int w = self.ds.width, h = self.ds.height, i
        self._free_screen(self.alt_rows, h)
        self.alt_rows = NULL
        self._free_screen(self.rows, h)
        self.rows = NULL
        draw_state_default(&self.ds, w, h)
        self.rows = <Row **>xmalloc(<size_t>h * sizeof(Row *))
        cdef Row *blank = row_new(w, 0, next_gen())
        blank.refcnt = h
        for i in range(h):
            self.rows[i] = blank
        for i in range(w):
            self.tabs[i] = (i % 8 == 0)
        self.title = ""
        self.clipboard = ""
        self.selection_writes = {}

    cdef void soft_reset(self) noexcept:
        cdef DrawState *ds = &self.ds
        ds.insert_mode = 0
        ds.origin_mode = 0
        ds.cursor_visible = 1
        ds.application_cursor_keys = 0
        ds.application_keypad = 0
        ds.top = 0
        ds.bottom = ds.height - 1
        ds.fg = 0
        ds.bg = 0
        ds.attrs = 0
        ds.saved.col = 0
        ds.saved.row = 0
        ds.saved.fg = 0
        ds.saved.bg = 0
        ds.saved.attrs = 0
        ds.saved.auto_wrap = 1
        ds.saved.origin = 0

    cdef Row **resized_rows(self, Row **rows, int oldw, int oldh, int w, int h) noexcept:
        cdef Row **nr = <Row **>xmalloc(<size_t>h * sizeof(Row *))
        cdef int i, keep = oldh if oldh < h else h
        cdef Row *r
        cdef Row *blank
        for i in range(keep):
            r = rows[i]
            if w != oldw:
                nr[i] = row_clone(r, w, self.ds.bg)
                if oldw <= w:
                    nr[i].cells[oldw - 1].flags &= ~F_WRAP
                elif nr[i].cells[w - 1].flags & F_WIDE:
                    # cut at the new edge: blank it, as xterm does
                    cell_blank(&nr[i].cells[w - 1], self.ds.bg)
                    if self.ds.bg:
                        nr[i].used = w
                row_decref(r)
            else:
                nr[i] = r
        for i in range(keep, oldh):
            row_decref(rows[i])
        if keep < h:
            blank = row_new(w, self.ds.bg, next_gen())
            blank.refcnt = h - keep
            for i in range(keep, h):
                nr[i] = blank
        free(rows)
        return nr

    cdef void _resize(self, int w, int h):
        cdef DrawState *ds = &self.ds
        cdef int oldw = ds.width, oldh = ds.height, i
        if w == oldw and h == oldh:
            return
        self.rows = self.resized_rows(self.rows, oldw, oldh, w, h)
        if self.alt_rows != NULL:
            self.alt_rows = self.resized_rows(self.alt_rows, oldw, oldh, w, h)
        ds.width = w
        ds.height = h
        ds.top = 0
        ds.bottom = h - 1
        self.tabs = <uint8_t *>realloc(self.tabs, <size_t>w)
        if self.tabs == NULL:
            abort()
        for i in range(oldw, w):
            self.tabs[i] = 1 if (ds.default_tabs and i % 8 == 0) else 0
        if ds.cursor_row > h - 1:
            ds.cursor_row = h - 1
        if ds.cursor_col > w - 1:
            ds.cursor_col = w - 1
        if ds.combining_row >= h or ds.combining_col >= w:
            ds.combining_row = -1
            ds.combining_col = -1

    # -- alternate screen (beyond Mosh, as in the twin) -----------------------------
    cdef void fill_blank(self, uint32_t bg) noexcept:
        cdef int i, h = self.ds.height
        cdef Row *blank = row_new(self.ds.width, bg, next_gen())
        for i in range(h):
            row_decref(self.rows[i])
        blank.refcnt = h
        for i in range(h):
            self.rows[i] = blank

    cdef void enter_alternate(self, bint clear) noexcept:
        cdef int h = self.ds.height, i
        cdef Row *blank
        if self.alt_rows == NULL:
            self.alt_rows = self.rows
            self.rows = <Row **>xmalloc(<size_t>h * sizeof(Row *))
            blank = row_new(self.ds.width, 0, next_gen())
            blank.refcnt = h
            for i in range(h):
                self.rows[i] = blank
        if clear:
            self.fill_blank(self.ds.bg)

    cdef void leave_alternate(self) noexcept:
        if self.alt_rows != NULL:
            self._free_screen(self.rows, self.ds.height)
            self.rows = self.alt_rows
            self.alt_rows = NULL

    cdef void save_cursor(self, SavedCursor *slot) noexcept:
        cdef DrawState *ds = &self.ds
        slot.col = ds.cursor_col
        slot.row = ds.cursor_row
        slot.fg = ds.fg
        slot.bg = ds.bg
        slot.attrs = ds.attrs
        slot.auto_wrap = ds.auto_wrap_mode
        slot.origin = ds.origin_mode

    cdef void restore_cursor(self, SavedCursor *slot) noexcept:
        cdef DrawState *ds = &self.ds
        ds.cursor_col = slot.col
        ds.cursor_row = slot.row
        ds.fg = slot.fg
        ds.bg = slot.bg
        ds.attrs = slot.attrs
        ds.auto_wrap_mode = slot.auto_wrap
        ds.origin_mode = slot.origin
        self.snap_cursor()
        ds.combining_row = ds.cursor_row
        ds.combining_col = ds.cursor_col

    # -- printing -----------------------------------------------------------------
    cdef void print_ascii(self, const uint8_t *p, Py_ssize_t n) noexcept:
        cdef DrawState *ds = &self.ds
        cdef Py_ssize_t i = 0, k, m
        cdef Cell t
        cdef Row *row
        cdef Cell *cells
        cdef int col, w
        memset(&t, 0, sizeof(Cell))
        t.fg = ds.fg
        t.bg = ds.bg
        t.attrs = <uint8_t>ds.attrs
        t.len = 1
        while i < n:
            if ds.next_print_will_wrap or ds.insert_mode:
                self.print_char(p[i], 1)
                i += 1
                continue
            w = ds.width
            col = ds.cursor_col
            row = self.writable_row(ds.cursor_row)
            cells = row.cells
            m = w - col
            if m > n - i:
                m = n - i
            for k in range(m):
                t.u[0] = <char>p[i + k]
                cells[col + k] = t
            self.record_text(row, col, <int>m, col + <int>m - 1, &t, <const char *>p + i, m,
                             False)
            i += m
            col += <int>m
            if row.used < col:
                row.used = col
            ds.combining_row = ds.cursor_row
            ds.combining_col = col - 1
            if col >= w:
                ds.next_print_will_wrap = 1
                ds.cursor_col = w - 1
            else:
                ds.cursor_col = col

    cdef void print_char(self, uint32_t c, int width) noexcept:
        cdef DrawState *ds = &self.ds
        cdef Row *row
        cdef Cell *cell
        cdef int col
        cdef char enc[4]
        if ds.auto_wrap_mode and ds.next_print_will_wrap:
            self.set_wrap(ds.cursor_row, True)
            self.move_col(0, False)
            self.move_rows_autoscroll(1)
        elif ds.auto_wrap_mode and width == 2 and ds.cursor_col == ds.width - 1:
            self.erase_cells(ds.cursor_row, ds.cursor_col, ds.width)
            self.set_wrap(ds.cursor_row, False)
            self.move_col(0, False)
            self.move_rows_autoscroll(1)
        col = ds.cursor_col
        if ds.insert_mode:
            self.insert_cells(ds.cursor_row, col, width)
        row = self.writable_row(ds.cursor_row)
        if row.used < col + width:
            row.used = col + width if col + width <= ds.width else ds.width
        cell = &row.cells[col]
        cell_blank(cell, ds.bg)
        cell.fg = ds.fg
        cell.attrs = <uint8_t>ds.attrs
        if width == 2:
            cell.flags = F_WIDE
        cell.len = <uint8_t>utf8_encode(c, cell.u)
        if width == 2 and col < ds.width - 1:
            cell_blank(&row.cells[col + 1], ds.bg)
        self.record_text(row, col, width, col, cell, cell.u, cell.len, True)
        self.advance(width)

    cdef void print_combining(self, uint32_t c) noexcept:
        cdef DrawState *ds = &self.ds
        cdef int y = ds.combining_row, x = ds.combining_col, n, old
        cdef Row *row
        cdef Cell *cell
        cdef char enc[4]
        if not (0 <= y < ds.height and 0 <= x < ds.width):
            return
        row = self.writable_row(y)
        if row.used <= x:
            row.used = x + 1
        cell = &row.cells[x]
        if cell.len == 0:
            cell.flags |= F_FALLBACK
            self.advance(1)
        old = cell.len
        if old < CONTENTS_MAX:
            n = utf8_encode(c, enc)
            cell_append(row, cell, enc, n)
        # the record goes on if it ends with this cell's text (the mark's bytes, if kept,
        # go after it); a fallback cell ends it
        if (row.rec_n >= 0 and x == row.rec_last and old and not cell.flags & F_FALLBACK
                and row.rec_n + 4 <= row.rec_cap):
            if cell.len != old:   # (cell_append takes all of enc or none)
                memcpy(row.rec + row.rec_n, enc, 4)
                row.rec_n += cell.len - old
        else:
            row.rec_n = -1

    cdef inline void print_code_point(self, uint32_t c) noexcept:
        cdef int w = char_width(c)
        if w < 0:
            return
        if w == 0:
            self.print_combining(c)
        else:
            self.print_char(c, w)

    # -- controls -----------------------------------------------------------------
    cdef void execute(self, uint32_t c) noexcept:
        cdef DrawState *ds = &self.ds
        if c == 0x09:
            self.tab_to(self.next_tab(1), ds.width - 1)
            return
        ds.next_print_will_wrap = 0
        if c == 0x07:
            self.bell_count += 1
        elif c == 0x08:
            self.move_col(-1, True)
        elif c == 0x0A or c == 0x0B or c == 0x0C or c == 0x84:
            self.move_rows_autoscroll(1)
        elif c == 0x0D:
            self.move_col(0, False)
        elif c == 0x85:
            self.move_col(0, False)
            self.move_rows_autoscroll(1)
        elif c == 0x88:
            self.tabs[ds.cursor_col] = 1
        elif c == 0x8D:
            self.move_rows_autoscroll(-1)

    cdef void esc_dispatch(self, uint32_t c) noexcept:
        cdef DrawState *ds = &self.ds
        cdef int y, x
        cdef Row *r
        cdef Cell t
        self.state = GROUND
        if self.collected_len == 0 and 0x40 <= c <= 0x5F:
            self.execute(c + 0x40)
            return
        ds.next_print_will_wrap = 0
        if self.collected_len >= 8 or c > 0xFF:
            return
        if self.collected_len == 0:
            if c == ord('7'):     # DECSC
                self.save_cursor(&ds.saved)
            elif c == ord('8'):   # DECRC
                self.restore_cursor(&ds.saved)
            elif c == ord('c'):   # RIS
                self.reset()
            elif c == ord('='):
                ds.application_keypad = 1
            elif c == ord('>'):
                ds.application_keypad = 0
        elif self.collected_len == 1 and self.collected[0] == b'#' and c == ord('8'):   # DECALN
            memset(&t, 0, sizeof(Cell))
            t.bg = ds.bg
            t.len = 1
            t.u[0] = b'E'
            for y in range(ds.height):
                r = self.mutable_row(y)
                r.n_ext = 0
                r.used = r.width
                for x in range(ds.width):
                    r.cells[x] = t

    cdef void osc_dispatch(self) noexcept:
        cdef int n = self.osc_len, command, offset, end
        cdef uint32_t *b
        if n == 0:
            return
        b = self.osc.data
        if n >= 3 and b[0] == ord('5') and b[1] == ord('2') and b[2] == ord(';'):
            self.clipboard, self.selection_writes = clipboard_module()(
                PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, b, n),
                self.clipboard, self.selection_writes)
            return
        if n >= 1 and b[0] == ord(';'):
            command = 0
            offset = 1
        elif n >= 2 and b[1] == ord(';') and ord('0') <= b[0] <= ord('9'):
            command = b[0] - ord('0')
            offset = 2
        else:
            return
        if command > 2:
            return
        end = n if n < TITLE_MAX else TITLE_MAX
        text = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, b + offset, end - offset)
        self.title_initialized = True
        if command == 0 or command == 1:
            self.icon_name = text
        if command == 0 or command == 2:
            self.title = text

    # -- CSI ----------------------------------------------------------------------
    cdef void parse_params(self) noexcept:
        cdef int i, count = 0
        cdef long v = -1
        cdef char ch
        for i in range(self.params_len):
            ch = self.params[i]
            if ch == b';':
                self.param_values[count] = <int>(v if v <= 65535 else -1)
                count += 1
                v = -1
            else:
                if v < 0:
                    v = 0
                if v <= 65535:
                    v = v * 10 + (ch - 48)
        self.param_values[count] = <int>(v if v <= 65535 else -1)
        self.param_count = count + 1

    cdef inline int arg(self, int i, int default) noexcept:
        cdef int v
        if i < self.param_count:
            v = self.param_values[i]
            if v >= 1:
                return v
        return default

    cdef void csi_dispatch(self, uint32_t c) noexcept:
        cdef DrawState *ds = &self.ds
        cdef char p0
        self.state = GROUND
        if self.collected_len >= 8 or c > 0xFF:
            ds.next_print_will_wrap = 0
            return
        if self.collected_len == 0:
            if not (c == ord('I') or c == ord('Z') or c == ord('g') or c == ord('m')):
                ds.next_print_will_wrap = 0   # (the twin's _PRESERVE_WRAP_CSI)
            self.parse_params()
            self.csi_dispatch_plain(c)
        elif self.collected_len == 1:
            p0 = self.collected[0]
            if not (p0 == b'?' and (c == ord('h') or c == ord('l'))):
                ds.next_print_will_wrap = 0
            self.parse_params()
            if p0 == b'?' and (c == ord('h') or c == ord('l')):
                self.csi_decset(c == ord('h'))
            elif p0 == b'>' and c == ord('c'):   # DA2
                self.replies += b"\x1b[>1;10;0c"
            elif p0 == b'!' and c == ord('p'):   # DECSTR
                self.soft_reset()
        else:
            ds.next_print_will_wrap = 0

    cdef void csi_dispatch_plain(self, uint32_t c) noexcept:
        """CSI without private marker or intermediates: the twin's _CSI table."""
        cdef DrawState *ds = &self.ds
        if c == ord('@'):       # ICH
            self.insert_cells(ds.cursor_row, ds.cursor_col, self.arg(0, 1))
        elif c == ord('A'):     # CUU
            self.move_row(-self.arg(0, 1), True)
        elif c == ord('B'):     # CUD
            self.move_row(self.arg(0, 1), True)
        elif c == ord('C'):     # CUF
            self.move_col(self.arg(0, 1), True)
        elif c == ord('D'):     # CUB
            self.move_col(-self.arg(0, 1), True)
        elif c == ord('G') or c == ord('`'):   # CHA
            self.move_col(self.arg(0, 1) - 1, False)
        elif c == ord('H') or c == ord('f'):   # CUP
            self.move_row(self.arg(0, 1) - 1, False)
            self.move_col(self.arg(1, 1) - 1, False)
        elif c == ord('I'):     # CHT
            self.tab_to(self.next_tab(self.arg(0, 1)), ds.width - 1)
        elif c == ord('Z'):     # CBT
            self.tab_to(self.prev_tab(self.arg(0, 1)), 0)
        elif c == ord('J'):
            self.csi_ed()
        elif c == ord('K'):
            self.csi_el()
        elif c == ord('L'):     # IL
            self.insert_lines(ds.cursor_row, self.arg(0, 1))
            self.move_col(0, False)
        elif c == ord('M'):     # DL
            self.delete_lines(ds.cursor_row, self.arg(0, 1))
            self.move_col(0, False)
        elif c == ord('P'):     # DCH
            self.delete_cells(ds.cursor_row, ds.cursor_col, self.arg(0, 1))
        elif c == ord('S'):     # SU
            self.scroll(self.arg(0, 1))
        elif c == ord('T'):     # SD
            self.scroll(-self.arg(0, 1))
        elif c == ord('X'):     # ECH
            self.erase_cells(ds.cursor_row, ds.cursor_col, ds.cursor_col + self.arg(0, 1))
        elif c == ord('c'):     # DA1
            self.replies += b"\x1b[?62c"
        elif c == ord('d'):     # VPA
            self.move_row(self.arg(0, 1) - 1, False)
        elif c == ord('g'):
            self.csi_tbc()
        elif c == ord('h') or c == ord('l'):   # SM / RM: only IRM (4)
            self.csi_sm(c == ord('h'))
        elif c == ord('m'):
            self.csi_sgr()
        elif c == ord('n'):
            self.csi_dsr()
        elif c == ord('r'):
            self.csi_decstbm()

    cdef void csi_ed(self) noexcept:
        cdef DrawState *ds = &self.ds
        cdef int mode = self.arg(0, 0), y = ds.cursor_row, x = ds.cursor_col, i
        if mode == 0:
            self.erase_cells(y, x, ds.width)
            for i in range(y + 1, ds.height):
                self.reset_row(i)
        elif mode == 1:
            for i in range(y):
                self.reset_row(i)
            self.erase_cells(y, 0, x + 1)
        elif mode == 2:
            for i in range(ds.height):
                self.reset_row(i)
        elif mode == 3:   # erase saved lines (xterm): the screen stays
            self.clear_history()

    cdef void csi_el(self) noexcept:
        cdef DrawState *ds = &self.ds
        cdef int mode = self.arg(0, 0)
        if mode == 0:
            self.erase_cells(ds.cursor_row, ds.cursor_col, ds.width)
        elif mode == 1:
            self.erase_cells(ds.cursor_row, 0, ds.cursor_col + 1)
        elif mode == 2:
            self.reset_row(ds.cursor_row)

    cdef void csi_tbc(self) noexcept:
        cdef int mode = self.arg(0, 0)
        if mode == 0:
            self.tabs[self.ds.cursor_col] = 0
        elif mode == 3:
            memset(self.tabs, 0, self.ds.width)
            self.ds.default_tabs = 0

    cdef void csi_sm(self, bint value) noexcept:
        cdef int i
        for i in range(self.param_count):
            if self.param_values[i] == 4:
                self.ds.insert_mode = value

    cdef void csi_dsr(self) noexcept:
        cdef int what = self.arg(0, 0)
        if what == 5:
            self.replies += b"\x1b[0n"
        elif what == 6:
            self.replies += b"\x1b[%d;%dR" % (self.ds.cursor_row + 1, self.ds.cursor_col + 1)

    cdef void csi_decstbm(self) noexcept:
        cdef DrawState *ds = &self.ds
        cdef int top = self.arg(0, 1), bottom = self.arg(1, ds.height)
        if bottom <= top or top > ds.height:
            return
        ds.top = top - 1
        ds.bottom = (bottom if bottom < ds.height else ds.height) - 1
        self.move_row(0, False)
        self.move_col(0, False)

    cdef void csi_decset(self, bint value) noexcept:
        cdef DrawState *ds = &self.ds
        cdef int i, mode, v = 1 if value else 0
        for i in range(self.param_count):
            mode = self.param_values[i]
            if mode == 1:
                ds.application_cursor_keys = v
            elif mode == 3:
                self.move_row(0, False)
                self.move_col(0, False)
                for mode in range(ds.height):
                    self.reset_row(mode)
            elif mode == 5:
                ds.reverse_video = v
            elif mode == 6:
                self.move_row(0, False)
                self.move_col(0, False)
                ds.origin_mode = v
            elif mode == 7:
                ds.auto_wrap_mode = v
            elif mode == 25:
                ds.cursor_visible = v
            elif mode == 9 or 1000 <= mode <= 1003:
                ds.mouse_reporting_mode = mode if value else 0
            elif mode == 1004:
                ds.mouse_focus_event = v
            elif mode == 1005 or mode == 1006 or mode == 1015:
                ds.mouse_encoding_mode = mode if value else 0
            elif mode == 1007:
                ds.mouse_alternate_scroll = v
            elif mode == 2004:
                ds.bracketed_paste = v
            elif mode == 47 or mode == 1047:
                if value:
                    self.enter_alternate(False)
                else:
                    self.leave_alternate()
            elif mode == 1049:
                if value:
                    if self.alt_rows == NULL:
                        self.save_cursor(&ds.alt_cursor)
                    self.enter_alternate(True)
                elif self.alt_rows != NULL:
                    self.leave_alternate()
                    self.restore_cursor(&ds.alt_cursor)

    cdef void csi_sgr(self) noexcept:
        cdef DrawState *ds = &self.ds
        cdef uint32_t fg = ds.fg, bg = ds.bg, attrs = ds.attrs, value
        cdef int count = self.param_count, i = 0, v, index
        cdef uint32_t r, g, b
        while i < count:
            v = self.arg(i, 0)
            if (v == 38 or v == 48) and count - i >= 3 and self.arg(i + 1, 0) == 5:
                index = self.arg(i + 2, 0)
                if 0 <= index <= 255:
                    if v == 38:
                        fg = 30 + index
                    else:
                        bg = 40 + index
                i += 3
                continue
            if (v == 38 or v == 48) and count - i >= 5 and self.arg(i + 1, 0) == 2:
                r = self.arg(i + 2, 0)
                g = self.arg(i + 3, 0)
                b = self.arg(i + 4, 0)
                value = (0x1000000 | (r << 16) | (g << 8) | b) & 0x1FFFFFF
                if v == 38:
                    fg = value
                else:
                    bg = value
                i += 5
                continue
            if v == 0:
                fg = 0
                bg = 0
                attrs = 0
            elif v == 39:
                fg = 0
            elif v == 49:
                bg = 0
            elif 30 <= v <= 37 or 40 <= v <= 47:
                if v < 40:
                    fg = v
                else:
                    bg = v
            elif 90 <= v <= 97:
                fg = v - 52
            elif 100 <= v <= 107:
                bg = v - 52
            elif v == 1:
                attrs |= 1
            elif v == 3:
                attrs |= 4
            elif v == 4:
                attrs |= 8
            elif v == 5:
                attrs |= 16
            elif v == 7:
                attrs |= 32
            elif v == 8:
                attrs |= 64
            elif v == 22:
                attrs &= ~1
            elif v == 23:
                attrs &= ~4
            elif v == 24:
                attrs &= ~8
            elif v == 25:
                attrs &= ~16
            elif v == 27:
                attrs &= ~32
            elif v == 28:
                attrs &= ~64
            i += 1
        ds.fg = fg
        ds.bg = bg
        ds.attrs = attrs

    # -- the state machine --------------------------------------------------------
    cdef inline void enter(self, int state) noexcept:
        """Exit action of the current state, then entry action of ``state``."""
        if self.state == OSC_STRING:
            self.state = GROUND
            self.osc_dispatch()
            self.osc_len = 0
            if self.osc != NULL and self.osc.cap > OSC_KEEP:
                osc_decref(self.osc)
                self.osc = NULL
        self.state = state
        if state == ESCAPE or state == CSI_ENTRY:
            self.params_len = 0
            self.collected_len = 0
        elif state == OSC_STRING:
            self.osc_len = 0

    cdef inline void collect(self, uint32_t c) noexcept:
        if self.collected_len < 8 and c <= 0xFF:
            self.collected[self.collected_len] = <char>c
            self.collected_len += 1

    cdef inline void param(self, uint32_t c) noexcept:
        if self.params_len < PARAM_CHARS_MAX:
            self.params[self.params_len] = <char>c
            self.params_len += 1

    cdef void osc_put(self, uint32_t c) noexcept:
        cdef Py_ssize_t cap
        cdef OscBuf *o = self.osc
        cdef OscBuf *grown
        if self.osc_len >= OSC_MAX:
            return
        if o == NULL or o.refcnt > 1 or self.osc_len >= o.cap:
            cap = 64 if o == NULL else o.cap
            if self.osc_len >= cap:
                cap = cap * 2 + 64
                if cap > OSC_MAX:
                    cap = OSC_MAX
            if o != NULL and o.refcnt == 1:
                grown = <OscBuf *>realloc(o, sizeof(OscBuf) + <size_t>cap * 4)
                if grown == NULL:
                    abort()
                grown.cap = cap
                grown.data = <uint32_t *>((<char *>grown) + sizeof(OscBuf))
            else:   # shared with a copy (or none yet): a private one
                grown = osc_alloc(cap)
                if self.osc_len:
                    memcpy(grown.data, o.data, <size_t>self.osc_len * 4)
                osc_decref(o)
            self.osc = grown
            o = grown
        o.data[self.osc_len] = c
        self.osc_len += 1

    cdef void step(self, uint32_t c) noexcept:
        cdef int state
        cdef uint32_t k
        # "anywhere" rules on the real code point
        if c == 0x18 or c == 0x1A or (0x80 <= c <= 0x9A and c != 0x90 and c != 0x98):
            self.enter(GROUND)
            self.execute(c)
            return
        if c == 0x1B:
            self.enter(ESCAPE)
            return
        if 0x90 <= c <= 0x9F:
            if c == 0x9C:
                self.enter(GROUND)
            elif c == 0x9D:
                self.enter(OSC_STRING)
            elif c == 0x9B:
                self.enter(CSI_ENTRY)
            else:   # 0x90 DCS, 0x98 SOS, 0x9E PM, 0x9F APC
                self.enter(STRING_IGNORE)
            return
        state = self.state
        k = 0x41 if c >= 0xA0 else c
        if state == GROUND:
            if k < 0x20:
                self.execute(c)
            elif k != 0x7F:
                self.print_code_point(c)
            return
        if state == OSC_STRING:
            if k >= 0x20:
                self.osc_put(c)
            elif k == 0x07:
                self.enter(GROUND)
            return
        if state == STRING_IGNORE:
            return
        if k < 0x20:   # C0' (CAN, SUB, ESC were taken above)
            self.execute(c)
            return
        if state == ESCAPE:
            if 0x20 <= k <= 0x2F:
                self.collect(c)
                self.state = ESCAPE_INTERMEDIATE
            elif k == 0x5B:
                self.enter(CSI_ENTRY)
            elif k == 0x5D:
                self.enter(OSC_STRING)
            elif k == 0x50 or k == 0x58 or k == 0x5E or k == 0x5F:
                self.enter(STRING_IGNORE)
            elif 0x30 <= k <= 0x7E:
                self.esc_dispatch(c)
        elif state == ESCAPE_INTERMEDIATE:
            if 0x20 <= k <= 0x2F:
                self.collect(c)
            elif 0x30 <= k <= 0x7E:
                self.esc_dispatch(c)
        elif state == CSI_ENTRY or state == CSI_PARAM:
            if 0x30 <= k <= 0x39 or k == 0x3B:
                self.param(c)
                self.state = CSI_PARAM
            elif 0x3C <= k <= 0x3F:
                if state == CSI_ENTRY:
                    self.collect(c)
                    self.state = CSI_PARAM
                else:
                    self.state = CSI_IGNORE
            elif k == 0x3A:
                self.state = CSI_IGNORE
            elif 0x20 <= k <= 0x2F:
                self.collect(c)
                self.state = CSI_INTERMEDIATE
            elif 0x40 <= k <= 0x7E:
                self.csi_dispatch(c)
        elif state == CSI_INTERMEDIATE:
            if 0x20 <= k <= 0x2F:
                self.collect(c)
            elif 0x30 <= k <= 0x3F:
                self.state = CSI_IGNORE
            elif 0x40 <= k <= 0x7E:
                self.csi_dispatch(c)
        elif state == CSI_IGNORE:
            if 0x40 <= k <= 0x7E:
                self.state = GROUND

    # -- UTF-8 (glibc mbrtowc semantics, terminal.md 2.1) ---------------------------
    cdef inline void emit(self, uint32_t v) noexcept:
        if v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
            v = 0xFFFD
        self.step(v)

    cdef int utf8_try(self, uint32_t *value) noexcept:
        """consumed bytes if valid (value set); 0 incomplete; -1 invalid."""
        cdef uint8_t lead = self.utf8_buf[0], b
        cdef int need, i, n = self.utf8_len
        cdef uint32_t v
        if lead < 0x80:
            value[0] = lead
            return 1
        if 0xC2 <= lead <= 0xDF:
            need = 1
        elif 0xE0 <= lead <= 0xEF:
            need = 2
        elif 0xF0 <= lead <= 0xF7:
            need = 3
        elif 0xF8 <= lead <= 0xFB:
            need = 4
        elif 0xFC <= lead <= 0xFD:
            need = 5
        else:
            return -1
        v = lead & (0x3F >> need)
        for i in range(1, min(n, need + 1)):
            b = self.utf8_buf[i]
            if b < 0x80 or b > 0xBF:
                return -1
            v = (v << 6) | (b & 0x3F)
        if n < need + 1:
            return 0
        if need == 1 and v < 0x80:
            return -1
        if need == 2 and v < 0x800:
            return -1
        if need == 3 and v < 0x10000:
            return -1
        if need == 4 and v < 0x200000:
            return -1
        if need == 5 and v < 0x4000000:
            return -1
        if 0xD800 <= v <= 0xDFFF:
            return -1
        value[0] = v
        return need + 1

    cdef void utf8_byte(self, uint8_t byte) noexcept:
        cdef int r
        cdef uint32_t v
        if self.utf8_len == 0 and byte < 0x80:
            self.step(byte)
            return
        if self.utf8_len >= 8:   # cannot happen (sequences are at most 6 bytes); stay safe
            self.utf8_len = 0
        self.utf8_buf[self.utf8_len] = byte
        self.utf8_len += 1
        while self.utf8_len:
            r = self.utf8_try(&v)
            if r == 0:
                break
            if r < 0:
                if self.utf8_len > 1:
                    self.utf8_buf[0] = self.utf8_buf[self.utf8_len - 1]
                    self.utf8_len = 1
                else:
                    self.utf8_len = 0
                self.emit(0xFFFD)
                continue
            memmove(self.utf8_buf, self.utf8_buf + r, self.utf8_len - r)
            self.utf8_len -= r
            self.emit(v)

    cdef void _feed(self, const uint8_t *p, Py_ssize_t n) noexcept:
        cdef Py_ssize_t i = 0, j
        cdef uint8_t b, b1, b2, b3
        cdef uint32_t cp
        while i < n:
            b = p[i]
            if self.utf8_len == 0:
                if b < 0x80:
                    if self.state == GROUND and 0x20 <= b < 0x7F:
                        j = i + 1
                        while j < n and 0x20 <= p[j] < 0x7F:
                            j += 1
                        self.print_ascii(p + i, j - i)
                        i = j
                        continue
                    self.step(b)
                    i += 1
                    continue
                if 0xC2 <= b <= 0xDF and i + 1 < n:
                    b1 = p[i + 1]
                    if b1 & 0xC0 == 0x80:
                        cp = ((b & 0x1F) << 6) | (b1 & 0x3F)
                        if cp >= 0xA0 and self.state == GROUND:
                            self.print_code_point(cp)
                        else:
                            self.step(cp)
                        i += 2
                        continue
                elif 0xE0 <= b <= 0xEF and i + 2 < n:
                    b1 = p[i + 1]
                    b2 = p[i + 2]
                    if b1 & 0xC0 == 0x80 and b2 & 0xC0 == 0x80:
                        cp = ((b & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F)
                        if cp >= 0x800 and not (0xD800 <= cp <= 0xDFFF):
                            if self.state == GROUND:
                                self.print_code_point(cp)
                            else:
                                self.step(cp)
                            i += 3
                            continue
                elif 0xF0 <= b <= 0xF4 and i + 3 < n:
                    b1 = p[i + 1]
                    b2 = p[i + 2]
                    b3 = p[i + 3]
                    if b1 & 0xC0 == 0x80 and b2 & 0xC0 == 0x80 and b3 & 0xC0 == 0x80:
                        cp = (((b & 0x07) << 18) | ((b1 & 0x3F) << 12)
                              | ((b2 & 0x3F) << 6) | (b3 & 0x3F))
                        if 0x10000 <= cp <= 0x10FFFF:
                            if self.state == GROUND:
                                self.print_code_point(cp)
                            else:
                                self.step(cp)
                            i += 4
                            continue
            self.utf8_byte(b)
            i += 1
