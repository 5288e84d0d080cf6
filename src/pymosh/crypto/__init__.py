"""Session keys and the AES-128-OCB3 datagram seal (fast path when built).

The twin, ``pymosh.crypto.ocb`` (and with it ``cryptography``), is imported only when
the fast path is not used.
"""

from __future__ import annotations

from pymosh import _accel
from pymosh.crypto.key import format_key, new_key, parse_key

_impl = _accel.pick("crypto", "pymosh.crypto.ocb")

TO_SERVER = _impl.TO_SERVER
TO_CLIENT = _impl.TO_CLIENT
Session = _impl.Session

__all__ = ["Session", "TO_CLIENT", "TO_SERVER", "format_key", "new_key", "parse_key"]
