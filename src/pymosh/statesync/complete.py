"""The server's state: the terminal emulator plus the echo ack (protocol.md §6.2–6.3).

``diff_from`` yields a serialized HostMessage (pymosh's Hello when it changed, then EchoAck,
Resize, HostBytes, stream frames, History — in that order; a stock client's state never
gets a Hello, stream frames nor History);
``apply_string`` replays one on the client's copy. The echo ack tells the client which of
its input states the screen reflects: the newest one that arrived at least ECHO_TIMEOUT ago.
"""

from __future__ import annotations

import math

from pymosh.errors import DecodeError
from pymosh.statesync.history import HistoryWindow
from pymosh.statesync.stream_log import StreamLog
from pymosh.terminal import Emulator, new_frame
from pymosh.wire.protobuf import (
    FEATURE_CLIPBOARD,
    EchoAck,
    Hello,
    History,
    HostBytes,
    HostMessage,
    Resize,
    StreamFrame,
    decode_host_message,
    encode_host_message,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Tuple

ECHO_TIMEOUT = 50  # ms a keystroke state gets to be echoed before it is acknowledged


class CompleteTerminal:
    """Emulator + echo_ack; a SyncState (see ``pymosh.network.state``)."""

    __slots__ = ("terminal", "echo_ack", "input_history", "hello", "history", "streams")

    def __init__(self, width: int, height: int, terminal: Emulator | None = None) -> None:
        self.terminal = Emulator(width, height) if terminal is None else terminal
        self.echo_ack = 0
        # the server's answer to a pymosh client's hello (None: a stock peer, or not yet)
        self.hello: Hello | None = None
        # (user state number, arrival time), oldest first; only the server uses it
        self.input_history: List[Tuple[int, float]] = []
        # scrollback lines (statesync/history.py); None unless the client asked for them
        self.history: HistoryWindow | None = None
        # server→client byte-stream frames (issue #18; empty unless FEATURE_STREAMS)
        self.streams = StreamLog()

    @property
    def width(self) -> int:
        return self.terminal.width

    @property
    def height(self) -> int:
        return self.terminal.height

    # ------------------------------------------------------------ server side

    def act(self, host_output: bytes) -> bytes:
        """Feed pty output to the emulator; return its replies (for the pty)."""
        self.terminal.feed(host_output)
        return self.terminal.take_replies()

    def register_input_frame(self, num: int, now: float) -> None:
        """A user state carrying events arrived (numbers increase)."""
        self.input_history.append((num, now))

    def set_echo_ack(self, now: float) -> bool:
        """Advance echo_ack to the newest input state at least ECHO_TIMEOUT old.

        Returns True if it changed (a state change to send). Older records are dropped;
        the acknowledged one is kept, so echo_ack never decreases.
        """
        newest = self.echo_ack
        keep_from = 0
        for i, (num, arrived) in enumerate(self.input_history):
            if arrived <= now - ECHO_TIMEOUT:
                newest, keep_from = max(newest, num), i
        del self.input_history[:keep_from]
        changed = newest != self.echo_ack
        self.echo_ack = newest
        return changed

    def wait_time(self, now: float) -> float:
        """ms until the second-oldest input record is old enough to be acknowledged."""
        if len(self.input_history) < 2:
            return math.inf
        due = self.input_history[1][1] + ECHO_TIMEOUT
        return max(due - now, 0)

    # ------------------------------------------------------------ SyncState

    def copy(self) -> CompleteTerminal:
        other = CompleteTerminal.__new__(CompleteTerminal)
        other.terminal = self.terminal.copy()
        other.echo_ack = self.echo_ack
        other.input_history = list(self.input_history)
        other.hello = self.hello
        other.history = None if self.history is None else self.history.copy()
        other.streams = self.streams.copy()
        return other

    def diff_from(self, existing: CompleteTerminal) -> bytes:
        message: HostMessage = []
        if self.hello is not None and self.hello != existing.hello:
            message.append(self.hello)
        if self.echo_ack != existing.echo_ack:
            message.append(EchoAck(self.echo_ack))
        clipboard = self._clipboard()
        if not self.terminal == existing.terminal or (
            clipboard and self.terminal.selections != existing.terminal.selections
        ):
            if (self.width, self.height) != (existing.width, existing.height):
                message.append(Resize(self.width, self.height))
            frame = new_frame(
                True, existing.terminal, self.terminal, clipboard_selections=clipboard
            )
            if frame:
                message.append(HostBytes(frame))
        message.extend(self.streams.diff_items(existing.streams))
        if self.history is not None:  # behind the screen; paced by HistoryLog.pump
            body = self.history.diff_from(existing.history or HistoryWindow())
            if body:
                message.append(History(body))
        return encode_host_message(message) if message else b""

    def _clipboard(self) -> bool:
        """Every OSC 52 selection goes to the client (it asked; the server granted)."""
        return self.hello is not None and bool(self.hello.features & FEATURE_CLIPBOARD)

    def init_diff(self) -> bytes:
        return self.diff_from(CompleteTerminal(self.width, self.height))

    def apply_string(self, diff: bytes) -> None:
        for item in decode_host_message(diff):
            if isinstance(item, HostBytes):
                self.terminal.feed(item.data)
                # a stock server never makes the client's emulator answer; drop any reply
                self.terminal.take_replies()
            elif isinstance(item, Resize):
                if item.width < 1 or item.height < 1:
                    raise DecodeError("resize to a non-positive size")
                self.terminal.resize(item.width, item.height)
            elif isinstance(item, EchoAck):
                if item.num < self.echo_ack:
                    raise DecodeError("echo ack went backwards")
                self.echo_ack = item.num
            elif isinstance(item, Hello):
                self.hello = item
            elif isinstance(item, History) and self.history is not None:
                self.history.apply(item.body)
            elif isinstance(item, StreamFrame):
                self.streams.apply(item.data)

    def subtract(self, prefix: CompleteTerminal) -> None:
        """The terminal is not a stream; drop the stream frames and history lines the
        client has acknowledged (``prefix``)."""
        self.streams.trim(prefix.streams.next)
        if self.history is not None and prefix.history is not None:
            self.history.subtract(prefix.history)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompleteTerminal):
            return NotImplemented
        # the sender compares the live state with a sent copy on every turn: cheap tests
        # first, and the hello (shared by the copies) by identity before by value
        hello = self.hello
        return (
            self.echo_ack == other.echo_ack
            and (hello is other.hello or hello == other.hello)
            and self.history == other.history
            and self.streams == other.streams
            and self.terminal == other.terminal
            and (
                hello is None
                or not hello.features & FEATURE_CLIPBOARD
                or self.terminal.selections == other.terminal.selections
            )
        )

    __hash__ = None  # type: ignore[assignment]
