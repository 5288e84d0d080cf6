"""Mosh's printable session key: 16 random bytes as 22 characters of base64 (no padding)."""

from __future__ import annotations

import binascii  # (not base64: it imports re, milliseconds of pymosh-client's start-up)
import os

from pymosh.errors import KeyFormatError

KEY_BYTES = 16
KEY_CHARS = 22
_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def parse_key(text: str) -> bytes:
    """The 16 raw bytes of a printable key, or KeyFormatError with Mosh's message.

    The key itself is never included in the message (it is a secret).
    """
    if not isinstance(text, str) or len(text) != KEY_CHARS:
        raise KeyFormatError("Key must be 22 letters long.")
    if not _BASE64.issuperset(text):
        raise KeyFormatError("Key must be well-formed base64.")
    try:
        raw = binascii.a2b_base64(text + "==")
    except (binascii.Error, ValueError):
        raise KeyFormatError("Key must be well-formed base64.") from None
    if len(raw) != KEY_BYTES or _encode(raw) != text:
        raise KeyFormatError("Base64 key was not encoded 128-bit key.")
    return raw


def format_key(raw: bytes) -> str:
    """The 22-character printable form of a 16-byte key."""
    if len(raw) != KEY_BYTES:
        raise ValueError("a session key is 16 bytes")
    return _encode(bytes(raw))


def _encode(raw: bytes) -> str:
    return binascii.b2a_base64(raw, newline=False)[:KEY_CHARS].decode("ascii")


def new_key() -> bytes:
    """A fresh random 16-byte session key."""
    return os.urandom(KEY_BYTES)
