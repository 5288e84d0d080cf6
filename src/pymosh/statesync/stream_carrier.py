"""Carrying a ``Mux``'s frames in the synchronised states (issue #18), sans-I/O.

Client→server: frames are user-stream events (extension 101); the transport delivers
them once, in order, and subtracts them once acknowledged. Server→client: frames go
into the host state's ``StreamLog`` (extension 102). Either way the frames sent but not
yet acknowledged are held to ``SESSION_IN_FLIGHT`` bytes.

SSP resends everything unacknowledged as one instruction after a loss, and one lost
fragment loses the instruction, so the bytes in flight are also a congestion window
(``Window``, AIMD): small on a lossy link (a resend that gets through), up to
SESSION_IN_FLIGHT on a clean one. And at most BURST frame bytes join one instruction:
SSP sends one instruction per frame interval as a burst of datagrams, and a burst larger
than a socket's receive buffer loses its tail, i.e. the whole instruction.

Nothing is carried until both hellos show FEATURE_STREAMS, so stock peers see nothing.
Call ``pump`` once per event-loop turn, after the received datagrams were processed and
before ``transport.tick`` (the client must consume each new host state before it
acknowledges it: the server drops acknowledged frames).
"""

from __future__ import annotations

from pymosh.network.sender import ACK_DELAY
from pymosh.statesync.streams import SESSION_IN_FLIGHT, Mux
from pymosh.wire.protobuf import FEATURE_STREAMS, Hello

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

INITIAL_WINDOW = 16 * 1024  # ~14 datagrams: likely to survive a lossy link whole
MIN_WINDOW = 4 * 1024
GROWTH = 4 * 1024  # additive increase per window's worth acknowledged
BURST = 32 * 1024  # frame bytes per instruction (~27 datagrams; at the 20 ms
# minimum frame interval at most 1.6 MB/s per direction)


class Burst:
    """Frame bytes added since the transport last sent a new state."""

    def __init__(self) -> None:
        self.num = -1
        self.used = 0

    def budget(self, sent_num: int) -> int:
        if sent_num != self.num:
            self.num, self.used = sent_num, 0
        return BURST - self.used


class Window:
    """How many more frame bytes the carrier may send (AIMD on unacknowledged bytes).

    Acknowledged bytes grow the window (doubling per round trip until the first loss,
    then GROWTH per window); no acknowledgement for a retransmission timeout (plus
    three delayed-ack times) while bytes are in flight halves it (the transport is
    resending them).
    """

    def __init__(self) -> None:
        self.size = INITIAL_WINDOW
        self.threshold = SESSION_IN_FLIGHT
        self.in_flight = 0
        self.stall_since: float | None = None

    def budget(self, in_flight: int, now: float, rto: float) -> int:
        acked = self.in_flight - in_flight
        self.in_flight = in_flight
        if acked > 0:
            if self.size < self.threshold:
                self.size += acked
            else:
                self.size += GROWTH * acked // self.size
            self.size = min(self.size, SESSION_IN_FLIGHT)
        if in_flight == 0:
            self.stall_since = None
        elif acked > 0 or self.stall_since is None:
            self.stall_since = now
        elif now - self.stall_since > rto + 3 * ACK_DELAY:
            # (not rto + ACK_DELAY: a small window is acknowledged by the peer's delayed
            # ack, ACK_DELAY late, and halving on that collapsed 1 %-loss throughput 7x)
            self.size = self.threshold = max(self.size // 2, MIN_WINDOW)
            self.stall_since = now
        return self.size - in_flight

    def sent(self, n: int) -> None:
        self.in_flight += n


def granted(hello: Hello | None) -> bool:
    return hello is not None and bool(hello.features & FEATURE_STREAMS)


class ClientCarrier:
    def __init__(self, mux: Mux) -> None:
        self.mux = mux
        self.window = Window()
        self.burst = Burst()
        self.delivered = 0  # sequence number of the next server frame to deliver

    def enabled(self, transport: Any) -> bool:
        return granted(transport.latest_remote_state().hello)

    def pump(self, transport: Any, now: float) -> None:
        state = transport.latest_remote_state()
        if not granted(state.hello):
            return
        log = state.streams
        if self.delivered < log.base:
            # frames we never saw were dropped (a client that did not consume each state
            # before acknowledging it): no stream can be trusted to be intact
            self.mux.abort_all("stream frames lost")
            self.delivered = log.base
        frames, self.delivered = log.since(self.delivered)
        for frame in frames:
            self.mux.receive(frame)
        if transport.shutdown_in_progress():
            return  # the shutdown state is resent unchanged under one number: add nothing
        stream = transport.current_state
        budget = min(
            self.window.budget(stream.stream_bytes(), now, transport.connection.timeout()),
            self.burst.budget(transport.sent_state_last),
        )
        if budget > 0 and self.mux.has_output():
            for frame in self.mux.take_frames(budget):
                stream.push_stream_frame(frame)
                self.window.sent(len(frame))
                self.burst.used += len(frame)


class ServerCarrier:
    def __init__(self, mux: Mux) -> None:
        self.mux = mux
        self.window = Window()
        self.burst = Burst()

    def enabled(self, terminal: Any) -> bool:
        return granted(terminal.hello)

    def idle(self, terminal: Any) -> bool:
        """No frame of ours unacknowledged and none in the window's accounts."""
        return not terminal.streams.size and not self.window.in_flight

    def receive(self, terminal: Any, frame: bytes) -> None:
        """A client→server frame from the user stream (dropped unless granted)."""
        if granted(terminal.hello):
            self.mux.receive(frame)

    def pump(self, terminal: Any, transport: Any, now: float) -> None:
        """``terminal`` is the transport's live current state."""
        if not granted(terminal.hello) or transport.shutdown_in_progress():
            return  # (shutting down: the state is resent unchanged under one number)
        log = terminal.streams
        if self.idle(terminal) and not self.mux.has_output():
            return  # nothing in flight nor to send (the idle turn): the accounts stand as they are
        budget = min(
            self.window.budget(log.size, now, transport.connection.timeout()),
            self.burst.budget(transport.sent_state_last),
        )
        if budget > 0 and self.mux.has_output():
            for frame in self.mux.take_frames(budget):
                log.push(frame)
                self.window.sent(len(frame))
                self.burst.used += len(frame)
