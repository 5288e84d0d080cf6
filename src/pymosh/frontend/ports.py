"""UDP port ranges as given on the command line (protocol.md §3.4).

The parser lives with the socket that binds them, :mod:`pymosh.network.udp`; this
module only re-exports it for the frontends' option checks.
"""

from __future__ import annotations

from pymosh.network.udp import PortRangeError, parse_port_range

__all__ = ["PortRangeError", "parse_port_range"]
