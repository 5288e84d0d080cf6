"""pymosh-server's heartbeat phase (Mosh has none): an idle session wakes once per interval.

Each end of an idle Mosh session sends a heartbeat (an empty state) every ACK_INTERVAL, on
its own timer, so the server wakes twice per interval: for its own heartbeat and, at an
unrelated moment, for the client's. Each wake-up of an idle process costs far more than the
work it does (cold caches after seconds asleep), so pymosh-server sends its heartbeat in
the turn the client's woke it:

- a client heartbeat arrives while the server's own is due within ``ACK_INTERVAL - HOLD``
  (not sent in the last HOLD ms): the server's goes out now, in the same turn;
- the server's own falls due while the client's is expected within HOLD of it (the client
  sends every ACK_INTERVAL after its last datagram): it waits up to HOLD for it, and goes
  out at due + HOLD if the client's did not come.

After the first client heartbeat the two are in phase and stay so. A silent client (asleep,
roamed away, gone) is not expected, so the server's heartbeats keep Mosh's rhythm exactly;
one heartbeat is at most HOLD late (the client's "last contact" shows after 6.5 s). Only a
pure heartbeat moves (`TransportSender.heartbeat_only`): output, echoes and data acks keep
the core's timers. A stock client sees Mosh's packets at Mosh's rate, at another phase.
"""

from __future__ import annotations

from pymosh.network.sender import ACK_INTERVAL

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pymosh.network.sender import TransportSender

HOLD = 400  # ms the server's heartbeat waits for the client's
ANSWER_WINDOW = ACK_INTERVAL - HOLD  # a client heartbeat brings ours forward by at most this


class HeartbeatPhase:
    """Sans-I/O: the server's loop calls `hold` after the sender's timer pass before it
    waits, and `answer` when a client datagram without new input arrived."""

    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held = -1.0  # the heartbeat time `hold` last set (held once only)

    def hold(self, sender: TransportSender[Any], heard: float | None) -> bool:
        """Move an idle sender's heartbeat to wait for the client's, expected ACK_INTERVAL
        after it was last ``heard``; True if it moved."""
        due = sender.next_ack_time
        if due == self.held or heard is None or not sender.heartbeat_only():
            return False
        if not due - HOLD <= heard + ACK_INTERVAL <= due + HOLD:
            return False  # the client's is not coming soon (silent, or another phase)
        self.held = due + HOLD
        sender.schedule_heartbeat(self.held)
        return True

    def answer(self, sender: TransportSender[Any], previous: float | None, now: float) -> bool:
        """A client datagram without input arrived at ``now``, the one before it at
        ``previous``: if that was the client's heartbeat (ACK_INTERVAL after its last
        datagram, not an ack of ours) send ours now; True if so."""
        if previous is None or now - previous < ANSWER_WINDOW:
            return False
        if sender.next_ack_time - now > ANSWER_WINDOW or not sender.heartbeat_only():
            return False
        sender.schedule_heartbeat(now)
        return True
