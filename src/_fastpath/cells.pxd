# cython: language_level=3
"""Cells and rows of the fast-path framebuffer (the twin: ``pymosh.terminal.framebuffer``).

* a cell is a 24-byte C struct (renditions, flags, UTF-8 contents inline up to INLINE
  bytes; longer grapheme clusters live in a small per-row side table);
* a row is one malloc'd block (header + contiguous cells) with a 64-bit generation number
  and a reference count; snapshots share rows and clone them on first write.

Everything here is ``cdef inline``: each module that cimports it gets its own copy, so the
emulator's hot loop and the display differ call no function across modules.
"""

from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset, memcmp
from libc.stdlib cimport malloc, realloc, free, abort

cdef enum:
    INLINE = 12            # contents bytes stored inside the cell
    EXT_BYTES = 39         # contents bytes of a side-table entry (the twin's CELL_BYTES_MAX)

# cell flags (the twin's WIDE, FALLBACK and WRAP tuple fields, and "contents in ext")
cdef enum:
    F_WIDE = 1
    F_FALLBACK = 2
    F_WRAP = 4
    F_EXT = 8

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
    # (emulator) the row's scrollback record (the emulator's row_encode of cells [0,
    # rec_col)) built as characters were printed left to right (and marks added to the
    # last of them): rows leaving the screen are copied, not encoded; rec_n -1: none
    # (any other write to the row ends it)
    char *rec          # rec_cap bytes in the row's allocation, after the cells
    int rec_n
    int rec_cap
    int rec_col
    int rec_last       # the column of the record's last cell (-1: none)
    uint32_t rec_attrs     # renditions of the record's last cell
    uint64_t rec_colours   # (fg, bg)

cdef inline void *xmalloc(size_t n) noexcept nogil:
    cdef void *p = malloc(n if n else 1)
    if p == NULL:
        abort()
    return p


cdef inline void cell_blank(Cell *c, uint32_t bg) noexcept nogil:
    memset(c, 0, sizeof(Cell))
    c.bg = bg


cdef inline void cells_blank(Cell *cells, int n, uint32_t bg) noexcept nogil:
    """n blank cells of background bg (the default blank is all zero bytes: one memset)."""
    cdef int i
    if n <= 0:
        return
    if bg == 0:
        memset(cells, 0, <size_t>n * sizeof(Cell))
        return
    cell_blank(&cells[0], bg)
    for i in range(1, n):
        cells[i] = cells[0]


cdef inline int row_rec_cap(int width) noexcept nogil:
    # room for a style record before every cell (coloured ``ls``: two a name), so colours
    # alone never end a record
    return 11 * width + 32


cdef inline void row_rec_reset(Row *r, uint32_t bg) noexcept nogil:
    """r was blanked with background bg: an empty record (none if bg: blanks in colour)."""
    r.rec_n = -1 if bg else 0
    r.rec_col = 0
    r.rec_last = -1
    r.rec_attrs = 0
    r.rec_colours = 0


cdef inline Row *row_new(int width, uint32_t bg, uint64_t gen) noexcept:
    cdef int cap = row_rec_cap(width)
    cdef Row *r = <Row *>xmalloc(sizeof(Row) + <size_t>width * sizeof(Cell) + <size_t>cap)
    cdef int i
    r.refcnt = 1
    r.gen = gen
    r.width = width
    r.n_ext = 0
    r.cap_ext = 0
    r.used = width if bg else 0
    r.ext = NULL
    r.cells = <Cell *>((<char *>r) + sizeof(Row))
    r.rec = <char *>(r.cells + width)
    r.rec_cap = cap
    row_rec_reset(r, bg)
    cells_blank(r.cells, width, bg)
    return r


cdef inline Row *row_clone(Row *src, int width, uint32_t pad_bg) noexcept:
    """Copy of src with ``width`` cells (same gen); extra cells blank with pad_bg."""
    cdef int cap = row_rec_cap(width)
    cdef Row *r = <Row *>xmalloc(sizeof(Row) + <size_t>width * sizeof(Cell) + <size_t>cap)
    cdef int i, n = src.width if src.width < width else width
    r.refcnt = 1
    r.gen = src.gen
    r.width = width
    r.used = width if (pad_bg and width > n) or src.used > width else src.used
    r.cells = <Cell *>((<char *>r) + sizeof(Row))
    r.rec = <char *>(r.cells + width)
    r.rec_cap = cap
    r.rec_n = -1
    if width == src.width and src.rec_n >= 0:  # the same cells: the same record
        memcpy(r.rec, src.rec, <size_t>src.rec_n)
        r.rec_n = src.rec_n
        r.rec_col = src.rec_col
        r.rec_last = src.rec_last
        r.rec_attrs = src.rec_attrs
        r.rec_colours = src.rec_colours
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


cdef inline void row_ext_compact(Row *r) noexcept:
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


cdef inline int row_ext_alloc(Row *r) noexcept:
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


cdef inline void cell_set_bytes(Row *r, Cell *c, const char *s, int n) noexcept:
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


cdef inline void cell_append(Row *r, Cell *c, const char *s, int n) noexcept:
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


cdef inline bint row_eq(const Row *a, const Row *b) noexcept:
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
    """c's UTF-8 bytes into out[:4] (one 4-byte store, zero padded: a reader of those
    bytes waits for no partial stores); their count."""
    cdef uint32_t w
    cdef int n
    if c < 0x80:
        w = c
        n = 1
    elif c < 0x800:
        w = (0xC0 | (c >> 6)) | (0x80 | (c & 0x3F)) << 8
        n = 2
    elif c < 0x10000:
        w = (0xE0 | (c >> 12)) | (0x80 | ((c >> 6) & 0x3F)) << 8 | (0x80 | (c & 0x3F)) << 16
        n = 3
    else:
        w = ((0xF0 | (c >> 18)) | (0x80 | ((c >> 12) & 0x3F)) << 8
             | (0x80 | ((c >> 6) & 0x3F)) << 16 | (0x80 | (c & 0x3F)) << 24)
        n = 4
    memcpy(out, &w, 4)   # (little-endian: the first byte lowest)
    return n
