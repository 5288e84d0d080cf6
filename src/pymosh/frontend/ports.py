"""UDP port ranges as given on the command line: ``PORT`` or ``LOW:HIGH`` (protocol.md §3.4)."""

from __future__ import annotations

import re

# mosh-server's default search range (the man pages say 60000-61000; the code never uses the ends)
DEFAULT_PORT_RANGE = (60001, 60999)

_PORT_RE = re.compile(r"^(\d+)(?::(\d+))?$")


class PortRangeError(ValueError):
    """A port specification that is not PORT or LOW:HIGH within 0..65535."""


def parse_port_range(text: str) -> tuple[int, int]:
    """``"60001"`` -> (60001, 60001); ``"60001:60010"`` -> (60001, 60010); ``"0"`` -> (0, 0).

    Port 0 alone means "let the OS choose"; in a range the low end must be at least 1
    and not above the high end.
    """
    match = _PORT_RE.match(text)
    if not match:
        raise PortRangeError(f"Bad UDP port range ({text!r}): expected PORT or LOW:HIGH")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) is not None else low
    if low > 65535 or high > 65535:
        raise PortRangeError(f"Bad UDP port range ({text!r}): ports go up to 65535")
    if match.group(2) is not None and (low < 1 or low > high):
        raise PortRangeError(f"Bad UDP port range ({text!r}): need 1 <= LOW <= HIGH")
    return low, high
