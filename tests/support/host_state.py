"""A stand-in for the client's copy of the server terminal: it decodes HostMessages and
keeps the raw HostBytes (no emulator), enough for transport interop tests."""

from __future__ import annotations

from pymosh.wire.protobuf import EchoAck, HostBytes, Resize, decode_host_message


class RawHostState:
    __slots__ = ("data", "echo_ack", "size")

    def __init__(self) -> None:
        self.data = bytearray()
        self.echo_ack = 0
        self.size: tuple = (0, 0)

    def copy(self) -> RawHostState:
        new = RawHostState()
        new.data = bytearray(self.data)
        new.echo_ack = self.echo_ack
        new.size = self.size
        return new

    def diff_from(self, existing: RawHostState) -> bytes:
        raise NotImplementedError("receive-only state")

    def init_diff(self) -> bytes:
        raise NotImplementedError("receive-only state")

    def apply_string(self, diff: bytes) -> None:
        for event in decode_host_message(diff):
            if isinstance(event, HostBytes):
                self.data += event.data
            elif isinstance(event, Resize):
                self.size = (event.width, event.height)
            elif isinstance(event, EchoAck):
                self.echo_ack = event.num

    def subtract(self, prefix: RawHostState) -> None:
        pass

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawHostState) and (self.data, self.echo_ack, self.size) == (
            other.data,
            other.echo_ack,
            other.size,
        )
