"""Differential tests against pyte on sequences where xterm, pyte and Mosh agree:
plain text, wrapping, CR/LF, CUP, ED/EL, basic SGR colours and bold, scroll regions."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pyte = pytest.importorskip("pyte")

_COLOURS = ["black", "red", "green", "brown", "blue", "magenta", "cyan", "white"]

_text = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 .,-", min_size=1, max_size=30)
_piece = st.one_of(
    _text,
    # no bare LF: after a pending wrap Mosh (and xterm) clear the flag on LF while pyte
    # keeps its cursor past the edge and wraps the next character ("00000\n0" at width 5)
    st.sampled_from(["\r\n", "\r", "\x1b[0m", "\x1b[1m", "\x1b[m"]),
    # erasures after a CUP: at a pending wrap pyte's cursor sits past the edge
    st.builds(
        lambda r, c, e: f"\x1b[{r};{c}H{e}",
        st.integers(1, 8),
        st.integers(1, 14),
        st.sampled_from(["\x1b[K", "\x1b[1K", "\x1b[2K", "\x1b[J", "\x1b[1J", "\x1b[2J"]),
    ),
    st.builds(lambda r, c: f"\x1b[{r};{c}H", st.integers(1, 8), st.integers(1, 14)),
    st.builds(lambda c: f"\x1b[{c}m", st.sampled_from(list(range(30, 38)) + list(range(40, 48)))),
    # regions reach the bottom: below a region Mosh and pyte disagree on wrapping
    st.builds(lambda t: f"\x1b[{t};99r", st.integers(1, 3)),
)
_stream = st.lists(_piece, max_size=25).map("".join)


def _pyte_screen(width: int, height: int, data: bytes):
    screen = pyte.Screen(width, height)
    pyte.ByteStream(screen).feed(data)
    return screen


def _our_lines(emu) -> list[str]:
    return ["".join(c[0] or " " for c in row) for row in emu.dump()["rows"]]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=_stream, width=st.integers(5, 14), height=st.integers(4, 8))
def test_same_screen_as_pyte(terminal_impl, data: str, width: int, height: int) -> None:
    raw = data.encode()
    screen = _pyte_screen(width, height, raw)
    emu = terminal_impl.Emulator(width, height)
    emu.feed(raw)
    assert _our_lines(emu) == screen.display
    if screen.cursor.x < width:  # pyte parks a pending wrap at x == width
        assert (emu.cursor_row, emu.cursor_col) == (screen.cursor.y, screen.cursor.x)
    for y in range(height):
        for x in range(width):
            ours = emu.get_cell(y, x)
            theirs = screen.buffer[y][x]
            if ours[0] and ours[0] != " ":
                fg = _COLOURS[ours[1] - 30] if ours[1] else "default"
                bg = _COLOURS[ours[2] - 40] if ours[2] else "default"
                assert (fg, bg, bool(ours[3] & 1)) == (theirs.fg, theirs.bg, theirs.bold)


@pytest.mark.parametrize(
    "data",
    [
        b"hello world",
        b"x" * 100,
        b"line1\r\nline2\r\nline3\r\nline4\r\nline5\r\nline6\r\nline7",
        b"\x1b[2;4r\x1b[4;1Ha\r\nb\r\nc\r\nd",
        b"abcdef\x1b[1;3H\x1b[K\x1b[2;1Hxyz\x1b[1J",
    ],
)
def test_fixed_streams_match_pyte(terminal_impl, data: bytes) -> None:
    emu = terminal_impl.Emulator(12, 5)
    emu.feed(data)
    assert _our_lines(emu) == _pyte_screen(12, 5, data).display
