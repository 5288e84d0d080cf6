"""pymosh-server's end-of-burst policy (Mosh has none), sans-I/O.

While a program's output streams, the server sends one frame per frame interval (Mosh's
pacing: 20 ms on a fast link, up to 250 ms on a slow one), so the last frame of a `cat` or
a build log waits out whatever is left of the interval after the output stopped. Once a
burst that streamed for at least one frame interval has been quiet for ``END_QUIET`` ms,
its last frame goes out at once instead: the screen the user is waiting to read arrives
that much sooner, and bulk output is still batched while it lasts.

The frame rate stays bounded: one early frame per burst, and only a burst at least a
frame interval long earns one, so even output that pauses just after every interval
gets at most one extra frame per interval (twice Mosh's rate), and a program printing in
short spurts (a progress bar, typing echoes) keeps Mosh's pacing exactly.
"""

from __future__ import annotations

END_QUIET = 4  # ms of quiet pty that ends a burst (a loaded host deschedules a writer ~2 ms)
_NEVER = float("inf")


class OutputBursts:
    """The pty's latest output burst: output with no pause of END_QUIET ms between reads,
    a pause being time the server spent waiting with the pty quiet (not time it spent busy
    between reads: a loaded server must not split a stream it is merely slow to drain)."""

    __slots__ = ("start", "last", "settled", "quiet")

    def __init__(self) -> None:
        self.start = self.last = -_NEVER
        self.settled = True  # the latest burst has had its early frame, or never will
        self.quiet = _NEVER  # ms waited since the latest read without the pty answering

    def output(self, now: float) -> None:
        """The pty gave output at ``now`` (after ``quiet`` ms of waiting for it)."""
        if self.quiet >= END_QUIET:
            self.start = now
            self.settled = False
        self.last = now
        self.quiet = 0.0

    def due(self, interval: float) -> float:
        """When the latest burst's last frame may skip the frame interval (inf: never),
        ``interval`` being the transport's current frame interval."""
        if self.settled or self.last - self.start < interval:
            return _NEVER
        return self.last + END_QUIET

    def take(self, now: float, interval: float) -> bool:
        """Once the latest burst has ended (no output for END_QUIET ms), settle it; True
        (once) if it was long enough to send its last frame at ``now``."""
        if self.settled or now - self.last < END_QUIET:
            return False
        self.settled = True
        return self.last - self.start >= interval
