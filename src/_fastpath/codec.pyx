# cython: language_level=3
# distutils: libraries = z
"""Instruction ⇄ zlib stream (protocol.md §4, §5.1) in C (fast path).

Same API, bytes and errors as pymosh.network.codec. ``zlib.compress`` builds and frees a
deflate state (~260 KiB of buffers) for every instruction and the Python protobuf codec
runs a few dozen calls per field; here one deflate and one inflate stream per process are
made once and reset between instructions (deflateReset/inflateReset: the same bytes as a
fresh stream), and the Instruction's seven fields are written and read in one pass.
Inputs of at most SMALL_INPUT bytes (every heartbeat) go through a deflate stream with a
256-entry hash table, whose reset clears 512 bytes instead of 64 KiB: the same bytes
(pymosh.network.codec.SMALL_INPUT says why).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy

from _fastpath.buffers cimport as_bytes

from pymosh.errors import DecodeError

cdef extern from "zlib.h":
    ctypedef struct z_stream:
        unsigned char *next_in
        unsigned int avail_in
        unsigned char *next_out
        unsigned int avail_out
        void *zalloc
        void *zfree
        void *opaque
    int Z_OK, Z_STREAM_END, Z_BUF_ERROR, Z_MEM_ERROR
    int Z_NO_FLUSH, Z_FINISH, Z_DEFAULT_COMPRESSION
    int deflateInit2(z_stream *strm, int level, int method, int windowBits, int memLevel,
                     int strategy)
    int Z_DEFLATED, Z_DEFAULT_STRATEGY
    int deflateReset(z_stream *strm)
    int deflate(z_stream *strm, int flush)
    unsigned long deflateBound(z_stream *strm, unsigned long source_len)
    int inflateInit(z_stream *strm)
    int inflateReset(z_stream *strm)
    int inflate(z_stream *strm, int flush)

TRUNCATED = "zlib stream truncated or larger than the limit"
BAD_STREAM = "bad zlib stream"

cdef enum:
    SMALL_INPUT = 36  # pymosh.network.codec.SMALL_INPUT
    SMALL_MEM_LEVEL = 1
    DEFAULT_MEM_LEVEL = 8  # deflateInit's
    SMALL_OUTPUT = 128
    MAX_INPUT = 0x3FFFFFFF  # zlib takes unsigned int lengths; instructions are far smaller
    SMALL = 8192  # output that fits here needs no allocation but the result's

cdef uint64_t U32 = 0xFFFFFFFF
cdef z_stream _deflaters[2]  # [1]: inputs of at most SMALL_INPUT bytes; [0]: any
cdef bint _deflater_ready[2]
cdef z_stream _inflater
cdef bint _inflater_ready = False
cdef unsigned char _small_space[SMALL]
cdef unsigned char *_small = _small_space  # an idle instruction is ~40 bytes either way


cdef inline const unsigned char *_ptr(bytes data) noexcept:
    return <const unsigned char *>PyBytes_AS_STRING(data)


cdef z_stream *_reset_deflater(bint small) except NULL:
    """The deflate stream for an input of at most SMALL_INPUT bytes (``small``) or any."""
    cdef z_stream *strm = &_deflaters[small]
    if _deflater_ready[small]:
        if deflateReset(strm) != Z_OK:
            raise RuntimeError("zlib deflateReset failed")
        return strm
    strm.zalloc = strm.zfree = strm.opaque = NULL
    if deflateInit2(strm, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15,
                    SMALL_MEM_LEVEL if small else DEFAULT_MEM_LEVEL,
                    Z_DEFAULT_STRATEGY) != Z_OK:
        raise MemoryError("zlib deflateInit failed")
    _deflater_ready[small] = True
    return strm


cdef int _reset_inflater() except -1:
    global _inflater_ready
    if _inflater_ready:
        if inflateReset(&_inflater) != Z_OK:
            raise RuntimeError("zlib inflateReset failed")
        return 0
    _inflater.zalloc = _inflater.zfree = _inflater.opaque = NULL
    _inflater.next_in = NULL
    _inflater.avail_in = 0
    if inflateInit(&_inflater) != Z_OK:
        raise MemoryError("zlib inflateInit failed")
    _inflater_ready = True
    return 0


cdef bytes _deflate(const unsigned char *data, Py_ssize_t n):
    if n > MAX_INPUT:
        raise ValueError("instruction too large to compress")
    cdef bint small = n <= SMALL_INPUT
    cdef z_stream *strm = _reset_deflater(small)
    cdef unsigned long bound = deflateBound(strm, <unsigned long>n)
    cdef unsigned char small_out[SMALL_OUTPUT]
    if small and bound <= SMALL_OUTPUT:  # (always: a 36-byte input's bound is 53)
        strm.next_out = small_out
        out = None
    else:
        out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>bound)
        strm.next_out = <unsigned char *>PyBytes_AS_STRING(out)
    strm.next_in = <unsigned char *>data
    strm.avail_in = <unsigned int>n
    strm.avail_out = <unsigned int>bound
    if deflate(strm, Z_FINISH) != Z_STREAM_END:
        raise RuntimeError("zlib deflate failed")
    if out is None:
        return PyBytes_FromStringAndSize(<char *>small_out, bound - strm.avail_out)
    return out[: bound - strm.avail_out]


def compress(data):
    """``zlib.compress(data)`` (level 6, the zlib format): the same bytes."""
    cdef bytes b = as_bytes(data)
    return _deflate(_ptr(b), PyBytes_GET_SIZE(b))


cdef Py_ssize_t _inflate(const unsigned char *data, Py_ssize_t n, size_t limit,
                         unsigned char **buf) except -1:
    """Inflate into *buf (``_small``, or a heap buffer the caller frees), at most limit
    bytes: one byte of room past the limit tells "exactly the limit" from "more"."""
    cdef size_t size = SMALL, produced = 0, want
    cdef unsigned char *bigger
    cdef int status
    if n > MAX_INPUT:
        raise DecodeError(TRUNCATED)
    _reset_inflater()
    _inflater.next_in = <unsigned char *>data
    _inflater.avail_in = <unsigned int>n
    buf[0] = _small
    while True:
        if produced == size:
            if produced > limit:
                raise DecodeError(TRUNCATED)
            want = min(2 * size, limit + 1)
            if buf[0] == _small:
                bigger = <unsigned char *>malloc(want)
                if bigger != NULL:
                    memcpy(bigger, _small, produced)
            else:
                bigger = <unsigned char *>realloc(buf[0], want)
            if bigger == NULL:
                raise MemoryError()
            buf[0], size = bigger, want
        _inflater.next_out = buf[0] + produced
        _inflater.avail_out = <unsigned int>(size - produced)
        status = inflate(&_inflater, Z_NO_FLUSH)
        produced = size - _inflater.avail_out
        if status == Z_STREAM_END:
            break
        if status == Z_MEM_ERROR:
            raise MemoryError()
        if status == Z_BUF_ERROR and _inflater.avail_out != 0:
            raise DecodeError(TRUNCATED)  # the input ended before the stream did
        if status != Z_OK and status != Z_BUF_ERROR:
            raise DecodeError(BAD_STREAM)  # Z_DATA_ERROR, Z_NEED_DICT, ...
    if produced > limit:
        raise DecodeError(TRUNCATED)
    return <Py_ssize_t>produced


def decompress(data, Py_ssize_t limit):
    """Inflate one zlib stream into at most ``limit`` bytes (bytes after its end are
    ignored), or DecodeError (corrupt, truncated, or inflating to more than ``limit``)."""
    cdef bytes b = as_bytes(data)
    if limit < 0:
        raise ValueError("negative limit")
    cdef unsigned char *buf = _small
    try:
        n = _inflate(_ptr(b), PyBytes_GET_SIZE(b), <size_t>limit, &buf)
        return PyBytes_FromStringAndSize(<char *>buf, n)
    finally:
        if buf != _small:
            free(buf)


# ------------------------------------------------------------------ the Instruction

cdef inline Py_ssize_t _put_varint(unsigned char *p, uint64_t v) noexcept:
    cdef Py_ssize_t i = 0
    while v > 0x7F:
        p[i] = <unsigned char>((v & 0x7F) | 0x80)
        v >>= 7
        i += 1
    p[i] = <unsigned char>v
    return i + 1


cdef uint64_t _u64(object value, str what) except? 0xFFFFFFFFFFFFFFFF:
    if not 0 <= value <= 0xFFFFFFFFFFFFFFFF:
        raise ValueError(what)
    return <uint64_t>value


def pack(protocol_version, old_num, new_num, ack_num, throwaway_num, diff, chaff):
    """The zlib stream of the encoded Instruction (field order, every field, like Mosh)."""
    cdef bytes d = as_bytes(diff), c = as_bytes(chaff)
    if not 0 <= protocol_version <= U32:
        raise ValueError("protocol_version out of range")
    cdef uint64_t nums[5]
    nums[0] = <uint64_t>protocol_version
    nums[1] = _u64(old_num, "uint64 out of range")
    nums[2] = _u64(new_num, "uint64 out of range")
    nums[3] = _u64(ack_num, "uint64 out of range")
    nums[4] = _u64(throwaway_num, "uint64 out of range")
    cdef Py_ssize_t nd = PyBytes_GET_SIZE(d), nc = PyBytes_GET_SIZE(c)
    cdef Py_ssize_t size = 5 * 11 + 2 * 11 + nd + nc
    cdef unsigned char *out = _small if size <= SMALL else <unsigned char *>malloc(size)
    cdef Py_ssize_t pos = 0
    cdef int i
    if out == NULL:
        raise MemoryError()
    try:
        for i in range(5):
            out[pos] = <unsigned char>((i + 1) << 3)  # fields 1-5, varint
            pos += 1 + _put_varint(out + pos + 1, nums[i])
        out[pos] = 0x32
        pos += 1 + _put_varint(out + pos + 1, <uint64_t>nd)
        if nd:
            memcpy(out + pos, _ptr(d), nd)
            pos += nd
        out[pos] = 0x3A
        pos += 1 + _put_varint(out + pos + 1, <uint64_t>nc)
        if nc:
            memcpy(out + pos, _ptr(c), nc)
            pos += nc
        return _deflate(out, pos)
    finally:
        if out != _small:
            free(out)


cdef inline Py_ssize_t _get_varint(const unsigned char *buf, Py_ssize_t pos, Py_ssize_t end,
                                   uint64_t *value) except -1:
    cdef uint64_t result = 0
    cdef unsigned int shift = 0
    cdef unsigned char byte
    cdef int i
    for i in range(10):
        if pos >= end:
            raise DecodeError("protobuf: truncated varint")
        byte = buf[pos]
        pos += 1
        if shift < 64:
            result |= (<uint64_t>(byte & 0x7F)) << shift
        if byte < 0x80:
            value[0] = result
            return pos
        shift += 7
    raise DecodeError("protobuf: varint longer than 10 bytes")


cdef tuple _parse(const unsigned char *buf, Py_ssize_t end):
    cdef uint64_t nums[6]  # [1..5]: protocol_version, old, new, ack, throwaway
    cdef uint64_t key, value, number, wtype
    cdef Py_ssize_t pos = 0, size
    cdef int i
    diff = chaff = b""
    for i in range(6):
        nums[i] = 0
    while pos < end:
        pos = _get_varint(buf, pos, end, &key)
        number, wtype = key >> 3, key & 7
        if number == 0 or number > 0x1FFFFFFF:
            raise DecodeError("protobuf: invalid field number")
        if wtype == 0:
            pos = _get_varint(buf, pos, end, &value)
            if 1 <= number <= 5:
                nums[number] = value
            elif number == 6:
                raise DecodeError("protobuf: wrong wire type for diff")
            elif number == 7:
                raise DecodeError("protobuf: wrong wire type for chaff")
        elif wtype == 2:
            pos = _get_varint(buf, pos, end, &value)
            if value > <uint64_t>(end - pos):
                raise DecodeError("protobuf: length past the end")
            if number == 1:
                raise DecodeError("protobuf: wrong wire type for protocol_version")
            if 2 <= number <= 5:
                raise DecodeError("protobuf: wrong wire type for a state number")
            if number == 6:
                diff = PyBytes_FromStringAndSize(<const char *>buf + pos, <Py_ssize_t>value)
            elif number == 7:
                chaff = PyBytes_FromStringAndSize(<const char *>buf + pos, <Py_ssize_t>value)
            pos += <Py_ssize_t>value
        elif wtype == 1 or wtype == 5:
            size = 8 if wtype == 1 else 4
            if size > end - pos:
                raise DecodeError("protobuf: truncated fixed field")
            pos += size
            if number == 1:
                raise DecodeError("protobuf: wrong wire type for protocol_version")
            if 2 <= number <= 5:
                raise DecodeError("protobuf: wrong wire type for a state number")
            if number == 6:
                raise DecodeError("protobuf: wrong wire type for diff")
            if number == 7:
                raise DecodeError("protobuf: wrong wire type for chaff")
        else:
            raise DecodeError(f"protobuf: unsupported wire type {wtype}")
    return (nums[1] & U32, nums[2], nums[3], nums[4], nums[5], diff, chaff)


def parse(data):
    """The seven fields of an encoded Instruction, in field order (proto2 defaults for
    absent ones), or DecodeError."""
    cdef bytes b = as_bytes(data)
    return _parse(_ptr(b), PyBytes_GET_SIZE(b))


def unpack(data, Py_ssize_t limit):
    """``parse(decompress(data, limit))``."""
    cdef bytes b = as_bytes(data)
    if limit < 0:
        raise ValueError("negative limit")
    cdef unsigned char *buf = _small
    try:
        n = _inflate(_ptr(b), PyBytes_GET_SIZE(b), <size_t>limit, &buf)
        return _parse(buf, n)
    finally:
        if buf != _small:
            free(buf)
