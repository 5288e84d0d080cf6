# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Cython fast path of the terminal emulator + framebuffer + display diff.

Same API and behaviour as the pure-Python twin (``pymosh.terminal.emulator``), on
C-level data (terminal.md 2 and 4, design.md "Keep the hot loop in C"):

* a cell is a 24-byte C struct (renditions, flags, UTF-8 contents inline up to 12
  bytes; longer grapheme clusters live in a small per-row side table);
* a row is one malloc'd block (header + contiguous cells) with a 64-bit generation
  number and a reference count; snapshots share rows and clone them on first write;
* UTF-8 decoding (glibc ``mbrtowc`` semantics) and the DEC/ANSI state machine run in
  one C loop over the input; Python is reached only for titles, clipboard, replies;
* widths come from the C library ``wcwidth`` in a ``C.UTF-8`` locale (like Mosh and
  the twin), cached in a lazily filled byte table;
* ``new_frame`` walks the rows in C, skips shared / equal rows (pointer, then gen +
  memcmp) and builds its output in a C buffer.

Sizes are clamped to 1..1024 and every index is clamped explicitly (bounds checks
are compiled out).
"""

from libc.stdint cimport uint8_t, uint32_t, uint64_t, int8_t
from libc.string cimport memcpy, memset, memmove, memcmp
from libc.stdlib cimport malloc, realloc, free, abort
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE

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

__all__ = ["Emulator", "new_frame", "open_terminal", "close_terminal"]

cdef enum:
    MAX_SIZE = 1024        # width/height clamp (as the twin)
    TITLE_MAX = 256        # OSC titles end at buffer position 256
    CONTENTS_MAX = 32      # a cell stops accepting combining marks at 32 bytes
    OSC_MAX = 1398121      # pymosh.terminal.clipboard.OSC_MAX (Mosh: 16384)
    OSC_KEEP = 4096        # a buffer grown past this many code points is freed at OSC end
    PARAMS_MAX = 100       # parameter string cap
    INLINE = 12            # contents bytes stored inside the cell
    EXT_BYTES = 39         # contents bytes of a side-table entry (the twin's CELL_BYTES_MAX)

cdef enum:
    F_WIDE = 1
    F_FALLBACK = 2
    F_WRAP = 4
    F_EXT = 8

cdef enum:
    S_GROUND = 0
    S_ESCAPE = 1
    S_ESC_INT = 2
    S_CSI_ENTRY = 3
    S_CSI_PARAM = 4
    S_CSI_INT = 5
    S_CSI_IGNORE = 6
    S_OSC = 7
    S_IGNORE = 8

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
# cells and rows

ctypedef struct Cell:
    uint32_t fg
    uint32_t bg
    uint8_t attrs
    uint8_t flags
    uint8_t len        # UTF-8 length of contents (0 = empty)
    uint8_t pad
    char u[INLINE]     # inline contents, zero padded; with F_EXT: uint32 side-table index

ctypedef struct Ext:
    uint8_t len
    char u[EXT_BYTES]

ctypedef struct Row:
    Py_ssize_t refcnt
    uint64_t gen
    int width
    int n_ext
    int cap_ext
    int used           # cells from here on are default blanks (an upper bound every writer
                       # keeps; history rendering starts its trim there)
    Ext *ext
    Cell *cells

cdef uint64_t _gen_counter = 0


cdef inline void *xmalloc(size_t n) noexcept nogil:
    cdef void *p = malloc(n if n else 1)
    if p == NULL:
        abort()
    return p


cdef inline uint64_t next_gen() noexcept:
    global _gen_counter
    _gen_counter += 1
    return _gen_counter


cdef inline void cell_blank(Cell *c, uint32_t bg) noexcept nogil:
    memset(c, 0, sizeof(Cell))
    c.bg = bg


cdef Row *row_new(int width, uint32_t bg) noexcept:
    cdef Row *r = <Row *>xmalloc(sizeof(Row) + <size_t>width * sizeof(Cell))
    cdef int i
    r.refcnt = 1
    r.gen = next_gen()
    r.width = width
    r.n_ext = 0
    r.cap_ext = 0
    r.used = width if bg else 0
    r.ext = NULL
    r.cells = <Cell *>((<char *>r) + sizeof(Row))
    cell_blank(&r.cells[0], bg)
    for i in range(1, width):
        r.cells[i] = r.cells[0]
    return r


cdef Row *row_clone(Row *src, int width, uint32_t pad_bg) noexcept:
    """Copy of src with ``width`` cells (same gen); extra cells blank with pad_bg."""
    cdef Row *r = <Row *>xmalloc(sizeof(Row) + <size_t>width * sizeof(Cell))
    cdef int i, n = src.width if src.width < width else width
    r.refcnt = 1
    r.gen = src.gen
    r.width = width
    r.used = width if (pad_bg and width > n) or src.used > width else src.used
    r.cells = <Cell *>((<char *>r) + sizeof(Row))
    memcpy(r.cells, src.cells, <size_t>n * sizeof(Cell))
    for i in range(n, width):
        cell_blank(&r.cells[i], pad_bg)
    if src.n_ext:
        r.ext = <Ext *>xmalloc(<size_t>src.n_ext * sizeof(Ext))
        memcpy(r.ext, src.ext, <size_t>src.n_ext * sizeof(Ext))
        r.n_ext = src.n_ext
        r.cap_ext = src.n_ext
    else:
        r.ext = NULL
        r.n_ext = 0
        r.cap_ext = 0
    return r


cdef inline void row_decref(Row *r) noexcept:
    r.refcnt -= 1
    if r.refcnt <= 0:
        if r.ext != NULL:
            free(r.ext)
        free(r)


cdef inline uint32_t cell_ext_index(const Cell *c) noexcept nogil:
    cdef uint32_t idx
    memcpy(&idx, c.u, 4)
    return idx


cdef inline const char *cell_data(const Row *r, const Cell *c) noexcept nogil:
    if c.flags & F_EXT:
        return r.ext[cell_ext_index(c)].u
    return c.u


cdef void row_ext_compact(Row *r) noexcept:
    cdef int live = 0, x
    cdef Cell *c
    for x in range(r.width):
        if r.cells[x].flags & F_EXT:
            live += 1
    cdef Ext *ne = <Ext *>xmalloc(<size_t>(live + 8) * sizeof(Ext))
    cdef uint32_t k = 0, idx
    for x in range(r.width):
        c = &r.cells[x]
        if c.flags & F_EXT:
            idx = cell_ext_index(c)
            ne[k] = r.ext[idx]
            memcpy(c.u, &k, 4)
            k += 1
    free(r.ext)
    r.ext = ne
    r.n_ext = live
    r.cap_ext = live + 8


cdef int row_ext_alloc(Row *r) noexcept:
    if r.n_ext >= r.cap_ext:
        if r.cap_ext >= 2 * r.width + 8:
            row_ext_compact(r)
        if r.n_ext >= r.cap_ext:
            r.cap_ext = r.cap_ext * 2 + 8
            r.ext = <Ext *>realloc(r.ext, <size_t>r.cap_ext * sizeof(Ext))
            if r.ext == NULL:
                abort()
    r.n_ext += 1
    return r.n_ext - 1


cdef void cell_set_bytes(Row *r, Cell *c, const char *s, int n) noexcept:
    """Replace the contents of c (a cell of r) with n UTF-8 bytes (n <= EXT_BYTES)."""
    cdef uint32_t idx
    if n > EXT_BYTES:
        n = EXT_BYTES
    memset(c.u, 0, INLINE)
    c.flags &= ~F_EXT
    c.len = <uint8_t>n
    if n <= INLINE:
        memcpy(c.u, s, n)
        return
    idx = <uint32_t>row_ext_alloc(r)
    r.ext[idx].len = <uint8_t>n
    memcpy(r.ext[idx].u, s, n)
    memcpy(c.u, &idx, 4)
    c.flags |= F_EXT


cdef void cell_append(Row *r, Cell *c, const char *s, int n) noexcept:
    cdef char tmp[EXT_BYTES + 8]
    cdef int old = c.len
    cdef uint32_t idx
    if old + n > EXT_BYTES:
        return
    if c.flags & F_EXT:
        idx = cell_ext_index(c)
        memcpy(r.ext[idx].u + old, s, n)
        r.ext[idx].len = <uint8_t>(old + n)
        c.len = <uint8_t>(old + n)
        return
    if old + n <= INLINE:
        memcpy(c.u + old, s, n)
        c.len = <uint8_t>(old + n)
        return
    memcpy(tmp, c.u, old)
    memcpy(tmp + old, s, n)
    cell_set_bytes(r, c, tmp, old + n)


cdef inline bint cell_eq(const Row *ra, const Cell *a, const Row *rb, const Cell *b) noexcept:
    cdef const uint64_t *wa
    cdef const uint64_t *wb
    if not ((a.flags | b.flags) & F_EXT):
        wa = <const uint64_t *>a
        wb = <const uint64_t *>b
        return wa[0] == wb[0] and wa[1] == wb[1] and wa[2] == wb[2]
    if (a.fg != b.fg or a.bg != b.bg or a.attrs != b.attrs
            or (a.flags & 7) != (b.flags & 7) or a.len != b.len):
        return False
    return memcmp(cell_data(ra, a), cell_data(rb, b), a.len) == 0


cdef bint row_eq(const Row *a, const Row *b) noexcept:
    """Mosh's Row equality: gen and every cell."""
    cdef int x
    if a == b:
        return True
    if a.gen != b.gen or a.width != b.width:
        return False
    if a.n_ext == 0 and b.n_ext == 0:
        return memcmp(a.cells, b.cells, <size_t>a.width * sizeof(Cell)) == 0
    for x in range(a.width):
        if not cell_eq(a, &a.cells[x], b, &b.cells[x]):
            return False
    return True


cdef inline int utf8_encode(uint32_t c, char *out) noexcept nogil:
    if c < 0x80:
        out[0] = <char>c
        return 1
    if c < 0x800:
        out[0] = <char>(0xC0 | (c >> 6))
        out[1] = <char>(0x80 | (c & 0x3F))
        return 2
    if c < 0x10000:
        out[0] = <char>(0xE0 | (c >> 12))
        out[1] = <char>(0x80 | ((c >> 6) & 0x3F))
        out[2] = <char>(0x80 | (c & 0x3F))
        return 3
    out[0] = <char>(0xF0 | (c >> 18))
    out[1] = <char>(0x80 | ((c >> 12) & 0x3F))
    out[2] = <char>(0x80 | ((c >> 6) & 0x3F))
    out[3] = <char>(0x80 | (c & 0x3F))
    return 4


cdef object cell_tuple(const Row *r, const Cell *c):
    cdef object contents = PyUnicode_DecodeUTF8(cell_data(r, c), c.len, "replace")
    return (contents, c.fg, c.bg, c.attrs, bool(c.flags & F_WIDE),
            bool(c.flags & F_FALLBACK), bool(c.flags & F_WRAP))

# ---------------------------------------------------------------------------------
# the OSC string: code points in a buffer that copies share until one of them writes

ctypedef struct OscBuf:
    Py_ssize_t refcnt
    Py_ssize_t cap
    uint32_t *data


cdef OscBuf *osc_alloc(Py_ssize_t cap) noexcept:
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

ctypedef struct DS:
    int width
    int height
    int cur_row
    int cur_col
    int comb_row
    int comb_col
    int top
    int bottom
    uint32_t fg
    uint32_t bg
    uint32_t attrs
    int npww
    int origin
    int auto_wrap
    int insert
    int cursor_visible
    int reverse_video
    int bracketed_paste
    int mouse_reporting
    int mouse_encoding
    int mouse_focus
    int mouse_alt_scroll
    int app_cursor_keys
    int app_keypad
    int default_tabs
    # DECSC slot
    int s_col
    int s_row
    uint32_t s_fg
    uint32_t s_bg
    uint32_t s_attrs
    int s_auto_wrap
    int s_origin
    # ?1049 slot
    int a_col
    int a_row
    uint32_t a_fg
    uint32_t a_bg
    uint32_t a_attrs
    int a_auto_wrap
    int a_origin


cdef void ds_default(DS *ds, int width, int height) noexcept:
    memset(ds, 0, sizeof(DS))
    ds.width = width
    ds.height = height
    ds.bottom = height - 1
    ds.auto_wrap = 1
    ds.cursor_visible = 1
    ds.default_tabs = 1
    ds.s_auto_wrap = 1
    ds.a_auto_wrap = 1


cdef inline int clamp_size(object n) except -1:
    return <int>min(max(int(n), 1), MAX_SIZE)


cdef const char *SGR_ON_CODES = "134578"

# ---------------------------------------------------------------------------------
# the emulator

cdef class Emulator:
    """Mosh's Terminal::Emulator on C data: feed host output, read the framebuffer."""

    cdef DS ds
    cdef Row **rows
    cdef Row **alt_rows          # the main screen while the alternate one is shown
    cdef uint8_t *tabs
    # parser
    cdef int pstate
    cdef uint8_t u8buf[8]
    cdef int u8n
    cdef char params[PARAMS_MAX + 4]
    cdef int plen
    cdef char coll[8]
    cdef int clen
    cdef OscBuf *osc
    cdef int osc_len
    cdef int in_state
    cdef int pv[PARAMS_MAX + 4]
    cdef int pcount
    # Python-level rarely changing state
    cdef object title
    cdef object icon_name
    cdef object clipboard
    cdef object selections       # dict, replaced (never changed in place) on each write
    cdef bint title_initialized
    cdef Py_ssize_t bell_count
    cdef bytearray replies
    # scrollback capture: a ring of rows kept by reference (rendered in take_history)
    cdef Row **hist
    cdef int hist_cap
    cdef int hist_head
    cdef int hist_len
    cdef int hist_limit
    cdef Py_ssize_t hist_dropped
    cdef bint hist_cleared

    def __cinit__(self):
        self.rows = NULL
        self.alt_rows = NULL
        self.tabs = NULL
        self.osc = NULL
        self.hist = NULL
        self.hist_cap = 0
        self.hist_head = 0
        self.hist_len = 0
        self.hist_limit = 0
        self.hist_dropped = 0
        self.hist_cleared = False

    def __init__(self, width, height):
        cdef int w = clamp_size(width), h = clamp_size(height)
        self._setup(w, h)

    cdef void _setup(self, int w, int h):
        ds_default(&self.ds, w, h)
        self.rows = <Row **>xmalloc(<size_t>h * sizeof(Row *))
        cdef Row *blank = row_new(w, 0)
        blank.refcnt = h
        cdef int i
        for i in range(h):
            self.rows[i] = blank
        self.tabs = <uint8_t *>xmalloc(<size_t>w)
        for i in range(w):
            self.tabs[i] = (i % 8 == 0)
        self.pstate = S_GROUND
        self.u8n = 0
        self.plen = 0
        self.clen = 0
        self.osc_len = 0
        self.in_state = 0
        self.title = ""
        self.icon_name = ""
        self.clipboard = ""
        self.selections = {}
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
        self.hist_drop_all()
        if self.hist != NULL:
            free(self.hist)
            self.hist = NULL

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
        cdef long limit = max(0, min(int(lines), 1 << 30))
        while self.hist_len > limit:
            row_decref(self.hist_pop())
            self.hist_dropped += 1
        self.hist_limit = <int>limit
        if limit == 0:
            self.hist_drop_all()
            self.hist_dropped = 0
            self.hist_cleared = False
            if self.hist != NULL:
                free(self.hist)
                self.hist = NULL
                self.hist_cap = 0

    def take_history(self):
        """(dropped, lines, cleared) since the previous call, as the twin: lines are
        (bytes a terminal shows the row with, soft-wrapped), oldest first."""
        cdef Buf b
        cdef Row *r
        cdef list lines = []
        cdef int i
        out = (self.hist_dropped, lines, bool(self.hist_cleared))
        if self.hist_len:
            b.cap = 256
            b.n = 0
            b.p = <char *>xmalloc(256)
            try:
                for i in range(self.hist_len):
                    r = self.hist[(self.hist_head + i) % self.hist_cap]
                    b.n = 0
                    put_history_line(&b, r)
                    lines.append((PyBytes_FromStringAndSize(b.p, b.n),
                                  (r.cells[r.width - 1].flags & F_WRAP) != 0))
            finally:
                free(b.p)
        self.hist_drop_all()
        self.hist_dropped = 0
        self.hist_cleared = False
        return out

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
        o.pstate = self.pstate
        memcpy(o.u8buf, self.u8buf, 8)
        o.u8n = self.u8n
        memcpy(o.params, self.params, sizeof(self.params))
        o.plen = self.plen
        memcpy(o.coll, self.coll, 8)
        o.clen = self.clen
        o.osc = self.osc
        if o.osc != NULL:
            o.osc.refcnt += 1
        o.osc_len = self.osc_len
        o.in_state = self.in_state
        o.pcount = 0
        o.title = self.title
        o.icon_name = self.icon_name
        o.clipboard = self.clipboard
        o.selections = self.selections
        o.title_initialized = self.title_initialized
        o.bell_count = self.bell_count
        o.replies = bytearray(self.replies)
        o.hist_limit = self.hist_limit   # pending history belongs to the original
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
        cdef DS *a = &self.ds
        cdef DS *b = &o.ds
        cdef int i
        if not (a.width == b.width and a.height == b.height and a.cur_row == b.cur_row
                and a.cur_col == b.cur_col and a.cursor_visible == b.cursor_visible
                and a.reverse_video == b.reverse_video and a.fg == b.fg and a.bg == b.bg
                and a.attrs == b.attrs and a.bracketed_paste == b.bracketed_paste
                and a.mouse_reporting == b.mouse_reporting and a.mouse_focus == b.mouse_focus
                and a.mouse_alt_scroll == b.mouse_alt_scroll
                and a.mouse_encoding == b.mouse_encoding):
            return False
        if self.bell_count != o.bell_count:
            return False
        for i in range(a.height):
            if not row_eq(self.rows[i], o.rows[i]):
                return False
        return self.title == o.title and self.clipboard == o.clipboard

    def dump(self):
        cdef DS *ds = &self.ds
        cdef int y, x
        cdef Row *r
        rows = []
        for y in range(ds.height):
            r = self.rows[y]
            rows.append([cell_tuple(r, &r.cells[x]) for x in range(ds.width)])
        return {
            "size": (ds.width, ds.height),
            "cursor": (ds.cur_row, ds.cur_col),
            "cursor_visible": bool(ds.cursor_visible),
            "rows": rows,
            "renditions": (ds.fg, ds.bg, ds.attrs),
            "title": self.title,
            "icon_name": self.icon_name,
            "clipboard": self.clipboard,
            "selections": dict(self.selections),
            "bell_count": self.bell_count,
            "scroll_region": (ds.top, ds.bottom),
            "next_print_will_wrap": bool(ds.npww),
            "modes": {
                "reverse_video": bool(ds.reverse_video),
                "bracketed_paste": bool(ds.bracketed_paste),
                "mouse_reporting": ds.mouse_reporting,
                "mouse_focus_event": bool(ds.mouse_focus),
                "mouse_alternate_scroll": bool(ds.mouse_alt_scroll),
                "mouse_encoding": ds.mouse_encoding,
                "application_cursor_keys": bool(ds.app_cursor_keys),
                "application_keypad": bool(ds.app_keypad),
                "auto_wrap": bool(ds.auto_wrap),
                "origin": bool(ds.origin),
                "insert": bool(ds.insert),
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
        return self.selections

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
        cdef Row *r = self.mut_row(y)
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
        return self.ds.cur_row

    @cursor_row.setter
    def cursor_row(self, value):
        self.ds.cur_row = <int>min(max(int(value), 0), self.ds.height - 1)

    @property
    def cursor_col(self):
        return self.ds.cur_col

    @cursor_col.setter
    def cursor_col(self, value):
        self.ds.cur_col = <int>min(max(int(value), 0), self.ds.width - 1)

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
        cdef int state = self.in_state
        for i in range(n):
            byte = p[i]
            if state == 2:
                state = 0
                if not self.ds.app_cursor_keys and 0x41 <= byte <= 0x44:
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
        self.in_state = state
        try:
            return PyBytes_FromStringAndSize(out, k)
        finally:
            free(out)

    # -- scrollback ring ------------------------------------------------------------
    cdef Row *hist_pop(self) noexcept:
        """Take the oldest kept row out of the ring (the caller owns its reference)."""
        cdef Row *r = self.hist[self.hist_head]
        self.hist_head = (self.hist_head + 1) % self.hist_cap
        self.hist_len -= 1
        return r

    cdef void hist_drop_all(self) noexcept:
        while self.hist_len:
            row_decref(self.hist_pop())
        self.hist_head = 0

    cdef Row *hist_push(self, Row *r) noexcept:
        """Keep r (its reference moves into the ring); the row evicted to stay within the
        limit, or NULL (the caller owns that reference)."""
        cdef Row *evicted = NULL
        cdef Row **grown
        cdef int cap, i
        if self.hist_len >= self.hist_limit:
            evicted = self.hist_pop()
            self.hist_dropped += 1
        if self.hist_len >= self.hist_cap:
            cap = self.hist_cap * 2 if self.hist_cap else 64
            if cap > self.hist_limit:
                cap = self.hist_limit
            grown = <Row **>xmalloc(<size_t>cap * sizeof(Row *))
            for i in range(self.hist_len):
                grown[i] = self.hist[(self.hist_head + i) % self.hist_cap]
            free(self.hist)
            self.hist = grown
            self.hist_cap = cap
            self.hist_head = 0
        self.hist[(self.hist_head + self.hist_len) % self.hist_cap] = r
        self.hist_len += 1
        return evicted

    cdef void clear_history(self) noexcept:
        """ED 3: everything pending is gone, and so is the count of what was dropped."""
        if self.hist_limit:
            self.hist_drop_all()
            self.hist_dropped = 0
            self.hist_cleared = True

    # -- rows ---------------------------------------------------------------------
    cdef inline Row *mut_row(self, int y) noexcept:
        cdef Row *r = self.rows[y]
        cdef Row *c
        if r.refcnt > 1:
            c = row_clone(r, r.width, 0)
            r.refcnt -= 1
            self.rows[y] = c
            return c
        return r

    cdef void reset_row(self, int y) noexcept:
        cdef Row *r = self.rows[y]
        cdef int i
        if r.refcnt == 1:
            r.gen = next_gen()
            r.n_ext = 0
            r.used = r.width if self.ds.bg else 0
            cell_blank(&r.cells[0], self.ds.bg)
            for i in range(1, r.width):
                r.cells[i] = r.cells[0]
        else:
            r.refcnt -= 1
            self.rows[y] = row_new(self.ds.width, self.ds.bg)

    cdef void erase_cells(self, int y, int start, int end) noexcept:
        cdef Row *r
        cdef int i
        if start < 0:
            start = 0
        if end > self.ds.width:
            end = self.ds.width
        if start >= end:
            return
        r = self.mut_row(y)
        if self.ds.bg and r.used < end:
            r.used = end
        cell_blank(&r.cells[start], self.ds.bg)
        for i in range(start + 1, end):
            r.cells[i] = r.cells[start]

    cdef void insert_lines(self, int y, int count) noexcept:
        cdef DS *ds = &self.ds
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
        blank = row_new(ds.width, ds.bg)
        blank.refcnt = count
        for i in range(y, y + count):
            self.rows[i] = blank

    cdef void delete_lines(self, int y, int count) noexcept:
        cdef DS *ds = &self.ds
        cdef int i
        cdef Row *blank
        cdef Row *evicted
        if y < ds.top or y > ds.bottom or count <= 0:
            return
        if count > ds.bottom - y + 1:
            count = ds.bottom - y + 1
        blank = NULL
        if y == 0 and self.hist_limit and self.alt_rows == NULL:
            # the rows move into the history ring; a row it evicts may serve as the blank
            for i in range(count):
                evicted = self.hist_push(self.rows[i])
                if evicted != NULL:
                    if (count == 1 and evicted.refcnt == 1 and evicted.width == ds.width):
                        blank = evicted
                    else:
                        row_decref(evicted)
        elif count == 1 and self.rows[y].refcnt == 1:
            blank = self.rows[y]   # recycle the row that scrolls off
        else:
            for i in range(y, y + count):
                row_decref(self.rows[i])
        if blank != NULL:
            blank.gen = next_gen()
            blank.n_ext = 0
            blank.used = blank.width if ds.bg else 0
            cell_blank(&blank.cells[0], ds.bg)
            for i in range(1, blank.width):
                blank.cells[i] = blank.cells[0]
        else:
            blank = row_new(ds.width, ds.bg)
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
        r = self.mut_row(y)
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
        r = self.mut_row(y)
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
        r = self.mut_row(y)
        if self.ds.bg:
            r.used = w
        memmove(&r.cells[col], &r.cells[col + n], <size_t>(w - col - n) * sizeof(Cell))
        for i in range(w - n, w):
            cell_blank(&r.cells[i], self.ds.bg)

    # -- cursor -------------------------------------------------------------------
    cdef inline void snap(self) noexcept:
        cdef DS *ds = &self.ds
        if ds.origin:
            if ds.cur_row < ds.top:
                ds.cur_row = ds.top
            if ds.cur_row > ds.bottom:
                ds.cur_row = ds.bottom
        else:
            if ds.cur_row < 0:
                ds.cur_row = 0
            if ds.cur_row > ds.height - 1:
                ds.cur_row = ds.height - 1
        if ds.cur_col < 0:
            ds.cur_col = 0
        if ds.cur_col > ds.width - 1:
            ds.cur_col = ds.width - 1

    cdef inline void move_row(self, long n, bint relative) noexcept:
        cdef DS *ds = &self.ds
        if n > 100000:
            n = 100000
        if n < -100000:
            n = -100000
        if relative:
            ds.cur_row += <int>n
        else:
            ds.cur_row = <int>n + (ds.top if ds.origin else 0)
        self.snap()
        ds.comb_row = ds.cur_row
        ds.comb_col = ds.cur_col
        ds.npww = 0

    cdef inline void move_col(self, long n, bint relative) noexcept:
        cdef DS *ds = &self.ds
        if n > 100000:
            n = 100000
        if n < -100000:
            n = -100000
        if relative:
            ds.cur_col += <int>n
        else:
            ds.cur_col = <int>n
        self.snap()
        ds.comb_row = ds.cur_row
        ds.comb_col = ds.cur_col
        ds.npww = 0

    cdef inline void advance(self, int n) noexcept:
        cdef DS *ds = &self.ds
        ds.comb_row = ds.cur_row
        ds.comb_col = ds.cur_col
        ds.cur_col += n
        ds.npww = ds.cur_col >= ds.width
        self.snap()

    cdef void autoscroll(self, int n) noexcept:
        cdef DS *ds = &self.ds
        cdef int row = ds.cur_row, excess
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
        for col in range(self.ds.cur_col + 1, self.ds.width):
            if self.tabs[col]:
                count -= 1
                if count <= 0:
                    return col
        return -1

    cdef int prev_tab(self, long count) noexcept:
        cdef int col = self.ds.cur_col - 1
        while col > 0:
            if self.tabs[col]:
                count -= 1
                if count <= 0:
                    return col
            col -= 1
        return 0

    cdef void tab_to(self, int col, int if_none) noexcept:
        cdef int wrap = self.ds.npww
        self.move_col(if_none if col < 0 else col, False)
        self.ds.npww = wrap

    # -- resets / resize ------------------------------------------------------------
    cdef void full_reset(self) noexcept:
        cdef int w = self.ds.width, h = self.ds.height, i
        self._free_screen(self.alt_rows, h)
        self.alt_rows = NULL
        self._free_screen(self.rows, h)
        self.rows = NULL
        ds_default(&self.ds, w, h)
        self.rows = <Row **>xmalloc(<size_t>h * sizeof(Row *))
        cdef Row *blank = row_new(w, 0)
        blank.refcnt = h
        for i in range(h):
            self.rows[i] = blank
        for i in range(w):
            self.tabs[i] = (i % 8 == 0)
        self.title = ""
        self.clipboard = ""
        self.selections = {}

    cdef void soft_reset(self) noexcept:
        cdef DS *ds = &self.ds
        ds.insert = 0
        ds.origin = 0
        ds.cursor_visible = 1
        ds.app_cursor_keys = 0
        ds.app_keypad = 0
        ds.top = 0
        ds.bottom = ds.height - 1
        ds.fg = 0
        ds.bg = 0
        ds.attrs = 0
        ds.s_col = 0
        ds.s_row = 0
        ds.s_fg = 0
        ds.s_bg = 0
        ds.s_attrs = 0
        ds.s_auto_wrap = 1
        ds.s_origin = 0

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
            blank = row_new(w, self.ds.bg)
            blank.refcnt = h - keep
            for i in range(keep, h):
                nr[i] = blank
        free(rows)
        return nr

    cdef void _resize(self, int w, int h):
        cdef DS *ds = &self.ds
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
        if ds.cur_row > h - 1:
            ds.cur_row = h - 1
        if ds.cur_col > w - 1:
            ds.cur_col = w - 1
        if ds.comb_row >= h or ds.comb_col >= w:
            ds.comb_row = -1
            ds.comb_col = -1

    # -- alternate screen (beyond Mosh, as in the twin) -----------------------------
    cdef void fill_blank(self, uint32_t bg) noexcept:
        cdef int i, h = self.ds.height
        cdef Row *blank = row_new(self.ds.width, bg)
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
            blank = row_new(self.ds.width, 0)
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

    cdef void save_cursor(self, bint alt) noexcept:
        cdef DS *ds = &self.ds
        if alt:
            ds.a_col = ds.cur_col
            ds.a_row = ds.cur_row
            ds.a_fg = ds.fg
            ds.a_bg = ds.bg
            ds.a_attrs = ds.attrs
            ds.a_auto_wrap = ds.auto_wrap
            ds.a_origin = ds.origin
        else:
            ds.s_col = ds.cur_col
            ds.s_row = ds.cur_row
            ds.s_fg = ds.fg
            ds.s_bg = ds.bg
            ds.s_attrs = ds.attrs
            ds.s_auto_wrap = ds.auto_wrap
            ds.s_origin = ds.origin

    cdef void restore_cursor(self, bint alt) noexcept:
        cdef DS *ds = &self.ds
        if alt:
            ds.cur_col = ds.a_col
            ds.cur_row = ds.a_row
            ds.fg = ds.a_fg
            ds.bg = ds.a_bg
            ds.attrs = ds.a_attrs
            ds.auto_wrap = ds.a_auto_wrap
            ds.origin = ds.a_origin
        else:
            ds.cur_col = ds.s_col
            ds.cur_row = ds.s_row
            ds.fg = ds.s_fg
            ds.bg = ds.s_bg
            ds.attrs = ds.s_attrs
            ds.auto_wrap = ds.s_auto_wrap
            ds.origin = ds.s_origin
        self.snap()
        ds.comb_row = ds.cur_row
        ds.comb_col = ds.cur_col

    # -- printing -----------------------------------------------------------------
    cdef void print_ascii(self, const uint8_t *p, Py_ssize_t n) noexcept:
        cdef DS *ds = &self.ds
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
            if ds.npww or ds.insert:
                self.print_char(p[i], 1)
                i += 1
                continue
            w = ds.width
            col = ds.cur_col
            row = self.mut_row(ds.cur_row)
            cells = row.cells
            m = w - col
            if m > n - i:
                m = n - i
            for k in range(m):
                t.u[0] = <char>p[i + k]
                cells[col + k] = t
            i += m
            col += <int>m
            if row.used < col:
                row.used = col
            ds.comb_row = ds.cur_row
            ds.comb_col = col - 1
            if col >= w:
                ds.npww = 1
                ds.cur_col = w - 1
            else:
                ds.cur_col = col

    cdef void print_char(self, uint32_t c, int width) noexcept:
        cdef DS *ds = &self.ds
        cdef Row *row
        cdef Cell *cell
        cdef int col
        cdef char enc[4]
        if ds.auto_wrap and ds.npww:
            self.set_wrap(ds.cur_row, True)
            self.move_col(0, False)
            self.autoscroll(1)
        elif ds.auto_wrap and width == 2 and ds.cur_col == ds.width - 1:
            self.erase_cells(ds.cur_row, ds.cur_col, ds.width)
            self.set_wrap(ds.cur_row, False)
            self.move_col(0, False)
            self.autoscroll(1)
        col = ds.cur_col
        if ds.insert:
            self.insert_cells(ds.cur_row, col, width)
        row = self.mut_row(ds.cur_row)
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
        self.advance(width)

    cdef void print_combining(self, uint32_t c) noexcept:
        cdef DS *ds = &self.ds
        cdef int y = ds.comb_row, x = ds.comb_col, n
        cdef Row *row
        cdef Cell *cell
        cdef char enc[4]
        if not (0 <= y < ds.height and 0 <= x < ds.width):
            return
        row = self.mut_row(y)
        if row.used <= x:
            row.used = x + 1
        cell = &row.cells[x]
        if cell.len == 0:
            cell.flags |= F_FALLBACK
            self.advance(1)
        if cell.len < CONTENTS_MAX:
            n = utf8_encode(c, enc)
            cell_append(row, cell, enc, n)

    cdef inline void print_cp(self, uint32_t c) noexcept:
        cdef int w = char_width(c)
        if w < 0:
            return
        if w == 0:
            self.print_combining(c)
        else:
            self.print_char(c, w)

    # -- controls -----------------------------------------------------------------
    cdef void execute(self, uint32_t c) noexcept:
        cdef DS *ds = &self.ds
        if c == 0x09:
            self.tab_to(self.next_tab(1), ds.width - 1)
            return
        ds.npww = 0
        if c == 0x07:
            self.bell_count += 1
        elif c == 0x08:
            self.move_col(-1, True)
        elif c == 0x0A or c == 0x0B or c == 0x0C or c == 0x84:
            self.autoscroll(1)
        elif c == 0x0D:
            self.move_col(0, False)
        elif c == 0x85:
            self.move_col(0, False)
            self.autoscroll(1)
        elif c == 0x88:
            self.tabs[ds.cur_col] = 1
        elif c == 0x8D:
            self.autoscroll(-1)

    cdef void esc_dispatch(self, uint32_t c) noexcept:
        cdef DS *ds = &self.ds
        cdef int y, x
        cdef Row *r
        cdef Cell t
        self.pstate = S_GROUND
        if self.clen == 0 and 0x40 <= c <= 0x5F:
            self.execute(c + 0x40)
            return
        ds.npww = 0
        if self.clen >= 8 or c > 0xFF:
            return
        if self.clen == 0:
            if c == 0x37:
                self.save_cursor(False)
            elif c == 0x38:
                self.restore_cursor(False)
            elif c == 0x63:
                self.full_reset()
            elif c == 0x3D:
                ds.app_keypad = 1
            elif c == 0x3E:
                ds.app_keypad = 0
        elif self.clen == 1 and self.coll[0] == b'#' and c == 0x38:
            memset(&t, 0, sizeof(Cell))
            t.bg = ds.bg
            t.len = 1
            t.u[0] = b'E'
            for y in range(ds.height):
                r = self.mut_row(y)
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
        if n >= 3 and b[0] == 0x35 and b[1] == 0x32 and b[2] == 0x3B:   # 52;
            self.clipboard, self.selections = clipboard_module()(
                PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, b, n),
                self.clipboard, self.selections)
            return
        if n >= 1 and b[0] == 0x3B:
            command = 0
            offset = 1
        elif n >= 2 and b[1] == 0x3B and 0x30 <= b[0] <= 0x39:
            command = b[0] - 0x30
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
        for i in range(self.plen):
            ch = self.params[i]
            if ch == b';':
                self.pv[count] = <int>(v if v <= 65535 else -1)
                count += 1
                v = -1
            else:
                if v < 0:
                    v = 0
                if v <= 65535:
                    v = v * 10 + (ch - 48)
        self.pv[count] = <int>(v if v <= 65535 else -1)
        self.pcount = count + 1

    cdef inline int arg(self, int i, int default) noexcept:
        cdef int v
        if i < self.pcount:
            v = self.pv[i]
            if v >= 1:
                return v
        return default

    cdef void csi_dispatch(self, uint32_t c) noexcept:
        cdef DS *ds = &self.ds
        cdef char p0
        self.pstate = S_GROUND
        if self.clen >= 8 or c > 0xFF:
            ds.npww = 0
            return
        if self.clen == 0:
            if not (c == 0x49 or c == 0x5A or c == 0x67 or c == 0x6D):
                ds.npww = 0
            self.parse_params()
            self.csi_plain(c)
        elif self.clen == 1:
            p0 = self.coll[0]
            if not (p0 == b'?' and (c == 0x68 or c == 0x6C)):
                ds.npww = 0
            self.parse_params()
            if p0 == b'?' and (c == 0x68 or c == 0x6C):
                self.decset(c == 0x68)
            elif p0 == b'>' and c == 0x63:
                self.replies += b"\x1b[>1;10;0c"
            elif p0 == b'!' and c == 0x70:
                self.soft_reset()
        else:
            ds.npww = 0

    cdef void csi_plain(self, uint32_t c) noexcept:
        cdef DS *ds = &self.ds
        cdef int mode, y, x, i, top, bottom
        if c == 0x40:      # @ ICH
            self.insert_cells(ds.cur_row, ds.cur_col, self.arg(0, 1))
        elif c == 0x41:    # A
            self.move_row(-self.arg(0, 1), True)
        elif c == 0x42:    # B
            self.move_row(self.arg(0, 1), True)
        elif c == 0x43:    # C
            self.move_col(self.arg(0, 1), True)
        elif c == 0x44:    # D
            self.move_col(-self.arg(0, 1), True)
        elif c == 0x47 or c == 0x60:   # G `
            self.move_col(self.arg(0, 1) - 1, False)
        elif c == 0x48 or c == 0x66:   # H f
            self.move_row(self.arg(0, 1) - 1, False)
            self.move_col(self.arg(1, 1) - 1, False)
        elif c == 0x49:    # I CHT
            self.tab_to(self.next_tab(self.arg(0, 1)), ds.width - 1)
        elif c == 0x5A:    # Z CBT
            self.tab_to(self.prev_tab(self.arg(0, 1)), 0)
        elif c == 0x4A:    # J ED
            mode = self.arg(0, 0)
            y = ds.cur_row
            x = ds.cur_col
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
        elif c == 0x4B:    # K EL
            mode = self.arg(0, 0)
            if mode == 0:
                self.erase_cells(ds.cur_row, ds.cur_col, ds.width)
            elif mode == 1:
                self.erase_cells(ds.cur_row, 0, ds.cur_col + 1)
            elif mode == 2:
                self.reset_row(ds.cur_row)
        elif c == 0x4C:    # L IL
            self.insert_lines(ds.cur_row, self.arg(0, 1))
            self.move_col(0, False)
        elif c == 0x4D:    # M DL
            self.delete_lines(ds.cur_row, self.arg(0, 1))
            self.move_col(0, False)
        elif c == 0x50:    # P DCH
            self.delete_cells(ds.cur_row, ds.cur_col, self.arg(0, 1))
        elif c == 0x53:    # S
            self.scroll(self.arg(0, 1))
        elif c == 0x54:    # T
            self.scroll(-self.arg(0, 1))
        elif c == 0x58:    # X ECH
            x = ds.cur_col
            self.erase_cells(ds.cur_row, x, x + self.arg(0, 1))
        elif c == 0x63:    # c DA1
            self.replies += b"\x1b[?62c"
        elif c == 0x64:    # d VPA
            self.move_row(self.arg(0, 1) - 1, False)
        elif c == 0x67:    # g TBC
            mode = self.arg(0, 0)
            if mode == 0:
                self.tabs[ds.cur_col] = 0
            elif mode == 3:
                memset(self.tabs, 0, ds.width)
                ds.default_tabs = 0
        elif c == 0x68 or c == 0x6C:   # h l SM RM
            for i in range(self.pcount):
                if self.pv[i] == 4:
                    ds.insert = c == 0x68
        elif c == 0x6D:    # m SGR
            self.sgr()
        elif c == 0x6E:    # n DSR
            mode = self.arg(0, 0)
            if mode == 5:
                self.replies += b"\x1b[0n"
            elif mode == 6:
                self.replies += b"\x1b[%d;%dR" % (ds.cur_row + 1, ds.cur_col + 1)
        elif c == 0x72:    # r DECSTBM
            top = self.arg(0, 1)
            bottom = self.arg(1, ds.height)
            if bottom <= top or top > ds.height:
                return
            ds.top = top - 1
            ds.bottom = (bottom if bottom < ds.height else ds.height) - 1
            self.move_row(0, False)
            self.move_col(0, False)

    cdef void decset(self, bint value) noexcept:
        cdef DS *ds = &self.ds
        cdef int i, mode, v = 1 if value else 0
        for i in range(self.pcount):
            mode = self.pv[i]
            if mode == 1:
                ds.app_cursor_keys = v
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
                ds.origin = v
            elif mode == 7:
                ds.auto_wrap = v
            elif mode == 25:
                ds.cursor_visible = v
            elif mode == 9 or 1000 <= mode <= 1003:
                ds.mouse_reporting = mode if value else 0
            elif mode == 1004:
                ds.mouse_focus = v
            elif mode == 1005 or mode == 1006 or mode == 1015:
                ds.mouse_encoding = mode if value else 0
            elif mode == 1007:
                ds.mouse_alt_scroll = v
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
                        self.save_cursor(True)
                    self.enter_alternate(True)
                elif self.alt_rows != NULL:
                    self.leave_alternate()
                    self.restore_cursor(True)

    cdef void sgr(self) noexcept:
        cdef DS *ds = &self.ds
        cdef uint32_t fg = ds.fg, bg = ds.bg, attrs = ds.attrs, value
        cdef int count = self.pcount, i = 0, v, index
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
        if self.pstate == S_OSC:
            self.pstate = S_GROUND
            self.osc_dispatch()
            self.osc_len = 0
            if self.osc != NULL and self.osc.cap > OSC_KEEP:
                osc_decref(self.osc)
                self.osc = NULL
        self.pstate = state
        if state == S_ESCAPE or state == S_CSI_ENTRY:
            self.plen = 0
            self.clen = 0
        elif state == S_OSC:
            self.osc_len = 0

    cdef inline void collect(self, uint32_t c) noexcept:
        if self.clen < 8 and c <= 0xFF:
            self.coll[self.clen] = <char>c
            self.clen += 1

    cdef inline void param(self, uint32_t c) noexcept:
        if self.plen < PARAMS_MAX:
            self.params[self.plen] = <char>c
            self.plen += 1

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
            self.enter(S_GROUND)
            self.execute(c)
            return
        if c == 0x1B:
            self.enter(S_ESCAPE)
            return
        if 0x90 <= c <= 0x9F:
            if c == 0x9C:
                self.enter(S_GROUND)
            elif c == 0x9D:
                self.enter(S_OSC)
            elif c == 0x9B:
                self.enter(S_CSI_ENTRY)
            else:   # 0x90 DCS, 0x98 SOS, 0x9E PM, 0x9F APC
                self.enter(S_IGNORE)
            return
        state = self.pstate
        k = 0x41 if c >= 0xA0 else c
        if state == S_GROUND:
            if k < 0x20:
                self.execute(c)
            elif k != 0x7F:
                self.print_cp(c)
            return
        if state == S_OSC:
            if k >= 0x20:
                self.osc_put(c)
            elif k == 0x07:
                self.enter(S_GROUND)
            return
        if state == S_IGNORE:
            return
        if k < 0x20:   # C0' (CAN, SUB, ESC were taken above)
            self.execute(c)
            return
        if state == S_ESCAPE:
            if 0x20 <= k <= 0x2F:
                self.collect(c)
                self.pstate = S_ESC_INT
            elif k == 0x5B:
                self.enter(S_CSI_ENTRY)
            elif k == 0x5D:
                self.enter(S_OSC)
            elif k == 0x50 or k == 0x58 or k == 0x5E or k == 0x5F:
                self.enter(S_IGNORE)
            elif 0x30 <= k <= 0x7E:
                self.esc_dispatch(c)
        elif state == S_ESC_INT:
            if 0x20 <= k <= 0x2F:
                self.collect(c)
            elif 0x30 <= k <= 0x7E:
                self.esc_dispatch(c)
        elif state == S_CSI_ENTRY or state == S_CSI_PARAM:
            if 0x30 <= k <= 0x39 or k == 0x3B:
                self.param(c)
                self.pstate = S_CSI_PARAM
            elif 0x3C <= k <= 0x3F:
                if state == S_CSI_ENTRY:
                    self.collect(c)
                    self.pstate = S_CSI_PARAM
                else:
                    self.pstate = S_CSI_IGNORE
            elif k == 0x3A:
                self.pstate = S_CSI_IGNORE
            elif 0x20 <= k <= 0x2F:
                self.collect(c)
                self.pstate = S_CSI_INT
            elif 0x40 <= k <= 0x7E:
                self.csi_dispatch(c)
        elif state == S_CSI_INT:
            if 0x20 <= k <= 0x2F:
                self.collect(c)
            elif 0x30 <= k <= 0x3F:
                self.pstate = S_CSI_IGNORE
            elif 0x40 <= k <= 0x7E:
                self.csi_dispatch(c)
        elif state == S_CSI_IGNORE:
            if 0x40 <= k <= 0x7E:
                self.pstate = S_GROUND

    # -- UTF-8 (glibc mbrtowc semantics, terminal.md 2.1) ---------------------------
    cdef inline void emit(self, uint32_t v) noexcept:
        if v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
            v = 0xFFFD
        self.step(v)

    cdef int u8_try(self, uint32_t *value) noexcept:
        """consumed bytes if valid (value set); 0 incomplete; -1 invalid."""
        cdef uint8_t lead = self.u8buf[0], b
        cdef int need, i, n = self.u8n
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
            b = self.u8buf[i]
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

    cdef void u8_byte(self, uint8_t byte) noexcept:
        cdef int r
        cdef uint32_t v
        if self.u8n == 0 and byte < 0x80:
            self.step(byte)
            return
        if self.u8n >= 8:   # cannot happen (sequences are at most 6 bytes); stay safe
            self.u8n = 0
        self.u8buf[self.u8n] = byte
        self.u8n += 1
        while self.u8n:
            r = self.u8_try(&v)
            if r == 0:
                break
            if r < 0:
                if self.u8n > 1:
                    self.u8buf[0] = self.u8buf[self.u8n - 1]
                    self.u8n = 1
                else:
                    self.u8n = 0
                self.emit(0xFFFD)
                continue
            memmove(self.u8buf, self.u8buf + r, self.u8n - r)
            self.u8n -= r
            self.emit(v)

    cdef void _feed(self, const uint8_t *p, Py_ssize_t n) noexcept:
        cdef Py_ssize_t i = 0, j
        cdef uint8_t b, b1, b2, b3
        cdef uint32_t cp
        while i < n:
            b = p[i]
            if self.u8n == 0:
                if b < 0x80:
                    if self.pstate == S_GROUND and 0x20 <= b < 0x7F:
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
                        if cp >= 0xA0 and self.pstate == S_GROUND:
                            self.print_cp(cp)
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
                            if self.pstate == S_GROUND:
                                self.print_cp(cp)
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
                            if self.pstate == S_GROUND:
                                self.print_cp(cp)
                            else:
                                self.step(cp)
                            i += 4
                            continue
            self.u8_byte(b)
            i += 1


# ---------------------------------------------------------------------------------
# the display differ (terminal.md 4; server configuration: ech, bce, title)

ctypedef struct Buf:
    char *p
    Py_ssize_t n
    Py_ssize_t cap

cdef void buf_grow(Buf *b, Py_ssize_t extra) noexcept:
    cdef Py_ssize_t cap = b.cap * 2
    if cap < b.n + extra:
        cap = b.n + extra + 256
    b.p = <char *>realloc(b.p, <size_t>cap)
    if b.p == NULL:
        abort()
    b.cap = cap

cdef inline void put(Buf *b, const char *s, Py_ssize_t n) noexcept:
    if b.n + n > b.cap:
        buf_grow(b, n)
    memcpy(b.p + b.n, s, n)
    b.n += n

cdef inline void putc(Buf *b, char c) noexcept:
    if b.n + 1 > b.cap:
        buf_grow(b, 1)
    b.p[b.n] = c
    b.n += 1

cdef inline void puts(Buf *b, const char *s) noexcept:
    cdef Py_ssize_t n = 0
    while s[n]:
        n += 1
    put(b, s, n)

cdef void putn(Buf *b, long v) noexcept:
    cdef char tmp[24]
    cdef int k = 0, i
    if v < 0:
        putc(b, b'-')
        v = -v
    if v == 0:
        putc(b, b'0')
        return
    while v > 0:
        tmp[k] = <char>(48 + v % 10)
        v //= 10
        k += 1
    for i in range(k - 1, -1, -1):
        putc(b, tmp[i])

cdef inline void putrep(Buf *b, char c, long n) noexcept:
    cdef long i
    if n <= 0:
        return
    if b.n + n > b.cap:
        buf_grow(b, n)
    for i in range(n):
        b.p[b.n + i] = c
    b.n += n


cdef void put_mode_switch(Buf *b, long old_mode, long new_mode, const char *all_off) noexcept:
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


cdef void put_color(Buf *b, uint32_t v, int base) noexcept:
    # base 30 (fg) or 40 (bg)
    if v & 0x1000000:
        putc(b, b';')
        putn(b, base + 8)
        puts(b, ";2;")
        putn(b, (v >> 16) & 0xFF)
        putc(b, b';')
        putn(b, (v >> 8) & 0xFF)
        putc(b, b';')
        putn(b, v & 0xFF)
    elif v > <uint32_t>(base + 7):
        putc(b, b';')
        putn(b, base + 8)
        puts(b, ";5;")
        putn(b, v - base)
    elif v:
        putc(b, b';')
        putn(b, v)


cdef void put_sgr(Buf *b, uint32_t fg, uint32_t bg, uint32_t attrs) noexcept:
    puts(b, "\x1b[0")
    if attrs & 1:
        puts(b, ";1")
    if attrs & 4:
        puts(b, ";3")
    if attrs & 8:
        puts(b, ";4")
    if attrs & 16:
        puts(b, ";5")
    if attrs & 32:
        puts(b, ";7")
    if attrs & 64:
        puts(b, ";8")
    put_color(b, fg, 30)
    put_color(b, bg, 40)
    putc(b, b'm')


cdef void put_history_line(Buf *b, const Row *r) noexcept:
    """A row as a scrollback line, as the twin's display.history_line: SGR where the
    renditions change, the UTF-8 text, trailing blanks (empty or space cells in the default
    rendition) trimmed, ESC[0m if styled."""
    cdef int end = r.used, x = 0
    cdef const Cell *c
    cdef uint32_t fg = 0, bg = 0, attrs = 0
    cdef bint styled = False
    while end > 0:
        c = &r.cells[end - 1]
        if (c.len and not (c.len == 1 and c.u[0] == b' ')) or c.fg or c.bg or c.attrs:
            break
        end -= 1
    while x < end:
        c = &r.cells[x]
        if c.fg != fg or c.bg != bg or c.attrs != attrs:
            fg = c.fg
            bg = c.bg
            attrs = c.attrs
            put_sgr(b, fg, bg, attrs)
            styled = True
        if c.len == 0:
            putc(b, b' ')
        else:
            if c.flags & F_FALLBACK:
                put(b, "\xc2\xa0", 2)
            put(b, cell_data(r, c), c.len)
        x += 2 if c.flags & F_WIDE else 1
    if styled:
        puts(b, "\x1b[0m")


cdef inline void update_rendition(Frame *f, uint32_t fg, uint32_t bg, uint32_t attrs, bint force) noexcept:
    if force or f.fg != fg or f.bg != bg or f.attrs != attrs:
        put_sgr(&f.out, fg, bg, attrs)
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


cdef inline void append_cell(Frame *f, const Row *r, const Cell *c) noexcept:
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


cdef bint put_row(Frame *f, bint initialized, Emulator fe, int y, Row *old, bint wrap) noexcept:
    cdef Row *row = fe.rows[y]
    cdef Cell *cells = row.cells
    cdef Cell *cell
    cdef int width = fe.ds.width, x = 0, cw, clear_count = 0
    cdef bint wrap_this, wrote_last = False, can_erase
    cdef uint32_t bfg = 0, bbg = 0, battrs = 0
    wrap_this = (cells[width - 1].flags & F_WRAP) != 0
    if wrap:
        cell = &cells[0]
        update_rendition(f, cell.fg, cell.bg, cell.attrs, False)
        append_cell(f, row, cell)
        x += cell_width(cell)
        f.x += cell_width(cell)
        if x >= width:  # (1- or 2-column screens) the wrapped-in cell fills the row
            return end_row(f, fe, y, wrap_this)
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
        append_cell(f, row, cell)
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
        return end_row(f, fe, y, wrap_this)
    return False


cdef bint end_row(Frame *f, Emulator fe, int y, bint wrap_this) noexcept:
    """The last cell of row y was written: soft-wrap (True) or CR LF to the next row."""
    if y >= fe.ds.height - 1:
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
              has_ech=True, has_bce=True, has_title=True, clipboard_selections=False):
    """Bytes that turn a terminal showing ``last`` into one showing ``new``.

    Server configuration by default (ECH, BCE, titles); the client passes its
    terminal's capabilities. ``clipboard_selections`` (a pymosh peer): OSC 52 writes for
    every selection; otherwise Mosh's selection ``c`` only.
    """
    cdef bint init = bool(initialized)
    cdef Frame f
    cdef DS *lds = &last.ds
    cdef DS *nds = &new.ds
    cdef int width = nds.width, height = nds.height
    cdef int i, row, lines_scrolled = 0, scroll_height = 0, region_height, bottom_margin
    cdef int frame_y = 0
    cdef Row **rows = NULL
    cdef Row *blank = NULL
    cdef bint wrap = False
    memset(&f, 0, sizeof(Frame))
    f.out.cap = 1024
    f.out.p = <char *>xmalloc(1024)
    f.out.n = 0
    f.cursor_visible = lds.cursor_visible
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
            if new.selections is not last.selections:
                clipboard_module()
                put_title(&f.out, _changed_writes(last.selections, new.selections))
        elif new.clipboard != last.clipboard:
            puts(&f.out, "\x1b]52;c;")
            put_title(&f.out, new.clipboard)
            putc(&f.out, 7)
        if not init or nds.reverse_video != lds.reverse_video:
            puts(&f.out, "\x1b[?5h" if nds.reverse_video else "\x1b[?5l")
        if not init or nds.width != lds.width or nds.height != lds.height:
            puts(&f.out, "\x1b[r\x1b[0m\x1b[H\x1b[2J")
            init = False
            f.x = 0
            f.y = 0
            f.fg = 0
            f.bg = 0
            f.attrs = 0
        else:
            f.x = lds.cur_col
            f.y = lds.cur_row
            f.fg = lds.fg
            f.bg = lds.bg
            f.attrs = lds.attrs
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
            if scroll_height:
                frame_y = scroll_height
                if lines_scrolled:
                    blank = row_new(width, 0)
                    update_rendition(&f, 0, 0, 0, True)
                    bottom_margin = lines_scrolled + scroll_height - 1
                    if bottom_margin == height - 1 and f.y == bottom_margin:
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
                    for i in range(bottom_margin + 1):
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

        if not init or nds.cur_row != f.y or nds.cur_col != f.x:
            append_move(&f, nds.cur_row, nds.cur_col, width)
        if not init or nds.cursor_visible != f.cursor_visible:
            puts(&f.out, "\x1b[?25h" if nds.cursor_visible else "\x1b[?25l")
        update_rendition(&f, nds.fg, nds.bg, nds.attrs, not init)
        if not init or nds.bracketed_paste != lds.bracketed_paste:
            puts(&f.out, "\x1b[?2004h" if nds.bracketed_paste else "\x1b[?2004l")
        if not init or nds.mouse_reporting != lds.mouse_reporting:
            put_mode_switch(&f.out, lds.mouse_reporting, nds.mouse_reporting,
                            "\x1b[?1003l\x1b[?1002l\x1b[?1001l\x1b[?1000l")
        if not init or nds.mouse_focus != lds.mouse_focus:
            puts(&f.out, "\x1b[?1004h" if nds.mouse_focus else "\x1b[?1004l")
        if not init or nds.mouse_encoding != lds.mouse_encoding:
            put_mode_switch(&f.out, lds.mouse_encoding, nds.mouse_encoding,
                            "\x1b[?1015l\x1b[?1006l\x1b[?1005l")
        return PyBytes_FromStringAndSize(f.out.p, f.out.n)
    finally:
        free(f.out.p)
        if rows != NULL:
            free(rows)
        if blank != NULL:
            free(blank)


def open_terminal(term=None):
    """What the client writes to its tty on start (the twin's terminfo logic)."""
    from pymosh.terminal import display
    return display.open_terminal(term)


def close_terminal(term=None):
    """What the client writes to its tty on exit (the twin's terminfo logic)."""
    from pymosh.terminal import display
    return display.close_terminal(term)
