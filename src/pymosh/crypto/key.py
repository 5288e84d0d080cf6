"""Mosh's printable session key: 16 random bytes as 22 characters of base64 (no padding)."""

from __future__ import annotations

import base64
import binascii
import os

from pymosh.errors import KeyFormatError

KEY_BYTES = 16
KEY_CHARS = 22


def parse_key(text: str) -> bytes:
    """The 16 raw bytes of a printable key, or KeyFormatError with Mosh's message.

    The key itself is never included in the message (it is a secret).
    """
    if not isinstance(text, str) or len(text) != KEY_CHARS:
        raise KeyFormatError("Key must be 22 letters long.")
    try:
        raw = base64.b64decode(text + "==", validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError("Key must be well-formed base64.") from None
    if len(raw) != KEY_BYTES or base64.b64encode(raw)[:KEY_CHARS].decode("ascii") != text:
        raise KeyFormatError("Base64 key was not encoded 128-bit key.")
    return raw


def format_key(raw: bytes) -> str:
    """The 22-character printable form of a 16-byte key."""
    if len(raw) != KEY_BYTES:
        raise ValueError("a session key is 16 bytes")
    return base64.b64encode(bytes(raw))[:KEY_CHARS].decode("ascii")


def new_key() -> bytes:
    """A fresh random 16-byte session key."""
    return os.urandom(KEY_BYTES)
