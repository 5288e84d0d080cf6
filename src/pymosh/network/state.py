"""The contract between the SSP transport and the states it synchronises.

It lives here, beside its one consumer, so the layers above (``pymosh.statesync``)
implement it without `network/` importing upwards.
"""

from __future__ import annotations

from pymosh.generics import Generic, Protocol, TypeVar

S = TypeVar("S", bound="SyncState")


class SyncState(Protocol):
    """What `pymosh.network.transport.Transport` needs from a state.

    States are numbered by the transport; a state object only knows how to copy
    itself, describe the way from an older state to itself, and replay such a
    description. Client→server states are `UserStream`s, server→client states are
    complete terminals.
    """

    def copy(self: S) -> S:
        """An independent copy (later changes to either do not affect the other)."""
        ...

    def diff_from(self: S, existing: S) -> bytes:
        """Serialized message that turns `existing` into this state (b"" if equal)."""
        ...

    def init_diff(self) -> bytes:
        """diff_from the initial (state 0) value."""
        ...

    def apply_string(self, diff: bytes) -> None:
        """Apply a diff produced by `diff_from`; DecodeError on garbage."""
        ...

    def subtract(self: S, prefix: S) -> None:
        """Drop an acknowledged prefix (no-op for states that are not streams). The sender
        subtracts the oldest acknowledged state from the others and, last, from itself, once:
        it does not repeat that while the same state stays the oldest (a repeat would
        subtract an emptied prefix)."""
        ...

    def __eq__(self, other: object) -> bool: ...


class TimedState(Generic[S]):
    """A numbered state and when it was sent or received (both ends' queues, §5.4)."""

    __slots__ = ("timestamp", "num", "state")

    def __init__(self, timestamp: float, num: int, state: S) -> None:
        self.timestamp = timestamp
        self.num = num
        self.state = state
