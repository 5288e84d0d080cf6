"""Server→client stream frames inside the host state, exactly once (issue #18).

The host state is "newest state wins": the client may skip states. So frames carry
sequence numbers and the server keeps every frame the client has not acknowledged: the
log's ``frames`` hold sequence numbers ``base`` .. ``next - 1``. The server appends with
``push``; when the transport learns the client has a state, ``CompleteTerminal.subtract``
trims the log to that state's ``next`` (the client consumed those frames in the turn the
state arrived, before acknowledging it), so the sender's buffer holds only unacknowledged
frames (bounded by the carrier's SESSION_IN_FLIGHT). The client takes new frames from its
newest state with ``since(delivered)``.

On the wire each frame is its own extension 102 entry: varint seq, varint base, frame.
The base is the log's base when the frame was pushed (frames below it were acknowledged,
so consumed), fixed with the frame: the sender resends a state number with a freshly
computed diff, also after an ack trimmed the log, so a diff must be a pure function of the
two states (a base read at diff time gave the same (old_num, new_num) another diff).
"""

from __future__ import annotations

from pymosh.errors import DecodeError
from pymosh.statesync.streams import MAX_DATA, SESSION_IN_FLIGHT
from pymosh.wire.protobuf import StreamFrame, _read_varint, _varint

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Tuple

# a client holds what an honest server can have unacknowledged, and refuses more
CLIENT_LOG_LIMIT = 2 * SESSION_IN_FLIGHT + 2 * MAX_DATA


class StreamLog:
    __slots__ = ("base", "frames", "heads", "size")

    def __init__(self) -> None:
        self.base = 0
        self.frames: List[bytes] = []
        self.heads: List[bytes] = []  # each frame's base when pushed, as a varint
        self.size = 0  # bytes held

    @property
    def next(self) -> int:
        return self.base + len(self.frames)

    def push(self, frame: bytes) -> None:
        self.frames.append(frame)
        self.heads.append(_varint(self.base))
        self.size += len(frame)

    def trim(self, through: int) -> None:
        """Drop frames numbered below ``through``."""
        if not self.frames:
            return  # (every acknowledgment of an idle session)
        drop = min(max(through - self.base, 0), len(self.frames))
        if drop:
            self.size -= sum(map(len, self.frames[:drop]))
            del self.frames[:drop]
            del self.heads[:drop]
            self.base += drop

    def since(self, seq: int) -> Tuple[List[bytes], int]:
        """Frames numbered ``seq`` and later, and the number after the last."""
        return self.frames[max(seq - self.base, 0) :], self.next

    def copy(self) -> StreamLog:
        other = StreamLog.__new__(StreamLog)
        other.base, other.frames, other.size = self.base, self.frames[:], self.size
        other.heads = self.heads[:]
        return other

    def diff_items(self, existing: StreamLog) -> List[StreamFrame]:
        if self.next == existing.next:
            return []
        start = max(existing.next, self.base)
        return [
            StreamFrame(_varint(seq) + self.heads[seq - self.base] + self.frames[seq - self.base])
            for seq in range(start, self.next)
        ]

    def apply(self, body: bytes) -> None:
        seq, pos = _read_varint(body, 0)
        base, pos = _read_varint(body, pos)
        if base > seq:
            raise DecodeError("stream frame below its log's base")
        if base > self.base:
            self.trim(base)
            if not self.frames:
                self.base = base  # frames below base were acknowledged: consumed here
        if seq < self.next:
            return  # already have it
        if seq > self.next:
            raise DecodeError("stream frame out of sequence")
        if self.size + len(body) - pos > CLIENT_LOG_LIMIT:
            raise DecodeError("stream log over its limit")
        self.push(body[pos:])

    def __eq__(self, other: object) -> bool:
        # frames are immutable once numbered: equal ends mean equal logs; the base is
        # not compared, so trimming alone never causes a send
        return (
            isinstance(other, StreamLog)
            and self.base + len(self.frames) == other.base + len(other.frames)  # the ends
        )

    __hash__ = None  # type: ignore[assignment]
