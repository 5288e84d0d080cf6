"""Session keys and the AES-128-OCB3 datagram seal (fast path when built)."""

from __future__ import annotations

from pymosh import _accel
from pymosh.crypto import ocb
from pymosh.crypto.key import format_key, new_key, parse_key

TO_SERVER = ocb.TO_SERVER
TO_CLIENT = ocb.TO_CLIENT
Session = _accel.pick("crypto", ocb).Session

__all__ = ["Session", "TO_CLIENT", "TO_SERVER", "format_key", "new_key", "parse_key"]
