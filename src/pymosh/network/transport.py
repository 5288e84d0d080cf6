"""SSP transport (protocol.md §5): a sender plus the receiver's state queue.

Sans-I/O. The driver calls, per event-loop turn with one frozen `now`:

* `receive(datagram, addr, now)` for every datagram that arrived;
* `tick(now)` → list of datagrams to send, all to `remote_addr` (the server's address
  on the client; the client's current address on the server, `None` before contact);
* `wait_time(now)` → ms until `tick` has work (`math.inf` when nothing is scheduled,
  e.g. a server without a client).

The application sets `current_state` (or mutates it in place — a `UserStream` is
appended to directly) and reads `latest_remote_state()`; the server consumes user
input with `get_remote_diff()`. `pymosh.network.endpoint.Endpoint` is the one driver
that moves datagrams between a transport and a socket (or another datagram channel).
"""

from __future__ import annotations

import bisect

from pymosh.errors import DecodeError
from pymosh.generics import Generic, TypeVar
from pymosh.network.connection import Connection
from pymosh.network.fragment import FragmentAssembly
from pymosh.network.sender import SHUTDOWN_NUM, TransportSender
from pymosh.network.state import SyncState, TimedState
from pymosh.wire.protobuf import PROTOCOL_VERSION, Instruction

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List

    from pymosh.network.connection import Addr
    from pymosh.network.stats import TransportStats

L = TypeVar("L", bound=SyncState)  # local (sent) state
R = TypeVar("R", bound=SyncState)  # remote (received) state

RECEIVED_STATES_LIMIT = 1024
RECEIVER_QUENCH = 15000


class Transport(Generic[L, R]):
    def __init__(
        self,
        my_state: L,
        remote_initial_state: R,
        connection: Connection,
        now: float,
        **sender_options: Any,
    ) -> None:
        self.connection = connection
        self.sender: TransportSender[L] = TransportSender(
            connection, my_state, now, **sender_options
        )
        self.fragments = FragmentAssembly()
        self.received_states: List[TimedState[R]] = [
            TimedState(now, 0, remote_initial_state.copy())
        ]
        self._received_nums: List[int] = [0]  # sorted, parallel to received_states
        self.receiver_quench_timer: float = 0
        self.last_receiver_state: R = remote_initial_state.copy()
        self._now = now
        # diagnostics
        self.dropped_instructions = 0
        self.version_mismatches = 0
        self.last_error: str | None = None

    # ------------------------------------------------------------ application side
    @property
    def current_state(self) -> L:
        return self.sender.current_state

    @current_state.setter
    def current_state(self, state: L) -> None:
        self.sender.current_state = state

    def latest_remote_state(self) -> R:
        return self.received_states[-1].state

    @property
    def remote_state_num(self) -> int:
        return self.received_states[-1].num

    @property
    def latest_remote_state_time(self) -> float:
        """When the newest remote state arrived (the notification bar's "last contact")."""
        return self.received_states[-1].timestamp

    @property
    def remote_addr(self) -> Addr | None:
        return self.connection.remote_addr if self.connection.has_remote_addr else None

    def get_remote_diff(self) -> bytes:
        """Server: user input since the last call (diff of newest vs last consumed)."""
        newest = self.received_states[-1].state
        if newest == self.last_receiver_state:
            # nothing new (the client's heartbeat): the queue is rebased with the next input
            return b""
        diff = newest.diff_from(self.last_receiver_state)
        oldest = self.received_states[0].state.copy()
        for entry in reversed(self.received_states):
            entry.state.subtract(oldest)
        self.last_receiver_state = newest.copy()
        return diff

    # getters for the notification bar and the prediction engine
    @property
    def sent_state_acked(self) -> int:
        return self.sender.sent_states[0].num

    @property
    def sent_state_acked_timestamp(self) -> float:
        return self.sender.sent_states[0].timestamp

    @property
    def sent_state_last(self) -> int:
        return self.sender.sent_states[-1].num

    @property
    def sent_state_last_timestamp(self) -> float:
        return self.sender.sent_states[-1].timestamp

    @property
    def last_heard(self) -> float | None:
        """Time of the last in-order authentic datagram (any, not only new states)."""
        return self.connection.last_heard

    def send_interval(self) -> int:
        """The frame interval (ms) the sender paces by; the prediction engine's clock."""
        return self.connection.send_interval()

    def stats(self) -> TransportStats:
        from pymosh.network.stats import TransportStats  # dataclasses: off the start-up path

        conn, sender = self.connection, self.sender
        return TransportStats(
            srtt=conn.srtt,
            rttvar=conn.rttvar,
            rto=conn.timeout(),
            datagrams_sent=conn.datagrams_sent,
            datagrams_received=conn.datagrams_received,
            bytes_sent=conn.bytes_sent,
            bytes_received=conn.bytes_received,
            retransmits=sender.retransmits,
            dropped=conn.dropped + conn.out_of_order + self.dropped_instructions,
            last_heard=conn.last_heard,
            remote_addr=self.remote_addr,
        )

    def expedite(self) -> None:
        """The next `tick` sends a changed state at once (`TransportSender.expedite`)."""
        self.sender.expedite()

    def expedite_ack(self) -> None:
        """The next `tick` acknowledges the newest remote state (`TransportSender.expedite_ack`)."""
        self.sender.expedite_ack()

    def data_in_flight(self) -> bool:
        return self.sender.data_in_flight()

    def all_acked(self) -> bool:
        """Everything in `current_state` has been acknowledged by the peer."""
        return self.sender.current_state == self.sender.sent_states[0].state

    # ------------------------------------------------------------ driver side
    def tick(self, now: float) -> List[bytes]:
        self._now = now
        return self.sender.tick(now)

    def wait_time(self, now: float) -> float:
        return self.sender.wait_time(now)

    def take_port_hop(self) -> bool:
        """Client: True once when it is time to send from a new source port (§3.6)."""
        return self.connection.take_port_hop()

    def emsgsize(self) -> None:
        """The OS refused a datagram as too large: fragment for 500 bytes from now on."""
        self.connection.emsgsize()

    def receive(self, datagram: bytes, addr: Addr, now: float, congestion: bool = False) -> bool:
        """Feed one datagram; True if it completed an instruction that was processed."""
        self._now = now
        payload = self.connection.receive(datagram, addr, now, congestion)
        if payload is None:
            return False
        try:
            instruction = self.fragments.add_payload(payload)
        except DecodeError as exc:
            self.dropped_instructions += 1
            self.last_error = str(exc)
            return False
        if instruction is None:
            return False
        return self._process(instruction, now)

    def _process(self, inst: Instruction, now: float) -> bool:
        if inst.protocol_version != PROTOCOL_VERSION:
            self.version_mismatches += 1
            self.last_error = "mosh protocol version mismatch"
            return False
        sender = self.sender
        sender.process_acknowledgment_through(inst.ack_num)
        self.connection.set_last_roundtrip_success(sender.sent_states[0].timestamp)

        nums = self._received_nums
        new_num = inst.new_num
        newest = new_num > nums[-1]  # the usual case: no search for it
        if not newest:
            i = bisect.bisect_left(nums, new_num)
            if nums[i] == new_num:
                return True  # already have it
        old_num = inst.old_num
        j = len(nums) - 1 if old_num == nums[-1] else bisect.bisect_left(nums, old_num)
        if j == len(nums) or nums[j] != old_num:
            return True  # reference unknown: ignore
        # hold the reference object: throwaway may drop it from the list (§5.4.4)
        reference = self.received_states[j].state
        if inst.throwaway_num > nums[0]:
            self._process_throwaway_until(inst.throwaway_num)

        if len(self.received_states) > RECEIVED_STATES_LIMIT:
            if now < self.receiver_quench_timer:
                return True
            self.receiver_quench_timer = now + RECEIVER_QUENCH

        new_state = reference.copy()
        if inst.diff:
            try:
                new_state.apply_string(inst.diff)
            except DecodeError as exc:
                self.dropped_instructions += 1
                self.last_error = str(exc)
                return False
        entry = TimedState(now, new_num, new_state)

        nums = self._received_nums
        if not newest:
            pos = bisect.bisect_left(nums, new_num)
            self.received_states.insert(pos, entry)
            nums.insert(pos, new_num)
            return True  # an older state arriving late: no ack/heard bookkeeping
        self.received_states.append(entry)
        nums.append(new_num)
        sender.ack_num = new_num  # (set_ack_num, remote_heard, set_data_ack inline)
        sender.last_heard = now
        if inst.diff:
            sender.pending_data_ack = True
        return True

    def _process_throwaway_until(self, throwaway_num: int) -> None:
        nums = self._received_nums
        cut = bisect.bisect_left(nums, throwaway_num)
        cut = min(cut, len(nums) - 1)  # always keep at least the newest state
        if cut > 0:
            del self.received_states[:cut]
            del nums[:cut]

    # ------------------------------------------------------------ shutdown (§5.8)
    def start_shutdown(self, now: float | None = None) -> None:
        self.sender.start_shutdown(self._now if now is None else now)

    def shutdown_in_progress(self) -> bool:
        return self.sender.shutdown_in_progress

    def shutdown_acknowledged(self) -> bool:
        return self.sender.shutdown_acknowledged()

    def shutdown_ack_timed_out(self, now: float | None = None) -> bool:
        return self.sender.shutdown_ack_timed_out(self._now if now is None else now)

    def counterparty_shutdown_ack_sent(self) -> bool:
        return self.sender.counterparty_shutdown_ack_sent()

    def has_remote_shutdown(self) -> bool:
        """The peer's shutdown state (2^64 − 1) has been received."""
        return self.received_states[-1].num == SHUTDOWN_NUM
