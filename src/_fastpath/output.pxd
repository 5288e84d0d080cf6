# cython: language_level=3
"""The output buffer and what both the display differ and the history renderer write:
Mosh's one SGR form (the twin: ``pymosh.terminal.display.sgr``). ``cdef inline``, like
cells.pxd.
"""

from libc.stdint cimport uint32_t
from libc.string cimport memcpy
from libc.stdlib cimport realloc, abort


ctypedef struct Buf:
    char *p
    Py_ssize_t n
    Py_ssize_t cap


cdef inline void buf_grow(Buf *b, Py_ssize_t extra) noexcept:
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


cdef inline void putn(Buf *b, long v) noexcept:
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


cdef inline void put_color(Buf *b, uint32_t v, int base) noexcept:
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


cdef inline void sgr(Buf *b, uint32_t fg, uint32_t bg, uint32_t attrs) noexcept:
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
