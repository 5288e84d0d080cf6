"""SSP sender (protocol.md §5.3–5.4, §5.8): which state to send, when, and relative to what.

Sans-I/O: `tick(now)` returns the datagrams to send; `Transport` feeds acks in.
"""

from __future__ import annotations

import math
import os

from pymosh.generics import Generic, TypeVar
from pymosh.network.connection import Connection
from pymosh.network.fragment import Fragmenter
from pymosh.network.state import SyncState, TimedState
from pymosh.wire.protobuf import PROTOCOL_VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, List

S = TypeVar("S", bound=SyncState)

SHUTDOWN_NUM = (1 << 64) - 1  # new_num / ack_num of the shutdown state ("−1")
ACK_INTERVAL = 3000  # heartbeat
ACK_DELAY = 100  # delayed data ack; also slack added to the RTO
SHUTDOWN_RETRIES = 16
ACTIVE_RETRY_TIMEOUT = 10000
SEND_MINDELAY_SERVER = 8
SEND_MINDELAY_CLIENT = 1
SENT_STATES_LIMIT = 32
RESEND_SMALL = 1000  # resend optimisation thresholds (§5.4.3 step 3)
RESEND_SLACK = 100
INF = math.inf


CHAFF_POOL = 4096  # random bytes read at once: one getrandom per ~450 datagrams, not two each


class _Chaff:
    """0–16 random bytes (one random byte mod 17 picks the length), like Mosh's chaff.

    Chaff only varies the datagram length (it is encrypted with the rest), so the bytes come
    from a pool refilled by one ``os.urandom`` call instead of two calls per datagram."""

    __slots__ = ("pool", "pos")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.pool = b""
        self.pos = 0

    def __call__(self) -> bytes:
        pos = self.pos
        if pos + 17 > len(self.pool):
            self.pool, pos = os.urandom(CHAFF_POOL), 0
        end = pos + 1 + self.pool[pos] % 17
        self.pos = end
        return self.pool[pos + 1 : end]


make_chaff = _Chaff()
os.register_at_fork(after_in_child=make_chaff.reset)  # a forked session draws its own


class TransportSender(Generic[S]):
    """`send_mindelay` (ms): how long the first change after a quiet spell is collected
    before it is sent; None = Mosh's value for the side (8 server, 1 client)."""

    def __init__(
        self,
        connection: Connection,
        initial_state: S,
        now: float,
        chaff: Callable[[], bytes] = make_chaff,
        send_mindelay: float | None = None,
    ) -> None:
        self.connection = connection
        self.current_state: S = initial_state.copy()
        self.sent_states: List[TimedState[S]] = [TimedState(now, 0, initial_state.copy())]
        self.assumed_receiver_state: TimedState[S] = self.sent_states[0]
        # calculate_timers found the live state equal to the assumed receiver state / to the
        # newest sent state
        self._at_assumed = False
        self._at_back = False
        # (front's state, current state) the last _rationalize_states subtracted
        self._rationalized: tuple[object, object] = (None, None)
        self.fragmenter = Fragmenter()
        self.chaff = chaff

        self.next_ack_time: float = now
        self.next_send_time: float = INF
        self.mindelay_clock: float | None = None
        self.expedited = False  # the program asked for this tick's state now
        if send_mindelay is None:
            send_mindelay = SEND_MINDELAY_SERVER if connection.is_server else SEND_MINDELAY_CLIENT
        self.send_mindelay = send_mindelay

        self.ack_num = 0  # newest remote state received in order
        self.pending_data_ack = False
        self.ack_expedited = False  # see expedite_ack
        self.last_heard: float | None = None  # time the peer's newest state arrived
        self.last_ack_sent: int | None = None

        self.shutdown_in_progress = False
        self.shutdown_tries = 0
        self.shutdown_start: float | None = None

        self.instructions_sent = 0
        self.retransmits = 0  # instructions re-sent under an already-sent number
        self._last_new_num = -1

    # ------------------------------------------------------------ hooks from the receiver
    # (which also sets ack_num, last_heard and pending_data_ack directly)
    def process_acknowledgment_through(self, ack_num: int) -> None:
        states = self.sent_states
        for i, entry in enumerate(states):
            if entry.num == ack_num:
                if i:
                    # every state before the acked one has a smaller number
                    del states[:i]
                return

    # ------------------------------------------------------------ timers (§5.4.1)
    def _peer_active(self, now: float) -> bool:
        return self.last_heard is not None and self.last_heard + ACTIVE_RETRY_TIMEOUT > now

    def _update_assumed_receiver_state(self, now: float) -> None:
        states = self.sent_states
        assumed = states[0]
        if len(states) > 1:
            limit = self.connection.timeout() + ACK_DELAY
            for i in range(1, len(states)):
                entry = states[i]
                # the same sum as next_send_time below: with a float clock the send due at
                # that time must see the state as no longer assumed (else it never resends)
                if now < entry.timestamp + limit:
                    assumed = entry
                else:
                    break
        self.assumed_receiver_state = assumed

    def _rationalize_states(self) -> None:
        prefix = self.sent_states[0].state
        current = self.current_state
        # subtracting the same prefix state again changes nothing (it emptied itself last
        # time, and every state sent since is a copy of the current state it was taken
        # from); an idle session's acknowledged heartbeats all share one state (see
        # _send_empty_ack), so the front entry changes every interval but its state not
        if prefix is self._rationalized[0] and current is self._rationalized[1]:
            return
        self._rationalized = (prefix, current)
        current.subtract(prefix)
        last = None
        for entry in reversed(self.sent_states):
            # adjacent entries may share one state (see _send_empty_ack): subtract it once
            # (a UserStream's subtract is not idempotent), the prefix itself last
            if entry.state is not last:
                last = entry.state
                last.subtract(prefix)

    def calculate_timers(self, now: float) -> None:
        # (runs twice per wake-up of an idle session, with cold caches: the common cases
        # of the two helpers are tested here, and the frame interval is computed only
        # where it is used)
        states = self.sent_states
        if len(states) > 1:
            self._update_assumed_receiver_state(now)
        else:
            self.assumed_receiver_state = states[0]
        current = self.current_state
        rationalized = self._rationalized
        if states[0].state is not rationalized[0] or current is not rationalized[1]:
            self._rationalize_states()
        if self.pending_data_ack:
            if self.next_ack_time > now + ACK_DELAY:
                self.next_ack_time = now + ACK_DELAY
            if self.ack_expedited:
                self.next_ack_time = min(self.next_ack_time, now)

        back = states[-1]
        assumed = self.assumed_receiver_state
        # the live state is compared with a sent one once per call in an idle session:
        # equal to the newest sent state, it equals every other entry that is that one
        self._at_back = current == back.state
        if not self._at_back:
            self._at_assumed = False
            if self.mindelay_clock is None:
                self.mindelay_clock = now
            if self.expedited:
                self.next_send_time = now
            else:
                self.next_send_time = max(
                    self.mindelay_clock + self.send_mindelay,
                    back.timestamp + self.connection.send_interval(),
                )
        else:
            self._at_assumed = assumed is back or current == assumed.state
            if not self._at_assumed and self._peer_active(now):
                self.next_send_time = back.timestamp + self.connection.send_interval()
                if self.mindelay_clock is not None:
                    self.next_send_time = max(
                        self.next_send_time, self.mindelay_clock + self.send_mindelay
                    )
            elif (
                states[0] is not back
                and states[0] is not assumed  # compared just above
                and states[0].state is not back.state  # (a heartbeat shares its state)
                and not current == states[0].state
                and self._peer_active(now)
            ):
                self.next_send_time = back.timestamp + (self.connection.timeout() + ACK_DELAY)
            else:
                self.next_send_time = INF

        if self.shutdown_in_progress or self.ack_num == SHUTDOWN_NUM:
            self.next_ack_time = back.timestamp + self.connection.send_interval()

    def wait_time(self, now: float) -> float:
        """ms until the next send is due; 0 if overdue; inf without a peer address."""
        self.calculate_timers(now)
        if not self.connection.has_remote_addr:
            return INF
        wakeup = min(self.next_ack_time, self.next_send_time)
        return max(wakeup - now, 0)

    # ------------------------------------------------------------ policy hooks
    def expedite(self) -> None:
        """Send a changed state at the next `tick` regardless of the mindelay and the frame
        interval (for that one tick only). Mosh never does this; the programs decide when
        (e.g. the echo of a keystroke on an idle link), the core keeps Mosh's timers."""
        self.expedited = True

    def expedite_ack(self) -> None:
        """Acknowledge the newest remote state at the next `tick`, not ACK_DELAY after it
        arrived (Mosh never does; a pymosh client does for states that carry scrollback,
        which the server sends a window at a time, each after the last was acknowledged)."""
        self.ack_expedited = True

    def heartbeat_only(self) -> bool:
        """The last timer pass (`wait_time`, `tick`) found nothing due but the heartbeat: the
        live state is the newest sent one, no state to (re)send, no data ack, no shutdown."""
        return (
            self._at_back
            and self.next_send_time == INF
            and not self.pending_data_ack
            and not self.shutdown_in_progress
            and self.ack_num != SHUTDOWN_NUM
        )

    def schedule_heartbeat(self, at: float) -> None:
        """Send the next heartbeat (the empty ack every ACK_INTERVAL) at ``at``. Mosh never
        does; pymosh-server does to send its heartbeat with the client's (one wake-up per
        interval, `pymosh.frontend.heartbeat`). Only a heartbeat moves: the next timer pass
        brings a data ack forward again, and state changes keep their own timer."""
        self.next_ack_time = at

    def data_in_flight(self) -> bool:
        """Something sent is not yet acknowledged and differs from what the peer has
        acknowledged (unacknowledged empty acks do not count)."""
        states = self.sent_states
        return len(states) > 1 and not states[-1].state == states[0].state

    # ------------------------------------------------------------ sending (§5.4.3)
    def tick(self, now: float) -> List[bytes]:
        self.calculate_timers(now)
        self.expedited = False
        if not self.connection.has_remote_addr:
            return []
        if now < self.next_ack_time and now < self.next_send_time:
            return []
        # calculate_timers found the live state equal to the assumed one: nothing to diff
        diff = (
            b""
            if self._at_assumed
            else self.current_state.diff_from(self.assumed_receiver_state.state)
        )
        diff = self._prospective_resend_optimisation(diff)
        out: List[bytes] = []
        if not diff:
            if now >= self.next_ack_time:
                self._send_empty_ack(now, out)
                self.mindelay_clock = None
            if now >= self.next_send_time:
                self.next_send_time = INF
                self.mindelay_clock = None
        elif now >= self.next_send_time or now >= self.next_ack_time:
            self._send_to_receiver(diff, now, out)
            self.mindelay_clock = None
        return out

    def _prospective_resend_optimisation(self, proposed: bytes) -> bytes:
        front = self.sent_states[0]
        if self.assumed_receiver_state is front:
            return proposed
        resend = self.current_state.diff_from(front.state)
        if len(resend) <= len(proposed) or (
            len(resend) < RESEND_SMALL and len(resend) - len(proposed) < RESEND_SLACK
        ):
            self.assumed_receiver_state = front
            return resend
        return proposed

    def _add_sent_state(self, now: float, num: int, snapshot: S) -> None:
        states = self.sent_states
        states.append(TimedState(now, num, snapshot))
        if len(states) > SENT_STATES_LIMIT:
            del states[len(states) - 16]

    def _send_to_receiver(self, diff: bytes, now: float, out: List[bytes]) -> None:
        back = self.sent_states[-1]
        if self.current_state == back.state:
            new_num = back.num
        else:
            new_num = back.num + 1
        if self.shutdown_in_progress:
            new_num = SHUTDOWN_NUM
        if new_num == back.num:
            back.timestamp = now
        else:
            self._add_sent_state(now, new_num, self.current_state.copy())
        self._send_in_fragments(diff, new_num, now, out)
        self.assumed_receiver_state = self.sent_states[-1]
        self.next_ack_time = now + ACK_INTERVAL
        self.next_send_time = INF

    def _send_empty_ack(self, now: float, out: List[bytes]) -> None:
        back = self.sent_states[-1]
        new_num = back.num + 1
        if self.shutdown_in_progress:
            new_num = SHUTDOWN_NUM
        # tick's timer pass found the live state equal to the newest sent one: that copy
        # is shared (sent states are never changed but by _rationalize_states)
        snapshot = back.state if self._at_back else self.current_state.copy()
        self._add_sent_state(now, new_num, snapshot)
        self._send_in_fragments(b"", new_num, now, out)
        self.next_ack_time = now + ACK_INTERVAL
        self.next_send_time = INF

    def _send_in_fragments(self, diff: bytes, new_num: int, now: float, out: List[bytes]) -> None:
        if new_num == SHUTDOWN_NUM:
            self.shutdown_tries += 1
        # numbers only grow, so a number sent before is the one sent last
        if new_num == self._last_new_num:
            self.retransmits += 1
        self._last_new_num = new_num
        conn = self.connection
        payloads = self.fragmenter.payloads(
            PROTOCOL_VERSION,
            self.assumed_receiver_state.num,
            new_num,
            self.ack_num,
            self.sent_states[0].num,
            diff,
            self.chaff(),
            conn.mtu,
        )
        for payload in payloads:
            if not conn.has_remote_addr:
                break  # detached by the previous fragment's send: Mosh drops the rest
            out.append(conn.make_datagram(payload, now))
        self.last_ack_sent = self.ack_num
        self.pending_data_ack = self.ack_expedited = False
        self.instructions_sent += 1

    # ------------------------------------------------------------ shutdown (§5.8)
    def start_shutdown(self, now: float) -> None:
        if not self.shutdown_in_progress:
            self.shutdown_start = now
            self.shutdown_in_progress = True

    def shutdown_acknowledged(self) -> bool:
        return self.sent_states[0].num == SHUTDOWN_NUM

    def shutdown_ack_timed_out(self, now: float) -> bool:
        if not self.shutdown_in_progress:
            return False
        if self.shutdown_tries >= SHUTDOWN_RETRIES:
            return True
        return self.shutdown_start is not None and now - self.shutdown_start >= ACTIVE_RETRY_TIMEOUT

    def counterparty_shutdown_ack_sent(self) -> bool:
        return self.last_ack_sent == SHUTDOWN_NUM
