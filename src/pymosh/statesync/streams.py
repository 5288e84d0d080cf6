"""Reliable byte streams multiplexed over the session (issue #18): the sans-I/O core.

``Mux`` turns streams (open, data, half-close, close, reset) into frames and back. It
assumes a carrier that delivers frames exactly once and in order; the session has two:
client→server frames ride the user stream (an ordered event log the transport subtracts
once acknowledged, like keystrokes), server→client frames ride the host state in a
sequence-numbered ``StreamLog`` (``pymosh.statesync.stream_log``). Both are SSP states,
so streams survive loss, reordering, duplication, roaming and blackouts like typed keys.

Frame: one byte kind, a varint stream id, then the kind's body::

    OPEN   target (what to connect to: b"agent", b"tcp:HOST:PORT", b"R:SPEC")
    DATA   payload bytes
    WINDOW varint credit (bytes the peer may send beyond what it was allowed)
    FIN    (nothing: the sender's half is done; data before it still arrives)
    RESET  reason (UTF-8): the stream is gone both ways, buffered data dropped

Ids: the client opens even ids, the server odd ones, each side increasing, never
reused (a stale frame for a finished id is dropped, not misrouted).

Bounds (stated, enforced here and by the carriers):

* ``MAX_STREAMS`` open streams per session (both openers together); more are refused;
* ``STREAM_WINDOW`` bytes: the most a receiver holds unconsumed per stream (credit);
  a stalled local reader stops its stream only, never the screen or keystrokes;
* ``SEND_BUFFER`` bytes queued per stream by the application before frames are made;
* ``SESSION_IN_FLIGHT`` bytes of frames sent but not yet acknowledged by the peer's
  transport, per direction (the carrier's budget for ``take_frames``): a resend after a
  loss or blackout is at most this big, and keystrokes never queue behind more.

Worst case memory per side: MAX_STREAMS × (STREAM_WINDOW + SEND_BUFFER) + the carrier's
SESSION_IN_FLIGHT (32 × 192 KiB + 64 KiB ≈ 6.1 MiB). Bad input (unknown ids, data
after FIN, credit overrun, floods of opens or resets) is dropped or answered with a
RESET, never raised.
"""

from __future__ import annotations

from pymosh.errors import DecodeError
from pymosh.value import Frozen
from pymosh.wire.protobuf import _read_varint, _varint

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections import deque
    from typing import Deque, Dict, List
else:
    from _collections import deque  # collections' own, without the package (start-up)

OPEN, DATA, WINDOW, FIN, RESET = 1, 2, 3, 4, 5

MAX_STREAMS = 32
STREAM_WINDOW = 128 * 1024
SEND_BUFFER = 64 * 1024
SESSION_IN_FLIGHT = 64 * 1024
MAX_DATA = 16 * 1024  # payload per DATA frame (a stream gets its turn per frame)
WINDOW_UPDATE = STREAM_WINDOW // 4  # credit is returned in steps this big: each is a client
# instruction (an SSP ack); 16 KiB steps made typing
# under a saturated stream wait more (echo p50 22 vs 15 ms)
MAX_TARGET = 255
MAX_REASON = 200
MAX_CONTROL = 1024  # queued control frames; refusals beyond it are dropped


class Event(Frozen):
    """Something the application must act on: ``open`` (the peer opened ``sid`` to
    ``info``, a target), ``eof`` (the peer finished sending), ``reset`` (``info`` is
    the reason; the stream is gone), ``closed`` (both halves done; the stream is gone)."""

    __slots__ = ("kind", "sid", "info")
    kind: str
    sid: int
    info: bytes

    def __init__(self, kind: str, sid: int, info: bytes = b"") -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "sid", sid)
        object.__setattr__(self, "info", info)


class Stream:
    __slots__ = (
        "sid",
        "target",
        "inbound",
        "outbound",
        "send_credit",
        "recv_allowed",
        "consumed",
        "want_fin",
        "fin_sent",
        "fin_received",
    )

    def __init__(self, sid: int, target: bytes) -> None:
        self.sid = sid
        self.target = target
        self.inbound = bytearray()  # received, not yet consumed by the application
        self.outbound = bytearray()  # written by the application, not yet framed
        self.send_credit = STREAM_WINDOW
        self.recv_allowed = STREAM_WINDOW
        self.consumed = 0  # consumed since the last WINDOW we sent
        self.want_fin = False
        self.fin_sent = False
        self.fin_received = False


def _frame(kind: int, sid: int, body: bytes = b"") -> bytes:
    return bytes((kind,)) + _varint(sid) + body


class Mux:
    """One side's streams. ``initiator`` is the client (even ids)."""

    def __init__(self, initiator: bool) -> None:
        self._next_sid = 0 if initiator else 1
        self._peer_next = 1 if initiator else 0
        self.streams: Dict[int, Stream] = {}
        self._control: Deque[bytes] = deque()
        self._events: List[Event] = []
        self._turn = 0
        self.dropped = 0  # frames dropped as bad input (diagnostics)
        self.last_error: str | None = None

    # ------------------------------------------------------------ application side
    def open(self, target: bytes) -> int | None:
        """A new stream to ``target``; None at the MAX_STREAMS limit."""
        if len(self.streams) >= MAX_STREAMS or len(target) > MAX_TARGET:
            return None
        sid = self._next_sid
        self._next_sid += 2
        self.streams[sid] = Stream(sid, target)
        self._control.append(_frame(OPEN, sid, target))
        return sid

    def room(self, sid: int) -> int:
        """How many bytes ``write`` accepts now (0 for a finished or unknown stream)."""
        st = self.streams.get(sid)
        if st is None or st.want_fin:
            return 0
        return max(SEND_BUFFER - len(st.outbound), 0)

    def write(self, sid: int, data: bytes) -> int:
        """Queue bytes to send; returns how many were taken (at most ``room``)."""
        n = min(self.room(sid), len(data))
        if n:
            self.streams[sid].outbound += data[:n]
        return n

    def finish(self, sid: int) -> None:
        """Half-close: no more data from us; a FIN follows what is queued."""
        st = self.streams.get(sid)
        if st is not None:
            st.want_fin = True

    def reset(self, sid: int, reason: str = "") -> None:
        """Abort the stream both ways (nothing more is delivered or sent)."""
        if self.streams.pop(sid, None) is not None:
            self._queue_control(_frame(RESET, sid, reason.encode()[:MAX_REASON]), True)

    def abort_all(self, reason: str) -> None:
        """Reset every stream, telling the peer and the application (``reset`` events)."""
        for sid in list(self.streams):
            self.reset(sid, reason)
            self._events.append(Event("reset", sid, reason.encode()))

    def pending(self, sid: int, limit: int | None = None) -> bytes:
        """Received bytes not yet consumed (the first ``limit`` of them)."""
        st = self.streams.get(sid)
        if st is None:
            return b""
        return bytes(st.inbound if limit is None else st.inbound[:limit])

    def consume(self, sid: int, n: int) -> None:
        """The application delivered ``n`` bytes of ``pending``: return credit."""
        st = self.streams.get(sid)
        if st is None or n <= 0:
            return
        n = min(n, len(st.inbound))
        del st.inbound[:n]
        st.consumed += n
        if st.consumed >= WINDOW_UPDATE and not st.fin_received:
            st.recv_allowed += st.consumed
            self._control.append(_frame(WINDOW, sid, _varint(st.consumed)))
            st.consumed = 0
        self._maybe_close(st)

    def at_eof(self, sid: int) -> bool:
        """The peer finished and every byte was consumed."""
        st = self.streams.get(sid)
        return st is not None and st.fin_received and not st.inbound

    def take_events(self) -> List[Event]:
        events, self._events = self._events, []
        return events

    def quiet(self) -> bool:
        """No stream, no frame to send, no event to take (an idle session's mux)."""
        return not self.streams and not self._control and not self._events

    # ------------------------------------------------------------ carrier side
    def has_output(self) -> bool:
        if self._control:
            return True
        for st in self.streams.values():
            if (st.outbound and st.send_credit) or (
                st.want_fin and not st.fin_sent and not st.outbound
            ):
                return True
        return False

    def take_frames(self, budget: int) -> List[bytes]:
        """Frames to send now: control frames, then data (round robin over streams, within
        each stream's credit) while the frames total at most ``budget`` bytes."""
        out = list(self._control)
        self._control.clear()
        spent = sum(map(len, out))
        streams = list(self.streams.values())
        if streams:
            self._turn = (self._turn + 1) % len(streams)
            streams = streams[self._turn :] + streams[: self._turn]
        progress = True
        while progress:
            progress = False
            for st in streams:
                n = min(len(st.outbound), st.send_credit, MAX_DATA, budget - spent - 8)
                if n > 0:
                    out.append(_frame(DATA, st.sid, bytes(st.outbound[:n])))
                    del st.outbound[:n]
                    st.send_credit -= n
                    spent += len(out[-1])
                    progress = True
                if st.want_fin and not st.fin_sent and not st.outbound:
                    out.append(_frame(FIN, st.sid))
                    st.fin_sent = True
        for st in streams:
            self._maybe_close(st)
        return out

    def receive(self, frame: bytes) -> None:
        """One frame from the peer, in order, exactly once (the carrier's promise)."""
        try:
            kind = frame[0]
            sid, pos = _read_varint(frame, 1)
        except (IndexError, DecodeError):
            self._drop("malformed stream frame")
            return
        body = frame[pos:]
        if kind == OPEN:
            self._on_open(sid, body)
            return
        st = self.streams.get(sid)
        if st is None:
            # never opened, already finished or reset (ours or theirs): nothing to do
            self._drop("frame for an unknown stream")
        elif kind == DATA:
            if st.fin_received:
                self._violation(st, "data after end of stream")
            elif len(body) > st.recv_allowed:
                self._violation(st, "flow control window exceeded")
            else:
                st.inbound += body
                st.recv_allowed -= len(body)
        elif kind == WINDOW:
            try:
                credit, _ = _read_varint(body, 0)
            except DecodeError:
                credit = -1
            if credit < 0 or st.send_credit + credit > STREAM_WINDOW:
                self._violation(st, "bad window update")
            else:
                st.send_credit += credit
        elif kind == FIN:
            if st.fin_received:
                self._drop("repeated end of stream")
            else:
                st.fin_received = True
                self._events.append(Event("eof", sid))
                self._maybe_close(st)
        elif kind == RESET:
            del self.streams[sid]
            self._events.append(Event("reset", sid, body[:MAX_REASON]))
        else:
            self._drop(f"unknown stream frame kind {kind}")

    # ------------------------------------------------------------ internals
    def _on_open(self, sid: int, target: bytes) -> None:
        if sid % 2 != self._peer_next % 2 or sid < self._peer_next:
            self._drop("bad or reused stream id")
            return
        self._peer_next = sid + 2
        if len(self.streams) >= MAX_STREAMS:
            self._drop("too many streams")
            self._queue_control(_frame(RESET, sid, b"too many streams"), False)
        elif len(target) > MAX_TARGET:
            self._drop("stream target too long")
            self._queue_control(_frame(RESET, sid, b"bad target"), False)
        else:
            self.streams[sid] = Stream(sid, target)
            self._events.append(Event("open", sid, target))

    def _violation(self, st: Stream, why: str) -> None:
        self._drop(why)
        self.reset(st.sid, why)
        self._events.append(Event("reset", st.sid, why.encode()))

    def _queue_control(self, frame: bytes, own: bool) -> None:
        # our own streams' resets are bounded by MAX_STREAMS; refusals of a flood are not
        if own or len(self._control) < MAX_CONTROL:
            self._control.append(frame)

    def _maybe_close(self, st: Stream) -> None:
        if st.fin_sent and st.fin_received and not st.inbound and self.streams.get(st.sid) is st:
            del self.streams[st.sid]
            self._events.append(Event("closed", st.sid))

    def _drop(self, why: str) -> None:
        self.dropped += 1
        self.last_error = why
