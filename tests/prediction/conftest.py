"""A minimal framebuffer with the Emulator's cell API, so the engines can be tested alone."""

from __future__ import annotations

import pytest

BLANK = ("", 0, 0, 0, False, False, False)


class FakeFramebuffer:
    def __init__(self, width: int = 20, height: int = 4) -> None:
        self.width = width
        self.height = height
        self.rows = [[BLANK] * width for _ in range(height)]
        self.cursor_row = 0
        self.cursor_col = 0
        self.cursor_visible = True
        self.renditions = (0, 0, 0)

    def get_cell(self, row: int, col: int) -> tuple:
        return self.rows[row][col]

    def set_cell(
        self, row: int, col: int, contents: str, fg: int, bg: int, attrs: int, wide: bool = False
    ) -> None:
        self.rows[row][col] = (contents, fg, bg, attrs, wide, False, False)

    def dump(self) -> dict:
        """The part of an emulator's dump the engines read (the current SGR state)."""
        return {"renditions": self.renditions}

    def copy(self) -> FakeFramebuffer:
        other = FakeFramebuffer(self.width, self.height)
        other.rows = [list(r) for r in self.rows]
        other.cursor_row, other.cursor_col = self.cursor_row, self.cursor_col
        other.cursor_visible = self.cursor_visible
        other.renditions = self.renditions
        return other

    # what a shell would do: echo at the cursor, no wrapping
    def echo(self, text: str, fg: int = 0, attrs: int = 0) -> None:
        for ch in text:
            self.set_cell(self.cursor_row, self.cursor_col, ch, fg, 0, attrs)
            self.cursor_col += 1

    def text(self, row: int) -> str:
        return "".join(c[0] or " " for c in self.rows[row]).rstrip()

    def underlined(self, row: int) -> str:
        """'_' under every underlined cell of a row, '.' elsewhere (trailing dots dropped)."""
        return "".join("_" if c[3] & 8 else "." for c in self.rows[row]).rstrip(".")


@pytest.fixture
def fb() -> FakeFramebuffer:
    screen = FakeFramebuffer()
    screen.echo("$ ")
    return screen
