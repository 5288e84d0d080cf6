"""Sans-I/O datagram layer: sequence numbers, timestamps, RTT, roaming, port-hop decision.

protocol.md §2.3–2.4 and §3. Nothing here touches a socket or reads a clock: every
method takes `now` (milliseconds, frozen per event-loop turn). The driver
(`pymosh.network.endpoint`) sends what `make_datagram` returns to `remote_addr` and feeds
every received datagram to `receive`.
"""

from __future__ import annotations

import math

from pymosh.errors import DecodeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from typing import Any, Callable, Tuple

    Addr = Any  # whatever the socket layer uses: (host, port) or (host, port, flow, scope)
    Received = Tuple[bytes, Addr, bool]  # (datagram, source address, ECN congestion mark)
else:
    import _socket as socket  # socket.py's constants without its enum classes (start-up)

TO_SERVER = 0
TO_CLIENT = 1

DEFAULT_SEND_MTU = 500  # after an EMSGSIZE
IPV4_MTU = 1252  # 1280 − 20 (IP) − 8 (UDP)
IPV6_MTU = 1216  # 1280 − 40 − 16 (two extension headers) − 8
ADDED_BYTES = 12  # 8-byte sequence number + two 16-bit timestamps

MIN_RTO = 50
MAX_RTO = 1000
SEND_INTERVAL_MIN = 20
SEND_INTERVAL_MAX = 250
RTT_SAMPLE_CAP = 5000  # samples ≥ this are ignored (a suspended peer)
TIMESTAMP_HOLD_LIMIT = 1000  # echo a peer timestamp only if held less than this
CONGESTION_TIMESTAMP_PENALTY = 500
SERVER_ASSOCIATION_TIMEOUT = 40000
PORT_HOP_INTERVAL = 10000
NO_TIMESTAMP = 0xFFFF
INITIAL_SRTT = 1000.0  # Mosh's estimate before the first RTT sample
INITIAL_RTTVAR = 500.0

# pymosh's own ends start from this estimate instead (a policy, not wire format): the
# frame interval ceil(SRTT/2) is the 20 ms floor instead of 250 ms, so the first screen
# is not held back a quarter second; RTO = ceil(40 + 4·240) = 1000 ms, the same as
# Mosh's clamped initial RTO, so retransmission is exactly as cautious as Mosh's until
# the first sample, which replaces both values (§3.2).
FAST_START_SRTT = 40.0
FAST_START_RTTVAR = 240.0


def timestamp16(now: float) -> int:
    """The 16-bit wire timestamp for `now`; 0xFFFF ("none") is never sent."""
    ts = int(now) & 0xFFFF
    return 0 if ts == NO_TIMESTAMP else ts


def mtu_for_family(family: int) -> int:
    return IPV6_MTU if family == socket.AF_INET6 else IPV4_MTU


def _default_session_class() -> Callable[[bytes], Any]:
    from pymosh.crypto import Session

    return Session


class Connection:
    """One end of a Mosh datagram association.

    `key` is the 16 raw key bytes or the 22-character printable key. The client passes
    the server's address as `remote_addr`; the server starts without one and learns it
    from the first authentic datagram (and follows the client when it roams).
    `session_class` picks the AEAD implementation (default: `pymosh.crypto.Session`).
    `initial_srtt`/`initial_rttvar` are the RTT estimate used until the first sample
    (Mosh: 1000/500 ms; pymosh's programs pass FAST_START_SRTT/FAST_START_RTTVAR).
    """

    def __init__(
        self,
        key: bytes | str,
        is_server: bool,
        remote_addr: Addr | None = None,
        *,
        now: float = 0,
        family: int = socket.AF_INET,
        session_class: Callable[[bytes], Any] | None = None,
        initial_srtt: float = INITIAL_SRTT,
        initial_rttvar: float = INITIAL_RTTVAR,
    ) -> None:
        if isinstance(key, str):
            from pymosh.crypto.key import parse_key

            key = parse_key(key)
        self.session = (session_class or _default_session_class())(key)
        self.is_server = is_server
        self.direction = TO_CLIENT if is_server else TO_SERVER
        self.expected_direction = TO_SERVER if is_server else TO_CLIENT
        self.mtu = mtu_for_family(family)

        self.next_seq = 0
        self.expected_receiver_seq = 0
        self.remote_addr: Addr | None = remote_addr
        self.has_remote_addr = remote_addr is not None and not is_server
        self.last_heard: float | None = None  # last in-order authentic datagram

        self.saved_timestamp: int | None = None
        self.saved_timestamp_received_at = 0.0
        self.rtt_hit = False
        self.srtt = float(initial_srtt)
        self.rttvar = float(initial_rttvar)

        # client port hopping (§3.6)
        self.last_port_choice = now
        self.last_roundtrip_success: float | None = None
        self._hop_pending = False

        # counters for diagnostics and TransportStats (plain integer increments)
        self.dropped = 0  # not authentic / undecodable
        self.out_of_order = 0  # authentic but behind the newest (late or replayed)
        self.last_error: str | None = None
        self.roam_count = 0
        self.datagrams_sent = self.bytes_sent = 0
        self.datagrams_received = self.bytes_received = 0

    # ------------------------------------------------------------------ timing
    def timeout(self) -> int:
        """RTO in ms: ceil(SRTT + 4·RTTVAR) clamped to [50, 1000]."""
        rto = math.ceil(self.srtt + 4 * self.rttvar)
        return min(max(rto, MIN_RTO), MAX_RTO)

    def send_interval(self) -> int:
        """Frame interval in ms: ceil(SRTT / 2) clamped to [20, 250]."""
        interval = math.ceil(self.srtt / 2)
        return min(max(interval, SEND_INTERVAL_MIN), SEND_INTERVAL_MAX)

    def _rtt_sample(self, r: float) -> None:
        # (pymosh-server's idle lane has this update inline: frontend/lane.py)
        if not self.rtt_hit:
            self.srtt = r
            self.rttvar = r / 2
            self.rtt_hit = True
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - r)
            self.srtt = 0.875 * self.srtt + 0.125 * r

    # ------------------------------------------------------------------ sending
    def make_datagram(self, payload: bytes, now: float) -> bytes:
        """Seal `payload` (fragment header + contents) into the next datagram."""
        ts = timestamp16(now)
        reply = NO_TIMESTAMP
        if (
            self.saved_timestamp is not None
            and now - self.saved_timestamp_received_at < TIMESTAMP_HOLD_LIMIT
        ):
            held = int(now - self.saved_timestamp_received_at)
            reply = (self.saved_timestamp + held) & 0xFFFF
            self.saved_timestamp = None
        datagram = self.session.seal_datagram(self.direction, self.next_seq, ts, reply, payload)
        self.next_seq += 1
        self.datagrams_sent += 1
        self.bytes_sent += len(datagram)
        self._after_send(now)
        return datagram

    def _after_send(self, now: float) -> None:
        if self.is_server:
            if (
                self.has_remote_addr
                and self.last_heard is not None
                and now - self.last_heard > SERVER_ASSOCIATION_TIMEOUT
            ):
                self.has_remote_addr = False  # "Server now detached from client."
        elif now - self.last_port_choice > PORT_HOP_INTERVAL and (
            self.last_roundtrip_success is None
            or now - self.last_roundtrip_success > PORT_HOP_INTERVAL
        ):
            self.last_port_choice = now
            self._hop_pending = True

    def take_port_hop(self) -> bool:
        """True once after the client decided to move to a new source port (§3.6)."""
        hop, self._hop_pending = self._hop_pending, False
        return hop

    def set_last_roundtrip_success(self, timestamp: float) -> None:
        self.last_roundtrip_success = timestamp

    def emsgsize(self) -> None:
        """The OS refused a datagram as too large: fall back to Mosh's 500-byte MTU."""
        self.mtu = DEFAULT_SEND_MTU

    # ------------------------------------------------------------------ receiving
    def receive(
        self, datagram: bytes, addr: Addr, now: float, congestion: bool = False
    ) -> bytes | None:
        """The payload of an authentic datagram, or None (dropped and counted).

        Out-of-order and replayed datagrams are passed up (their fragment may be
        needed) but do not touch timestamps, RTT, `last_heard` or the peer address.
        `congestion` = the IP header carried ECN CE.
        """
        self.datagrams_received += 1
        self.bytes_received += len(datagram)
        try:
            seq, ts, reply, payload = self.session.open_datagram(datagram, self.expected_direction)
        except DecodeError as exc:
            self.dropped += 1
            self.last_error = str(exc)
            return None
        if seq >= self.expected_receiver_seq:
            self.expected_receiver_seq = seq + 1
            if ts != NO_TIMESTAMP:
                self.saved_timestamp = ts
                self.saved_timestamp_received_at = now - (
                    CONGESTION_TIMESTAMP_PENALTY if congestion else 0
                )
            if reply != NO_TIMESTAMP:
                r = (timestamp16(now) - reply) & 0xFFFF
                if r < RTT_SAMPLE_CAP:
                    self._rtt_sample(r)
            self.last_heard = now
            if self.is_server:
                if not self.has_remote_addr or addr != self.remote_addr:
                    if self.remote_addr is not None and addr != self.remote_addr:
                        self.roam_count += 1
                    self.remote_addr = addr  # "Server now attached to client at …"
            self.has_remote_addr = True
        else:
            self.out_of_order += 1
        return payload
