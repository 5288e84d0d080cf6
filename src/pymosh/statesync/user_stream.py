"""The client's state: the ordered stream of user events (protocol.md §6.1).

Like Mosh, each keystroke byte is its own event, so that states built by applying
differently-merged diffs still compare and subtract as prefixes of each other. A diff
merges consecutive bytes into one Keystroke; every Resize is its own instruction.
"""

from __future__ import annotations

from pymosh.errors import DecodeError
from pymosh.wire.protobuf import (
    Hello,
    Keystroke,
    Resize,
    StreamFrame,
    decode_user_message,
    encode_user_message,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Union

    from pymosh.wire.protobuf import UserMessage

    Event = Union[int, Resize, Hello, StreamFrame]  # an int is one keystroke byte


class UserStream:
    """User input since the last acknowledged state (the transport subtracts acked prefixes)."""

    __slots__ = ("events",)

    def __init__(self, events: List[Event] | None = None) -> None:
        self.events: List[Event] = [] if events is None else events

    # -- application side
    def push_keystroke(self, data: bytes) -> None:
        self.events.extend(data)

    def push_resize(self, width: int, height: int) -> None:
        self.events.append(Resize(width, height))

    def push_hello(self, hello: Hello) -> None:
        """pymosh's handshake; a stock server skips it (see ``Hello``)."""
        self.events.append(hello)

    def push_stream_frame(self, frame: bytes) -> None:
        """A byte-stream frame (only after the server granted FEATURE_STREAMS)."""
        self.events.append(StreamFrame(frame))

    def stream_bytes(self) -> int:
        """Bytes of stream frames not yet acknowledged (the sender subtracts acked ones)."""
        return sum(len(e.data) for e in self.events if type(e) is StreamFrame)

    def __len__(self) -> int:
        return len(self.events)

    def messages(self) -> UserMessage:
        """The events as protocol messages (consecutive bytes merged)."""
        return _merge(self.events, 0)

    # -- SyncState
    def copy(self) -> UserStream:
        return UserStream(self.events[:])

    def diff_from(self, existing: UserStream) -> bytes:
        start = len(existing.events)
        if self.events[:start] != existing.events:
            raise ValueError("diff_from: existing state is not a prefix of this one")
        if start == len(self.events):
            return b""
        return encode_user_message(_merge(self.events, start))

    def init_diff(self) -> bytes:
        return self.diff_from(UserStream())

    def apply_string(self, diff: bytes) -> None:
        add: List[Event] = []
        for event in decode_user_message(diff):
            if isinstance(event, Keystroke):
                add.extend(event.keys)
            elif isinstance(event, (Resize, Hello, StreamFrame)):
                add.append(event)
            else:  # pragma: no cover - the decoder yields only these
                raise DecodeError("unexpected user event")
        self.events.extend(add)

    def subtract(self, prefix: UserStream) -> None:
        if prefix is self:
            self.events.clear()
            return
        n = len(prefix.events)
        if n and self.events[:n] == prefix.events:
            del self.events[:n]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UserStream) and self.events == other.events

    def __repr__(self) -> str:
        return f"UserStream({self.messages()!r})"


def _merge(events: List[Event], start: int) -> UserMessage:
    out: UserMessage = []
    run = start
    for i in range(start, len(events)):
        event = events[i]
        if not isinstance(event, int):  # a Resize, a Hello, ...: its own instruction
            if i > run:
                out.append(Keystroke(bytes(events[run:i])))  # type: ignore[arg-type]  # ints
            out.append(event)
            run = i + 1
    if run < len(events):
        out.append(Keystroke(bytes(events[run:])))  # type: ignore[arg-type]  # ints
    return out
