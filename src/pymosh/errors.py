"""Exception types raised at pymosh's boundaries."""


class PymoshError(Exception):
    """Base class for pymosh's own errors."""


class KeyFormatError(PymoshError, ValueError):
    """A printable session key that is not 22 characters of base64 for 16 bytes."""


class DecodeError(PymoshError, ValueError):
    """Bad input at a decoding boundary: a datagram, fragment, zlib stream or protobuf
    that fails authentication or is malformed. The caller drops the input."""
