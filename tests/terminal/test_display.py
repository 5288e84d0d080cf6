"""The display differ against the byte strings observed from Mosh 1.4.0 (terminal.md 4.5)."""

from __future__ import annotations

import pytest

E = b"\x1b"


def frames(impl, width, height, before: bytes, after: bytes):
    old = impl.Emulator(width, height)
    old.feed(before)
    new = old.copy()
    new.feed(after)
    return old, new


@pytest.mark.parametrize(
    "before, after, want",
    [
        (b"", b"hello", b"hello"),
        (b"hello", b"\r\nworld", E + b"[?25l\r\nworld" + E + b"[?25h"),
        (b"", b"0123456789abcde", b"012345678" + E + b"[?25l" + E + b"[1;10H9abcde" + E + b"[?25h"),
        (
            b"a\r\nb\r\nc\r\nd",
            b"\r\ne\r\nf",
            E + b"[0m\r\n\n" + E + b"[?25l" + E + b"[3;1He\r\nf" + E + b"[?25h",
        ),
        (
            b"a\r\nb\r\nc\r\nd\x1b[2;3H",
            b"\x1b[4;2H\r\ne\r\nf\x1b[2;3H",
            E
            + b"[0m"
            + E
            + b"[1;4r"
            + E
            + b"[?25l"
            + E
            + b"[4;1H\n\n"
            + E
            + b"[r"
            + E
            + b"[3;1He\r\nf"
            + E
            + b"[2;3H"
            + E
            + b"[?25h",
        ),
        (
            b"",
            b"\x07\x1b]0;title\x07\x1b]52;c;aGVsbG8=\x07\x1b[?5h\x1b[?25l\x1b[?2004h"
            b"\x1b[?1000h\x1b[?1006h",
            b"\x07"
            + E
            + b"]0;title\x07"
            + E
            + b"]52;c;aGVsbG8=\x07"
            + E
            + b"[?5h"
            + E
            + b"[?25l"
            + E
            + b"[?2004h"
            + E
            + b"[?1000h"
            + E
            + b"[?1006h",
        ),
        (
            b"\x1b]0;title\x07\x1b[?1000h\x1b[?1006h",
            b"\x1b]2;other\x07\x1b[?1002h\x1b[?1015h",
            E
            + b"]1;title\x07"
            + E
            + b"]2;other\x07"
            + E
            + b"[?1000l"
            + E
            + b"[?1002h"
            + E
            + b"[?1006l"
            + E
            + b"[?1015h",
        ),
        (b"", b"\x1b[92;103mx", E + b"[0;38;5;10;48;5;11mx"),
        (b"", b"\x1b[1;31mx\x1b[0m", E + b"[0;1;31mx" + E + b"[0m"),
        (b"", b"\x1b[38;5;200;48;2;1;2;3mx\x1b[m", E + b"[0;38;5;200;48;2;1;2;3mx" + E + b"[0m"),
        (b"abc\r\n", b"\xcc\x82", b"\xc2\xa0\xcc\x82"),
        (
            b"abc\r\n",
            b"\x1b[4C\xcc\x82",
            E + b"[?25l" + E + b"[2;5H\xc2\xa0\xcc\x82" + E + b"[?25h",
        ),
        (
            b"hello\r\n\r\nfoo\x1b[H",
            b"\x1b[K",
            E
            + b"[0m"
            + E
            + b"[1;2r"
            + E
            + b"[?25l"
            + E
            + b"[2;1H\n"
            + E
            + b"[r"
            + E
            + b"[1;1H"
            + E
            + b"[?25h",
        ),
    ],
)
def test_observed_mosh_output(terminal_impl, before: bytes, after: bytes, want: bytes) -> None:
    old, new = frames(terminal_impl, 10, 4, before, after)
    assert terminal_impl.new_frame(True, old, new) == want


def test_blue_blanks_use_ech_and_el(terminal_impl) -> None:
    old, new = frames(
        terminal_impl, 10, 4, b"", b"\x1b[44mx   y\x1b[K\r\n\x1b[K\n\x1b[K\n\x1b[K\x1b[1;6H"
    )
    out = terminal_impl.new_frame(True, old, new)
    assert out == (
        E
        + b"[0;44mx   y"
        + E
        + b"[K"
        + E
        + b"[?25l\r\n"
        + E
        + b"[K\n"
        + E
        + b"[K\n"
        + E
        + b"[K"
        + E
        + b"[1;6H"
        + E
        + b"[?25h"
    )


def test_long_blank_run_uses_ech(terminal_impl) -> None:
    old, new = frames(terminal_impl, 20, 2, b"a" * 20 + b"\r\n", b"\x1b[A\x1b[2G\x1b[14X")
    out = terminal_impl.new_frame(True, old, new)
    assert E + b"[14X" in out
    assert b" " * 14 not in out


def test_full_repaint_of_blank_screen(terminal_impl) -> None:
    blank = terminal_impl.Emulator(6, 2)
    assert terminal_impl.new_frame(False, blank, blank) == (
        E
        + b"[?5l"
        + E
        + b"[r"
        + E
        + b"[0m"
        + E
        + b"[H"
        + E
        + b"[2J"
        + E
        + b"[?25l"
        + E
        + b"[K\n"
        + E
        + b"[K"
        + E
        + b"[1;1H"
        + E
        + b"[?25h"
        + E
        + b"[0m"
        + E
        + b"[?2004l"
        + E
        + b"[?1003l"
        + E
        + b"[?1002l"
        + E
        + b"[?1001l"
        + E
        + b"[?1000l"
        + E
        + b"[?1004l"
        + E
        + b"[?1015l"
        + E
        + b"[?1006l"
        + E
        + b"[?1005l"
    )


def test_unchanged_frame_is_empty(terminal_impl) -> None:
    old, new = frames(terminal_impl, 10, 4, b"some text\r\nmore", b"")
    assert terminal_impl.new_frame(True, old, new) == b""


def test_icon_only_change_is_not_inequality(terminal_impl) -> None:
    old, new = frames(terminal_impl, 10, 4, b"\x1b]0;t\x07", b"\x1b]1;icon\x07")
    assert old == new


def test_bottom_row_last_column_cursor_uses_cup(terminal_impl) -> None:
    """Mosh quirk 4.7-1 fixed: no backspace from past the edge."""
    old, new = frames(terminal_impl, 10, 2, b"\r\n", b"0123456789")
    out = terminal_impl.new_frame(True, old, new)
    assert b"\x08" not in out
    receiver = terminal_impl.Emulator(10, 2)
    receiver.feed(b"\r\n")
    receiver.feed(out)
    assert (receiver.cursor_row, receiver.cursor_col) == (1, 9)


def test_resize_frame_repaints(terminal_impl) -> None:
    old, new = frames(terminal_impl, 10, 4, b"abc", b"")
    new.resize(5, 2)
    out = terminal_impl.new_frame(True, old, new)
    assert out.startswith(E + b"[r" + E + b"[0m" + E + b"[H" + E + b"[2J")
    receiver = terminal_impl.Emulator(5, 2)
    receiver.feed(out)
    assert [c[0] for c in receiver.dump()["rows"][0]] == ["a", "b", "c", "", ""]
