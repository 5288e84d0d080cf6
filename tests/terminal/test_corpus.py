"""The shared vectors of corpus.py, run on the twin and the fast path."""

from __future__ import annotations

import pytest

from .corpus import CASES, Case, render_row


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(terminal_impl, case: Case) -> None:
    emu = terminal_impl.Emulator(case.width, case.height)
    emu.feed(case.data)
    if case.resize is not None:
        emu.resize(*case.resize)
    dump = emu.dump()
    assert dump["size"] == (case.resize or (case.width, case.height))
    if case.lines is not None:
        assert [render_row(row) for row in dump["rows"]] == case.lines
    if case.cursor is not None:
        assert dump["cursor"] == case.cursor
        assert (emu.cursor_row, emu.cursor_col) == case.cursor
    for (row, col), want in case.cells.items():
        assert emu.get_cell(row, col)[:4] == want, (row, col)
    for key, want in case.expect.items():
        assert dump[key] == want, key
    for key, want in case.modes.items():
        assert dump["modes"][key] == want, key
    if case.wrapped_rows is not None:
        assert [y for y, row in enumerate(dump["rows"]) if row[-1][6]] == case.wrapped_rows
    assert emu.take_replies() == case.replies
    assert emu.take_replies() == b""


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_fed_byte_by_byte(terminal_impl, case: Case) -> None:
    """Chunk boundaries (inside UTF-8, CSI, OSC) never change the result."""
    whole = terminal_impl.Emulator(case.width, case.height)
    whole.feed(case.data)
    split = terminal_impl.Emulator(case.width, case.height)
    for i in range(len(case.data)):
        split.feed(case.data[i : i + 1])
    if case.resize is not None:
        whole.resize(*case.resize)
        split.resize(*case.resize)
    assert split.dump() == whole.dump()
    assert split.take_replies() == whole.take_replies()
