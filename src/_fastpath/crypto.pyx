# cython: language_level=3
# distutils: libraries = crypto
"""AES-128-OCB3 session and Mosh datagram sealing on OpenSSL's EVP (fast path).

Same API as pymosh.crypto.ocb. One EVP context per direction of use (encrypt,
decrypt), keyed once; each call only sets the IV. Output bytes objects are allocated
once at their final size and written in place.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint64_t
from libc.string cimport memcpy

from _fastpath.buffers cimport as_bytes

from pymosh.errors import DecodeError, PymoshError

cdef extern from "openssl/evp.h":
    ctypedef struct EVP_CIPHER_CTX
    ctypedef struct EVP_CIPHER
    ctypedef struct ENGINE
    const EVP_CIPHER *EVP_aes_128_ocb()
    EVP_CIPHER_CTX *EVP_CIPHER_CTX_new()
    void EVP_CIPHER_CTX_free(EVP_CIPHER_CTX *ctx)
    int EVP_CIPHER_CTX_ctrl(EVP_CIPHER_CTX *ctx, int type, int arg, void *ptr)
    int EVP_EncryptInit_ex(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher, ENGINE *impl,
                           const unsigned char *key, const unsigned char *iv) nogil
    int EVP_EncryptUpdate(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl,
                          const unsigned char *inp, int inl) nogil
    int EVP_EncryptFinal_ex(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl) nogil
    int EVP_DecryptInit_ex(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher, ENGINE *impl,
                           const unsigned char *key, const unsigned char *iv) nogil
    int EVP_DecryptUpdate(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl,
                          const unsigned char *inp, int inl) nogil
    int EVP_DecryptFinal_ex(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl) nogil
    int EVP_CTRL_AEAD_SET_IVLEN
    int EVP_CTRL_AEAD_GET_TAG
    int EVP_CTRL_AEAD_SET_TAG

TO_SERVER = 0
TO_CLIENT = 1

cdef enum:
    RECEIVE_MTU = 2048
    NONCE_LEN = 12
    TAG_LEN = 16
    MAX_LEN = 0x7FFFFFF0      # EVP takes int lengths
cdef uint64_t SEQ_MASK = (<uint64_t>1 << 63) - 1
cdef uint64_t BLOCK_LIMIT = <uint64_t>1 << 47


cdef inline void put_be64(unsigned char *p, uint64_t v) noexcept nogil:
    cdef int i
    for i in range(8):
        p[7 - i] = <unsigned char>(v & 0xFF)
        v >>= 8


cdef inline uint64_t get_be64(const unsigned char *p) noexcept nogil:
    cdef uint64_t v = 0
    cdef int i
    for i in range(8):
        v = (v << 8) | p[i]
    return v


cdef class Session:
    cdef EVP_CIPHER_CTX *_enc
    cdef EVP_CIPHER_CTX *_dec
    cdef uint64_t _blocks

    def __cinit__(self, key):
        self._enc = NULL
        self._dec = NULL
        self._blocks = 0

    def __init__(self, key):
        cdef const unsigned char[:] k = bytes(key)
        if k.shape[0] != 16:
            raise ValueError("a session key is 16 bytes")
        self._enc = EVP_CIPHER_CTX_new()
        self._dec = EVP_CIPHER_CTX_new()
        if self._enc == NULL or self._dec == NULL:
            raise MemoryError()
        if (EVP_EncryptInit_ex(self._enc, EVP_aes_128_ocb(), NULL, NULL, NULL) != 1
                or EVP_CIPHER_CTX_ctrl(self._enc, EVP_CTRL_AEAD_SET_IVLEN, NONCE_LEN, NULL) != 1
                or EVP_CIPHER_CTX_ctrl(self._enc, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, NULL) != 1
                or EVP_EncryptInit_ex(self._enc, NULL, NULL, &k[0], NULL) != 1
                or EVP_DecryptInit_ex(self._dec, EVP_aes_128_ocb(), NULL, NULL, NULL) != 1
                or EVP_CIPHER_CTX_ctrl(self._dec, EVP_CTRL_AEAD_SET_IVLEN, NONCE_LEN, NULL) != 1
                or EVP_CIPHER_CTX_ctrl(self._dec, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, NULL) != 1
                or EVP_DecryptInit_ex(self._dec, NULL, NULL, &k[0], NULL) != 1):
            raise RuntimeError("OpenSSL AES-128-OCB initialisation failed")

    def __dealloc__(self):
        if self._enc != NULL:
            EVP_CIPHER_CTX_free(self._enc)
        if self._dec != NULL:
            EVP_CIPHER_CTX_free(self._dec)

    @property
    def blocks_encrypted(self):
        return self._blocks

    cdef int _count(self, Py_ssize_t n) except -1:
        # Mosh refuses (fatally) to encrypt more than 2^47 blocks under one key (§2.5)
        self._blocks += <uint64_t>((n + 15) >> 4)
        if self._blocks > BLOCK_LIMIT:
            raise PymoshError("Encrypted 2^47 blocks.")
        return 0

    cdef int _seal(self, const unsigned char *nonce, unsigned char *buf, Py_ssize_t n
                   ) except -1:
        """Encrypt buf[0:n] in place and write the tag at buf[n:n+16]."""
        cdef int outl = 0, finl = 0
        if (EVP_EncryptInit_ex(self._enc, NULL, NULL, NULL, nonce) != 1
                or EVP_EncryptUpdate(self._enc, buf, &outl, buf, <int>n) != 1
                or EVP_EncryptFinal_ex(self._enc, buf + outl, &finl) != 1
                or outl + finl != n
                or EVP_CIPHER_CTX_ctrl(self._enc, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, buf + n) != 1):
            raise RuntimeError("OpenSSL AES-128-OCB encryption failed")
        return 0

    cdef bint _open(self, const unsigned char *nonce, const unsigned char *src,
                    Py_ssize_t n, unsigned char *out):
        """Decrypt src[0:n] (tag at src[n:n+16]) into out; False if not authentic."""
        cdef int outl = 0, finl = 0
        if EVP_DecryptInit_ex(self._dec, NULL, NULL, NULL, nonce) != 1:
            return False
        if EVP_CIPHER_CTX_ctrl(self._dec, EVP_CTRL_AEAD_SET_TAG, TAG_LEN,
                               <void *>(src + n)) != 1:
            return False
        if EVP_DecryptUpdate(self._dec, out, &outl, src, <int>n) != 1:
            return False
        return EVP_DecryptFinal_ex(self._dec, out + outl, &finl) == 1 and outl + finl == n

    def encrypt(self, const unsigned char[:] nonce, const unsigned char[:] plaintext):
        """ciphertext ‖ tag for a 12-byte nonce, no associated data."""
        cdef Py_ssize_t n = plaintext.shape[0]
        if nonce.shape[0] != NONCE_LEN:
            raise ValueError("nonce must be 12 bytes")
        if n > MAX_LEN:
            raise ValueError("plaintext too long")
        self._count(n)
        out = PyBytes_FromStringAndSize(NULL, n + TAG_LEN)
        cdef unsigned char *buf = <unsigned char *>PyBytes_AS_STRING(out)
        if n:
            memcpy(buf, &plaintext[0], n)
        self._seal(&nonce[0], buf, n)
        return out

    def decrypt(self, const unsigned char[:] nonce, const unsigned char[:] sealed):
        """The plaintext, or DecodeError if `sealed` is short or fails authentication."""
        cdef Py_ssize_t n = sealed.shape[0] - TAG_LEN
        if nonce.shape[0] != NONCE_LEN:
            raise ValueError("nonce must be 12 bytes")
        if n < 0:
            raise DecodeError("Ciphertext must contain nonce and tag.")
        if n > MAX_LEN:
            raise DecodeError("Ciphertext too long.")
        out = PyBytes_FromStringAndSize(NULL, n)
        if not self._open(&nonce[0], &sealed[0], n,
                          <unsigned char *>PyBytes_AS_STRING(out)):
            raise DecodeError("Packet failed integrity check.")
        return out

    def seal_datagram(self, int direction, uint64_t seq, unsigned int timestamp,
                      unsigned int timestamp_reply, payload):
        """The whole UDP datagram for one Mosh packet (seq is masked to 63 bits)."""
        cdef bytes p = as_bytes(payload)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(p)
        cdef Py_ssize_t plain = n + 4
        cdef unsigned char nonce[NONCE_LEN]
        if plain > MAX_LEN:
            raise ValueError("payload too long")
        self._count(plain)
        out = PyBytes_FromStringAndSize(NULL, 8 + plain + TAG_LEN)
        cdef unsigned char *buf = <unsigned char *>PyBytes_AS_STRING(out)
        put_be64(buf, ((<uint64_t>(direction & 1)) << 63) | (seq & SEQ_MASK))
        buf[8] = (timestamp >> 8) & 0xFF
        buf[9] = timestamp & 0xFF
        buf[10] = (timestamp_reply >> 8) & 0xFF
        buf[11] = timestamp_reply & 0xFF
        if n:
            memcpy(buf + 12, PyBytes_AS_STRING(p), n)
        nonce[0] = nonce[1] = nonce[2] = nonce[3] = 0
        memcpy(nonce + 4, buf, 8)
        self._seal(nonce, buf + 8, plain)
        return out

    def open_datagram(self, datagram, int expected_direction):
        """(seq, timestamp, timestamp_reply, payload) after Mosh's receive checks."""
        cdef bytes d = as_bytes(datagram)
        cdef const unsigned char *data = <const unsigned char *>PyBytes_AS_STRING(d)
        cdef Py_ssize_t size = PyBytes_GET_SIZE(d)
        cdef Py_ssize_t plain
        cdef unsigned char nonce[NONCE_LEN]
        cdef unsigned char buf[RECEIVE_MTU]
        cdef uint64_t value
        if size > RECEIVE_MTU:
            raise DecodeError("Received oversize datagram.")
        if size < 8 + TAG_LEN:
            raise DecodeError("Ciphertext must contain nonce and tag.")
        plain = size - 8 - TAG_LEN
        nonce[0] = nonce[1] = nonce[2] = nonce[3] = 0
        memcpy(nonce + 4, data, 8)
        if not self._open(nonce, data + 8, plain, buf):
            raise DecodeError("Packet failed integrity check.")
        if plain < 4:
            raise DecodeError("Packet too short for timestamps.")
        value = get_be64(data)
        if <int>(value >> 63) != expected_direction:
            raise DecodeError("Packet direction does not match.")
        return (value & SEQ_MASK, (buf[0] << 8) | buf[1], (buf[2] << 8) | buf[3],
                PyBytes_FromStringAndSize(<char *>buf + 4, plain - 4))
