"""Display-differ edge cases beyond Mosh 1.4.0's own examples: frames must carry row wrap
flags through wide last characters and 1-/2-column screens, and a resize that cuts a wide
character at the new right edge blanks it (as xterm does) so no frame ever has to draw a
wide character in the last column (terminal.md 2.4, 2.7, 4)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

E = b"\x1b"
WIDE = "世界".encode()


def screen(emu, with_wrap: bool = True):
    """Rendered cells (empty -> space, fallback -> NBSP + marks), renditions and wide bits,
    plus each row's wrap bit except the bottom row's (a soft wrap out of the bottom row
    would scroll)."""
    rows = emu.dump()["rows"]
    cells = [
        [
            ("right half",)
            if _right_half(row, x)
            else (("\u00a0" if c[5] else "") + c[0] or " ",) + tuple(c[1:5])
            for x, c in enumerate(row)
        ]
        for row in rows
    ]
    wraps = [row[-1][6] for row in rows[:-1]] if with_wrap else []
    return cells, wraps


def _right_half(row, x: int) -> bool:
    """Is cell x under a wide character's right half? (never drawn: terminal.md 4.7-7)"""
    return bool(x) and bool(row[x - 1][4]) and not _right_half(row, x - 1)


def client_of(impl, emu):
    """A receiver that was drawn ``emu`` by a full repaint."""
    client = impl.Emulator(emu.width, emu.height)
    client.feed(impl.new_frame(False, impl.Emulator(emu.width, emu.height), emu))
    return client


def round_trip(impl, before: bytes, after: bytes, width: int, height: int):
    old = impl.Emulator(width, height)
    old.feed(before)
    new = old.copy()
    new.feed(after)
    client = client_of(impl, old)
    assert screen(client) == screen(old)
    frame = impl.new_frame(True, old, new)
    client.feed(frame)
    assert screen(client) == screen(new)
    assert client.dump()["cursor"] == new.dump()["cursor"]
    return frame


# ---------------------------------------------------------------- (1) wide last character


def test_wrap_of_a_row_ending_in_a_wide_character(terminal_impl):
    """The wrap bit sits on the cell under the wide character's right half, which the
    differ never visits; when only that bit changes the wide character is redrawn (with the
    CUP a wrapped row's last cell always gets) so the receiver performs the soft wrap."""
    frame = round_trip(terminal_impl, WIDE * 20, "x世".encode(), 80, 24)
    assert frame == (
        E + b"[?25l" + E + b"[1;79H" + "界".encode() + "x世".encode() * 1 + E + b"[?25h"
    )


def test_wide_last_character_then_long_line(terminal_impl):
    frame = round_trip(terminal_impl, WIDE * 20, "x世".encode() * 10, 80, 24)
    assert frame.startswith(E + b"[?25l" + E + b"[1;79H" + "界x世".encode())
    assert b"\r\n" not in frame


@pytest.mark.parametrize("width", [9, 10])
def test_wrapped_rows_of_wide_characters_full_repaint(terminal_impl, width):
    emu = terminal_impl.Emulator(width, 6)
    emu.feed("中".encode() * 17)
    assert screen(client_of(terminal_impl, emu)) == screen(emu)


def test_unchanged_wide_last_character_is_not_redrawn(terminal_impl):
    """Same wrap bit before and after: the Mosh bytes (nothing on row 0) are kept."""
    frame = round_trip(terminal_impl, WIDE * 20 + b"x", b"y", 80, 24)
    assert frame == b"y"


# ---------------------------------------------------------------- (2) 1- and 2-column screens


def test_one_column_full_repaint_keeps_wrap_flags(terminal_impl):
    emu = terminal_impl.Emulator(1, 6)
    emu.feed(b";J9")
    frame = terminal_impl.new_frame(False, terminal_impl.Emulator(1, 6), emu)
    assert E + b"[1;1H;J9\r\n" in frame  # one CUP, then the receiver wraps twice
    assert screen(client_of(terminal_impl, emu)) == screen(emu)


def test_one_column_wrap_chain_through_an_unchanged_row(terminal_impl):
    """Writing the wrapped-in cell of a 1-column row resets that row's own wrap bit on the
    receiver, so the chain must go on even through rows the differ would otherwise skip."""
    old = terminal_impl.Emulator(1, 6)
    old.feed(b"abcd")
    new = old.copy()
    new.set_cell(0, 0, "Z", 0, 0, 0)
    client = client_of(terminal_impl, old)
    frame = terminal_impl.new_frame(True, old, new)
    assert frame.startswith(E + b"[?25l" + E + b"[1;1HZbcd\r\n")
    client.feed(frame)
    assert screen(client) == screen(new)


def test_two_columns_of_wide_characters(terminal_impl):
    emu = terminal_impl.Emulator(2, 5)
    emu.feed("中文字".encode())
    assert screen(emu)[1][:2] == [True, True]
    assert screen(client_of(terminal_impl, emu)) == screen(emu)
    round_trip(terminal_impl, "中文".encode(), "字x".encode(), 2, 5)


NARROW = st.lists(
    st.sampled_from(
        [
            b"a",
            b"b",
            "中".encode(),
            "\u0301".encode(),
            b"\r\n",
            b"\n",
            b"\b",
            b" ",
            b"\x1b[H",
            b"\x1b[2;1H",
            b"\x1b[K",
            b"\x1b[41m",
            b"\x1b[m",
            b"\x1b[@",
            b"\x1b[P",
        ]
    ),
    max_size=40,
).map(b"".join)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(width=st.integers(1, 4), height=st.integers(1, 5), before=NARROW, after=NARROW)
def test_narrow_screens_round_trip_with_wrap_flags(terminal_impl, width, height, before, after):
    old = terminal_impl.Emulator(width, height)
    old.feed(before)
    new = old.copy()
    new.feed(after)
    client = client_of(terminal_impl, old)
    rows = old.dump()["rows"]
    if any(row[-1][4] for row in rows + new.dump()["rows"]):
        return  # a wide cell in the last column (ICH/DCH on wide text): not drawable
    if any(
        _right_half(row, x) and row[x][:4] != ("", 0, row[x - 1][2], 0)
        for row in rows
        for x in range(len(row))
    ):
        return  # a stray right half the receiver does not have (terminal.md 4.7-7)
    assert screen(client) == screen(old)
    client.feed(terminal_impl.new_frame(True, old, new))
    assert screen(client) == screen(new)


# ---------------------------------------------------------------- (3) resize cuts a wide char


def test_resize_blanks_a_wide_character_cut_at_the_new_edge(terminal_impl):
    emu = terminal_impl.Emulator(10, 3)
    emu.feed("abcdefgh中\x1b[44m".encode())
    emu.resize(9, 3)
    assert emu.get_cell(0, 8)[:5] == ("", 0, 44, 0, False)
    assert [emu.get_cell(0, x)[0] for x in range(8)] == list("abcdefgh")


def test_resize_keeps_a_wide_character_that_still_fits(terminal_impl):
    emu = terminal_impl.Emulator(10, 3)
    emu.feed("abcdefg中".encode())
    emu.resize(9, 3)
    assert emu.get_cell(0, 7)[:5] == ("中", 0, 0, 0, True)


def test_resize_blanks_cut_wide_characters_of_the_saved_main_screen(terminal_impl):
    emu = terminal_impl.Emulator(10, 3)
    emu.feed("abcdefgh中\x1b[?1049h".encode())
    emu.resize(9, 3)
    emu.feed(b"\x1b[?1049l")
    assert emu.get_cell(0, 8)[4] is False


def test_frame_after_a_resize_cutting_a_wide_character(terminal_impl):
    e = terminal_impl
    a = e.Emulator(79, 24)
    a.feed("lie6b\ufffd\ufffd\ufffd疕".encode())
    b = a.copy()
    b.resize(9, 30)
    frame = e.new_frame(True, a, b)
    assert "疕".encode() not in frame
    # the frame is a full repaint, so a stock mosh-client (whose resize keeps the cut wide
    # cell) ends up with the same screen as ours
    stock = e.Emulator(9, 30)
    stock.feed("lie6b\ufffd\ufffd\ufffd".encode())
    stock.set_cell(0, 8, "疕", 0, 0, 0, True)
    stock.feed(frame)
    ours = e.Emulator(79, 24)
    ours.feed(e.new_frame(False, e.Emulator(79, 24), a))
    ours.resize(9, 30)
    ours.feed(frame)
    assert screen(stock) == screen(ours) == screen(b)
