"""The connection statistics line (``Ctrl-^ s``), sans-I/O: Mosh has none of this.

    stats = StatsOverlay()
    stats.source = transport.stats          # () -> TransportStats (network/stats.py)
    stats.toggle()                          # from the escape key
    stats.apply(fb, now, predictions)       # per frame: the bottom row, only when shown
    stats.wait_time(now)                    # refresh once a second while shown

``format_stats`` is the pure part: numbers in, one ASCII line out.
"""

from __future__ import annotations

from .notification import BAR_BG, BAR_FG, FOREVER

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

REFRESH_MS = 1000


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return ""  # not reached


def _address(addr: Any) -> str:
    if not addr:
        return "no server address"
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _since(now: float, when: float | None) -> str:
    if when is None:
        return "never"
    seconds = max(now - when, 0) / 1000
    return f"{seconds:.1f} s ago" if seconds < 60 else f"{int(seconds // 60)} min ago"


def format_stats(stats: Any, hits: int, misses: int, now: float) -> str:
    """One line from a TransportStats and the prediction counters."""
    return (
        f"RTT {stats.srtt:.0f}\u00b1{stats.rttvar:.0f} ms | "
        f"lost {stats.dropped} resent {stats.retransmits} | "
        f"heard {_since(now, stats.last_heard)} | "
        f"predict {hits} ok {misses} wrong | "
        f"up {_bytes(stats.bytes_sent)} down {_bytes(stats.bytes_received)} | "
        f"{_address(stats.remote_addr)}"
    )


class StatsOverlay:
    def __init__(self) -> None:
        self.visible = False
        self.source: Callable[[], Any] | None = None

    def toggle(self) -> None:
        self.visible = not self.visible

    def wait_time(self, now: float) -> float:
        return REFRESH_MS if self.visible and self.source is not None else FOREVER

    def apply(self, fb: Any, now: float, hits: int, misses: int) -> None:
        if not self.visible or self.source is None or fb.height < 2:
            return
        text = format_stats(self.source(), hits, misses, now)
        row = fb.height - 1
        if fb.cursor_row == row:
            fb.cursor_visible = False
        for col in range(fb.width):
            ch = text[col] if col < len(text) else " "
            fb.set_cell(row, col, ch, BAR_FG, BAR_BG, 0)
