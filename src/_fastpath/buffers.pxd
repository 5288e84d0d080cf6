# cython: language_level=3
"""Arguments of the datagram path's fast functions (inlined into codec and crypto)."""

from cpython.bytes cimport PyBytes_FromStringAndSize


cdef inline bytes as_bytes(object data):
    """``data`` itself when it is bytes (every datagram), else a copy of its buffer
    (TypeError without one). Taking bytes directly skips Cython's buffer acquisition and
    format checks: with an idle server's cold caches their code was a good part of the
    cost of these calls."""
    if type(data) is bytes:
        return <bytes>data
    if data is None:
        raise TypeError("a bytes-like object is required, not 'NoneType'")
    cdef const unsigned char[:] view = data
    if view.shape[0] == 0:
        return b""
    return PyBytes_FromStringAndSize(<const char *>&view[0], view.shape[0])
