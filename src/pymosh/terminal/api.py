"""What the rest of pymosh may rely on from an emulator, compiled or twin (interfaces.md).

`Screen` is the cell view the client's overlays draw on (a copy of the server's screen);
`TerminalEmulator` adds what the server, the states and the client use. Both
`pymosh.terminal.emulator.Emulator` and `_fastpath.terminal.Emulator` implement them.
"""

from __future__ import annotations

from pymosh.generics import Protocol, TypeVar

TYPE_CHECKING = False
if TYPE_CHECKING:
    pass

# (contents, fg, bg, attrs, wide, fallback, wrap)
Cell = tuple[str, int, int, int, bool, bool, bool]

E = TypeVar("E", bound="TerminalEmulator")


class Screen(Protocol):
    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    cursor_row: int
    cursor_col: int
    cursor_visible: bool

    def get_cell(self, row: int, col: int) -> Cell: ...

    def set_cell(
        self, row: int, col: int, contents: str, fg: int, bg: int, attrs: int, wide: bool = False
    ) -> None: ...

    def dump(self) -> dict:
        """Everything visible, as plain data (its "renditions" key: the current SGR)."""
        ...


class TerminalEmulator(Screen, Protocol):
    def feed(self, data: bytes) -> None: ...

    def resize(self, width: int, height: int) -> None: ...

    def take_replies(self) -> bytes: ...

    def translate_input(self, data: bytes) -> bytes: ...

    def copy(self: E) -> E: ...

    def set_history_limit(self, lines: int) -> None: ...

    def take_history(
        self, max_lines: int | None = None
    ) -> tuple[int, list[tuple[bytes, bool]], bool]: ...

    @property
    def history_pending(self) -> int: ...

    @property
    def history_pending_bytes(self) -> int: ...

    @property
    def selections(self) -> dict[str, str]: ...
