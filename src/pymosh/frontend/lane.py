# cython: wraparound=True, boundscheck=True, cdivision=False
"""pymosh-server's idle lane: the steady heartbeat exchange without the transport's objects.

An idle session wakes once per heartbeat interval (`pymosh.frontend.heartbeat`), with cold
caches: the ordinary turn (about 140 Python calls over a dozen modules) costs twice what
the wake-up itself does. The server arms the lane at the end of a turn that leaves the
session in the steady idle state (`Server._lane_ready`: nothing but heartbeats to send or
expect); the lane then takes a snapshot of the few numbers that exchange moves (sequence
numbers, timestamps and RTT, the sent and received state numbers, the heartbeat timer)
and, while armed, owns them:

- ``receive`` takes one datagram: a client heartbeat (authentic, in order, from the same
  address, one fragment, protocol 2, no diff, the next state number on the newest) is
  booked exactly as `Connection.receive` and `Transport._process` would, and answered
  like `HeartbeatPhase.answer` and `TransportSender.tick` would; anything else disarms
  the lane (the numbers go back into the objects) untouched, for the ordinary turn;
- ``timer`` sends the heartbeat when it is due (the same bytes at the same time);
- ``deadline`` is the time the ordinary loop would wake at (`HeartbeatPhase.hold` and the
  durable session's detach check).

Sans-I/O: datagrams and ``now`` in, datagrams and the deadline out; the server's loop does
the socket calls (`wait_armed`, compiled with the lane: its loop runs on every idle
wake-up). Compiled by Cython into ``_fastpath.lane`` with the C types of
``_fastpath/lane.pxd`` (the same source: one place for one exchange); this module is its
twin, used with ``PYMOSH_NO_EXTENSIONS=1``. (The directive line keeps Python's negative
indexing and division, which setup.py turns off for the .pyx fast paths.)
"""

from __future__ import annotations

from bisect import bisect_left

from pymosh.errors import DecodeError
from pymosh.frontend.heartbeat import ANSWER_WINDOW, HOLD
from pymosh.network.connection import (
    CONGESTION_TIMESTAMP_PENALTY,
    NO_TIMESTAMP,
    RTT_SAMPLE_CAP,
    SERVER_ASSOCIATION_TIMEOUT,
    TIMESTAMP_HOLD_LIMIT,
)
from pymosh.network.fragment import DECOMPRESS_LIMIT, HEADER_LEN, codec
from pymosh.network.sender import ACK_INTERVAL, SENT_STATES_LIMIT, SHUTDOWN_NUM
from pymosh.network.state import TimedState
from pymosh.network.transport import RECEIVED_STATES_LIMIT
from pymosh.wire.protobuf import PROTOCOL_VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from pymosh.network.endpoint import Endpoint
    from pymosh.network.transport import Transport

TO_SERVER = 0
TO_CLIENT = 1
U64 = (1 << 64) - 1
FINAL_ONLY = b"\x80\x00"  # a fragment header's second half: final, number 0


class IdleLane:
    """The idle exchange of one transport. ``armed`` says whether the lane owns the numbers
    (then nothing may read them from the transport) or the transport does."""

    __slots__ = (
        "transport",
        "armed",
        "deadline",
        "sends",
        "state_at",
        "held",
        "detach_after",
        "limit",
        "now",
        # Connection
        "session",
        "addr",
        "mtu",
        "next_seq",
        "expected_seq",
        "saved_timestamp",
        "saved_at",
        "rtt_hit",
        "srtt",
        "rttvar",
        "last_heard",
        "datagrams_sent",
        "bytes_sent",
        "datagrams_received",
        "bytes_received",
        "roundtrip_success",
        # TransportSender
        "sent_ts",
        "sent_nums",
        "ack_num",
        "peer_heard",
        "last_ack_sent",
        "instructions_sent",
        "retransmits",
        "last_new_num",
        "next_ack_time",
        "chaff",
        "next_id",
        "last_key",
        # the receiver
        "recv_ts",
        "recv_nums",
        "current_id",
    )

    def __init__(self, transport: Transport[Any, Any]) -> None:
        self.transport = transport
        self.armed = False
        self.deadline = 0.0
        self.sends = 0

    # ------------------------------------------------------------ arming
    def arm(self, now: float, held: float, detach_after: float, limit: float) -> None:
        """Take the numbers over (the caller checked the steady state). ``held``: the
        heartbeat phase's `HeartbeatPhase.held`; an event at ``detach_after`` ms after the
        client was last heard, or at ``limit``, is the ordinary turn's (the durable session's
        checks)."""
        transport = self.transport
        conn = transport.connection
        sender = transport.sender
        self.now = now
        self.held = held
        self.detach_after = detach_after
        self.limit = limit
        self.sends = 0
        self.state_at: float | None = None  # when the newest client state arrived
        self.session = conn.session
        self.addr = conn.remote_addr
        self.mtu = conn.mtu
        self.next_seq = conn.next_seq
        self.expected_seq = conn.expected_receiver_seq
        self.saved_timestamp = conn.saved_timestamp
        self.saved_at = conn.saved_timestamp_received_at
        self.rtt_hit = conn.rtt_hit
        self.srtt = conn.srtt
        self.rttvar = conn.rttvar
        if conn.last_heard is None or not conn.has_remote_addr:
            raise ValueError("the idle lane needs a client that was heard")
        self.last_heard: float = conn.last_heard
        self.datagrams_sent = conn.datagrams_sent
        self.bytes_sent = conn.bytes_sent
        self.datagrams_received = conn.datagrams_received
        self.bytes_received = conn.bytes_received
        self.roundtrip_success = conn.last_roundtrip_success
        states = sender.sent_states
        self.sent_ts = [entry.timestamp for entry in states]
        self.sent_nums = [entry.num for entry in states]
        self.ack_num = sender.ack_num
        self.peer_heard = sender.last_heard
        self.last_ack_sent = sender.last_ack_sent
        self.instructions_sent = sender.instructions_sent
        self.retransmits = sender.retransmits
        self.last_new_num = sender._last_new_num
        self.next_ack_time = sender.next_ack_time
        self.chaff = sender.chaff
        fragmenter = sender.fragmenter
        self.next_id = fragmenter.next_instruction_id
        self.last_key = fragmenter._last_key
        self.recv_ts = [entry.timestamp for entry in transport.received_states]
        self.recv_nums = transport._received_nums[:]
        self.current_id = transport.fragments.current_id
        self.armed = True
        self._reschedule()

    def disarm(self) -> None:
        """Give the numbers back to the transport's objects."""
        if not self.armed:
            return
        self.armed = False
        transport = self.transport
        conn = transport.connection
        sender = transport.sender
        conn.next_seq = self.next_seq
        conn.expected_receiver_seq = self.expected_seq
        conn.saved_timestamp = self.saved_timestamp
        conn.saved_timestamp_received_at = self.saved_at
        conn.rtt_hit = self.rtt_hit
        conn.srtt = self.srtt
        conn.rttvar = self.rttvar
        conn.last_heard = self.last_heard
        conn.datagrams_sent = self.datagrams_sent
        conn.bytes_sent = self.bytes_sent
        conn.datagrams_received = self.datagrams_received
        conn.bytes_received = self.bytes_received
        conn.last_roundtrip_success = self.roundtrip_success
        # every sent state is the one shared state (_lane_ready): keep the entries that
        # are still there, make the lane's heartbeats
        states = sender.sent_states
        shared = states[-1].state
        old = {entry.num: entry for entry in states}
        assumed = sender.assumed_receiver_state.num
        sender.sent_states = [
            old[num] if num in old else TimedState(ts, num, shared)
            for ts, num in zip(self.sent_ts, self.sent_nums)
        ]
        sender.assumed_receiver_state = next(
            (e for e in sender.sent_states if e.num == assumed), sender.sent_states[0]
        )
        sender.ack_num = self.ack_num
        sender.last_heard = self.peer_heard
        sender.last_ack_sent = self.last_ack_sent
        sender.instructions_sent = self.instructions_sent
        sender.retransmits = self.retransmits
        sender._last_new_num = self.last_new_num
        sender.next_ack_time = self.next_ack_time
        fragmenter = sender.fragmenter
        if self.sends:
            fragmenter._last_diff = b""
        fragmenter.next_instruction_id = self.next_id
        fragmenter._last_key = self.last_key
        # received states: a heartbeat's is a copy of the newest (no diff)
        received = transport.received_states
        newest = received[-1].state
        kept = {entry.num: entry for entry in received}
        transport.received_states = [
            kept[num] if num in kept else TimedState(ts, num, newest.copy())
            for ts, num in zip(self.recv_ts, self.recv_nums)
        ]
        transport._received_nums = self.recv_nums
        transport.fragments.current_id = self.current_id
        transport._now = self.now

    # ------------------------------------------------------------ events
    def receive(self, datagram: bytes, addr: Any, congestion: bool, now: float) -> bytes | None:
        """A datagram from the channel: the datagram to answer with (b"": none), or None if
        it is not a client heartbeat (the lane is disarmed and the datagram untouched)."""
        heard = self.last_heard
        if now >= self.limit or now - heard >= self.detach_after or addr != self.addr:
            self.disarm()
            return None
        try:
            seq, ts, reply, payload = self.session.open_datagram(datagram, TO_SERVER)
        except DecodeError:
            self.disarm()
            return None
        if (
            seq < self.expected_seq
            or len(payload) < HEADER_LEN
            or payload[8:HEADER_LEN] != FINAL_ONLY
        ):
            self.disarm()
            return None
        try:
            fields = codec.unpack(payload[HEADER_LEN:], DECOMPRESS_LIMIT)
        except DecodeError:
            self.disarm()
            return None
        nums = self.recv_nums
        newest = nums[-1]
        if (
            fields[0] != PROTOCOL_VERSION
            or fields[5]  # a diff: user input
            or fields[1] != newest
            or fields[2] <= newest
            or fields[2] == SHUTDOWN_NUM
            or len(nums) > RECEIVED_STATES_LIMIT
        ):
            self.disarm()
            return None
        # Connection.receive
        self.datagrams_received += 1
        self.bytes_received += len(datagram)
        self.expected_seq = seq + 1
        if ts != NO_TIMESTAMP:
            self.saved_timestamp = ts
            self.saved_at = now - CONGESTION_TIMESTAMP_PENALTY if congestion else now
        if reply != NO_TIMESTAMP:
            r = (_timestamp16(now) - reply) & 0xFFFF
            if r < RTT_SAMPLE_CAP:  # Connection._rtt_sample, inline on C doubles (a call
                # would cost this path a Python frame); test_server_lane holds them equal
                if not self.rtt_hit:
                    self.srtt = r
                    self.rttvar = r / 2
                    self.rtt_hit = True
                else:
                    self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - r)
                    self.srtt = 0.875 * self.srtt + 0.125 * r
        self.last_heard = now
        self.current_id = int.from_bytes(payload[:8], "big")
        # Transport._process
        ack = fields[3]
        sent = self.sent_nums
        if ack in sent:
            i = sent.index(ack)
            if i:
                del sent[:i]
                del self.sent_ts[:i]
        self.roundtrip_success = self.sent_ts[0]
        throwaway = fields[4]
        if throwaway > nums[0]:
            cut = min(bisect_left(nums, throwaway), len(nums) - 1)
            if cut > 0:
                del nums[:cut]
                del self.recv_ts[:cut]
        nums.append(fields[2])
        self.recv_ts.append(now)
        self.ack_num = fields[2]
        self.peer_heard = now
        self.state_at = now
        # HeartbeatPhase.answer: the client's heartbeat brings ours
        if now - heard >= ANSWER_WINDOW and self.next_ack_time - now <= ANSWER_WINDOW:
            self.next_ack_time = now
        out = self._tick(now)
        self._reschedule()
        return out

    def timer(self, now: float) -> bytes | None:
        """The deadline passed: the heartbeat if it is due (b"": nothing due), or None if
        this turn is the ordinary loop's (the lane is disarmed)."""
        heard = self.last_heard
        if (
            now >= self.limit
            or now - heard >= self.detach_after
            or now - heard > SERVER_ASSOCIATION_TIMEOUT
        ):
            self.disarm()
            return None
        out = self._tick(now)
        self._reschedule()
        return out

    # ------------------------------------------------------------ the sender's side
    def _tick(self, now: float) -> bytes:
        """`TransportSender.tick` of the steady state: an empty ack if it is due."""
        self.now = now
        if now < self.next_ack_time:
            return b""
        sent = self.sent_nums
        front = sent[0]
        new_num = sent[-1] + 1
        sent.append(new_num)
        self.sent_ts.append(now)
        if len(sent) > SENT_STATES_LIMIT:
            del sent[len(sent) - 16]
            del self.sent_ts[len(self.sent_ts) - 16]
        if new_num == self.last_new_num:
            self.retransmits += 1
        self.last_new_num = new_num
        # Fragmenter.payloads (old = throwaway = the acknowledged state: the resend
        # optimisation's choice for an empty diff)
        chaff = self.chaff()
        key = (PROTOCOL_VERSION, front, new_num, self.ack_num, front, chaff, self.mtu)
        if key != self.last_key:
            self.next_id += 1
        self.last_key = key
        packed = codec.pack(PROTOCOL_VERSION, front, new_num, self.ack_num, front, b"", chaff)
        payload = (self.next_id & U64).to_bytes(8, "big") + FINAL_ONLY + packed
        # Connection.make_datagram
        reply = NO_TIMESTAMP
        saved = self.saved_timestamp
        if saved is not None and now - self.saved_at < TIMESTAMP_HOLD_LIMIT:
            reply = (saved + int(now - self.saved_at)) & 0xFFFF
            self.saved_timestamp = None
        datagram: bytes = self.session.seal_datagram(
            TO_CLIENT, self.next_seq, _timestamp16(now), reply, payload
        )
        self.next_seq += 1
        self.datagrams_sent += 1
        self.bytes_sent += len(datagram)
        self.last_ack_sent = self.ack_num
        self.instructions_sent += 1
        self.next_ack_time = now + ACK_INTERVAL
        self.sends += 1
        return datagram

    def _reschedule(self) -> None:
        """The loop's next wait: `HeartbeatPhase.hold`, then the durable session's check."""
        due = self.next_ack_time
        heard = self.last_heard
        if due != self.held and due - HOLD <= heard + ACK_INTERVAL <= due + HOLD:
            self.held = due = due + HOLD
            self.next_ack_time = due
        self.deadline = min(due, heard + self.detach_after)


def wait_armed(
    lane: IdleLane,
    endpoint: Endpoint[Any, Any],
    wait: Callable[[float], tuple[set[int], list[int]]],
    clock: Callable[[], float],
    now: float,
) -> tuple[set[int], list[int], OSError | None]:
    """The server loop's wait while ``lane`` is armed (its I/O glue, compiled with it: every
    idle wake-up runs this loop): ``wait`` is the event loop's, ``clock`` its clock. Each
    client heartbeat and heartbeat timer is the lane's; returns at the first event that is
    the ordinary turn's, as ``wait`` returned it (a datagram the lane declined is held for
    `Endpoint.receive`), or after a failed send, with its error."""
    channel = endpoint.channel
    sockets = set(channel.filenos())
    dest = lane.addr
    while True:
        ready, signals = wait(max(lane.deadline - now, 0))
        now = clock()
        if signals or (ready and ready != sockets):
            return ready, signals, None
        if ready:
            received = channel.recv_all(now)
            if len(received) == 1:
                datagram, addr, congestion = received[0]
                out = lane.receive(datagram, addr, congestion, now)
            elif received:
                lane.disarm()
                out = None
            else:
                out = lane.timer(now)  # (nothing there after all: the loop's send)
            if out is None:
                endpoint.hold(received)
                return ready, signals, None
        else:
            out = lane.timer(now)
            if out is None:
                return ready, signals, None
        if out:
            error = channel.send(out, dest)
            if error is not None:
                return set(), [], error
            endpoint.send_error = None


def _timestamp16(now: float) -> int:
    ts = int(now) & 0xFFFF
    return 0 if ts == NO_TIMESTAMP else ts
