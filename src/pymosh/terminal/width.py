"""Display width of one code point, as Mosh computes it (terminal.md 2.4).

Mosh asks the C library's ``wcwidth()`` in a UTF-8 locale, after an ISO-8859-1
shortcut (0x20-0x7E and 0xA0-0xFF are width 1). We do the same through ctypes,
switching the calling thread to a ``C.UTF-8`` locale with ``uselocale`` so the
process locale is untouched. Where no usable C library exists we fall back to the
``wcwidth`` package (which disagrees with glibc on a few code points).

Widths are cached per code point.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ctypes
    from typing import Callable

_LC_CTYPE_MASK = 1 << 0  # glibc: 1 << __LC_CTYPE (0)


def _load_libc() -> ctypes.CDLL:
    """glibc by its soname; ``find_library`` (which runs ldconfig: ms of start-up) only
    when that name is not there."""
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        from ctypes.util import find_library

        return ctypes.CDLL(find_library("c"))


def _libc_width() -> Callable[[int], int] | None:
    import ctypes

    try:
        libc = _load_libc()
        newlocale = libc.newlocale
        uselocale = libc.uselocale
        wcwidth = libc.wcwidth
    except (OSError, AttributeError):
        return None
    newlocale.restype = ctypes.c_void_p
    newlocale.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p]
    uselocale.restype = ctypes.c_void_p
    uselocale.argtypes = [ctypes.c_void_p]
    wcwidth.restype = ctypes.c_int
    wcwidth.argtypes = [ctypes.c_uint32]
    loc = None
    for name in (b"C.UTF-8", b"C.utf8", b"en_US.UTF-8", b"en_US.utf8"):
        loc = newlocale(_LC_CTYPE_MASK, name, None)
        if loc:
            break
    if not loc:
        return None

    def width(cp: int) -> int:
        old = uselocale(loc)
        try:
            return wcwidth(cp)
        finally:
            uselocale(old)

    if width(0x4E2D) != 2:  # not a working UTF-8 locale
        return None
    return width


def _package_width() -> Callable[[int], int]:
    import wcwidth as _wcwidth

    return lambda cp: _wcwidth.wcwidth(chr(cp))


_raw_width: Callable[[int], int] | None = None  # chosen at the first character that needs it
_cache: dict[int, int] = {}


def char_width(cp: int) -> int:
    """Columns taken by code point ``cp``: -1 (not printable), 0 (combining), 1 or 2."""
    if 0x20 <= cp <= 0x7E or 0xA0 <= cp <= 0xFF:
        return 1
    if cp == 0:
        return -1
    w = _cache.get(cp)
    if w is None:
        global _raw_width
        if _raw_width is None:  # (not at import: ctypes and libc cost the client's start-up)
            _raw_width = _libc_width() or _package_width()
        w = _raw_width(cp) if cp <= 0x10FFFF else -1
        if w > 2:
            w = 2
        _cache[cp] = w
    return w
