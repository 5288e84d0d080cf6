"""Scrollback capture (issue #14): Emulator.set_history_limit / take_history, on both
implementations; test_fastpath_equivalence.py checks they agree on random input."""

from __future__ import annotations

import pytest

from tests.terminal.corpus import CASES


def _emu(impl, width=10, height=3, limit=100):
    emu = impl.Emulator(width, height)
    emu.set_history_limit(limit)
    return emu


def _seq(first: int, last: int) -> bytes:
    return b"".join(b"%d\r\n" % i for i in range(first, last + 1))


def test_off_by_default(terminal_impl):
    emu = terminal_impl.Emulator(10, 3)
    emu.feed(_seq(1, 50) + b"\x1b[3J")
    assert emu.take_history() == (0, [], False)


def test_seq_lines_in_order_exactly_once(terminal_impl):
    emu = _emu(terminal_impl, limit=1000)
    got = []
    for i in range(1, 301, 7):  # taken in pieces: nothing lost or repeated between calls
        emu.feed(_seq(i, min(i + 6, 300)))
        dropped, lines, cleared = emu.take_history()
        assert (dropped, cleared) == (0, False)
        got += lines
    # 300 lines + the cursor's empty row on a 3-row screen: the last 2 are still shown
    assert got == [(b"%d" % i, False) for i in range(1, 299)]


def test_dropped_counts_exact(terminal_impl):
    emu = _emu(terminal_impl, limit=5)
    emu.feed(_seq(1, 22))
    dropped, lines, _ = emu.take_history()
    assert dropped == 15  # 20 rows scrolled off (1..20), the newest 5 kept
    assert lines == [(b"%d" % i, False) for i in range(16, 21)]
    emu.feed(b"\r\n")
    assert emu.take_history() == (0, [(b"21", False)], False)


def test_one_scroll_of_more_rows_than_the_limit_keeps_the_newest(terminal_impl):
    emu = _emu(terminal_impl, height=20, limit=5)
    emu.feed(_seq(1, 22))  # rows 1..3 scroll off, 4..22 and the cursor's row are shown
    emu.feed(b"\x1b[20S")  # SU: the whole screen at once, more rows than the limit
    dropped, lines, _ = emu.take_history()
    assert dropped == 18
    assert lines == [(b"%d" % i, False) for i in range(19, 23)] + [(b"", False)]
    assert emu.history_pending == 0


@pytest.mark.parametrize("asked", [10**30, 2**63, 1_000_001, -5])
def test_absurd_limits_are_clamped(terminal_impl, asked):
    emu = _emu(terminal_impl, limit=asked)
    emu.feed(_seq(1, 30))
    dropped, lines, _ = emu.take_history()
    assert (dropped, len(lines)) == ((0, 28) if asked > 0 else (0, 0))


def test_smaller_limit_drops_oldest_and_zero_turns_off(terminal_impl):
    emu = _emu(terminal_impl, limit=10)
    emu.feed(_seq(1, 8))
    emu.set_history_limit(2)
    assert emu.take_history() == (4, [(b"5", False), (b"6", False)], False)
    emu.set_history_limit(0)
    emu.feed(_seq(1, 8))
    assert emu.take_history() == (0, [], False)


def test_rendering_keeps_renditions_wide_and_combining(terminal_impl):
    emu = _emu(terminal_impl, width=20)
    emu.feed("\x1b[1;31mred\x1b[0m 中e\u0301 \x1b[44m  \x1b[0m   \r\n".encode())
    emu.feed(b"plain   \r\n\x1b[7m\x1b[K\x1b[0m\r\n\r\n\r\n")
    _, lines, _ = emu.take_history()
    assert lines[0] == ("\x1b[0;1;31mred\x1b[0m 中e\u0301 \x1b[0;44m  \x1b[0m".encode(), False)
    assert lines[1] == (b"plain", False)  # trailing default blanks trimmed, no SGR at all
    # an erased row in inverse: blanks in a non-default rendition are kept (EL keeps the bg
    # only: attributes of the pen are not part of an erased cell, so this one is default)
    assert lines[2] == (b"", False)


def test_coloured_background_blanks_are_kept(terminal_impl):
    emu = _emu(terminal_impl, width=4)
    emu.feed(b"\x1b[42m\x1b[2K\x1b[0mab\r\n\r\n\r\n")
    _, lines, _ = emu.take_history()
    assert lines[0] == (b"ab\x1b[0;42m  \x1b[0m", False)


def test_soft_wraps_are_flagged(terminal_impl):
    emu = _emu(terminal_impl, width=4)
    emu.feed(b"abcdefghij\r\n\r\n\r\n\r\n")
    _, lines, _ = emu.take_history()
    assert lines[:3] == [(b"abcd", True), (b"efgh", True), (b"ij", False)]


def test_wide_character_wrapping_early(terminal_impl):
    emu = _emu(terminal_impl, width=5)
    emu.feed("abcd中\r\n\r\n\r\n\r\n".encode())
    _, lines, _ = emu.take_history()
    assert lines[:2] == [(b"abcd", False), ("中".encode(), False)]


def test_alternate_screen_adds_nothing(terminal_impl):
    emu = _emu(terminal_impl)
    emu.feed(b"main\r\n\x1b[?1049h" + _seq(1, 30) + b"\x1b[5S\x1b[H\x1b[3M\x1b[?1049l")
    assert emu.take_history() == (0, [], False)
    emu.feed(b"\x1b[?47h" + _seq(1, 30) + b"\x1b[?47l\r\n\r\n\r\n")  # (47 keeps the cursor)
    assert emu.take_history()[1] == [(b"main", False), (b"", False), (b"", False)]


def test_clear_screen_pushes_nothing(terminal_impl):
    emu = _emu(terminal_impl)
    emu.feed(b"a\r\nb\r\nc\x1b[H\x1b[2J" + b"\x1b[H\x1b[J" + b"x\x1b[1J")  # clear, Ctrl-L
    assert emu.take_history() == (0, [], False)


def test_erase_saved_lines(terminal_impl):
    emu = _emu(terminal_impl, limit=3)
    emu.feed(_seq(1, 10) + b"\x1b[3J")
    assert emu.take_history() == (0, [], True)
    emu.feed(_seq(1, 10) + b"\x1b[3J" + b"x\r\ny\r\nz\r\n")
    assert emu.get_cell(0, 0)[0] == "y"  # the screen is untouched by ED 3
    assert emu.take_history() == (0, [(b"9", False), (b"10", False), (b"x", False)], True)
    assert emu.take_history() == (0, [], False)


@pytest.mark.parametrize(
    ("setup", "ops", "expected"),
    [
        (b"", b"\x1b[2S", [b"1", b"2"]),  # SU, full screen
        (b"\x1b[1;2r", b"\x1b[2;1H\n\n", [b"1", b"2"]),  # region at the top: like xterm
        (b"\x1b[2;3r", b"\x1b[3;1H\n\n\x1b[S", []),  # region below the top: nothing
        (b"", b"\x1b[H\x1b[2M", [b"1", b"2"]),  # DL on the first row
        (b"", b"\x1b[2;1H\x1b[2M", []),  # DL further down
        (b"", b"\x1b[H\x1b[2L\x1b[2T\x1bM", []),  # IL, SD, RI: off the bottom
        (b"", b"\x1b[3;1H\x1bD\x1bE", [b"1", b"2"]),  # IND, NEL at the bottom
    ],
)
def test_which_scrolls_count(terminal_impl, setup, ops, expected):
    emu = _emu(terminal_impl)
    emu.feed(b"1\r\n2\r\n3" + setup)
    emu.feed(ops)
    assert [line for line, _ in emu.take_history()[1]] == expected


def test_resize_adds_nothing(terminal_impl):
    emu = _emu(terminal_impl, height=5)
    emu.feed(b"1\r\n2\r\n3\r\n4\r\n5")
    emu.resize(10, 2)
    emu.resize(3, 8)
    assert emu.take_history() == (0, [], False)
    emu.feed(b"\x1b[8;1H\r\n")
    assert emu.take_history() == (0, [(b"1", False)], False)


def test_copy_keeps_limit_not_pending_lines(terminal_impl):
    emu = _emu(terminal_impl)
    emu.feed(_seq(1, 5))
    other = emu.copy()
    assert other.take_history() == (0, [], False)
    other.feed(b"\r\n")
    assert other.take_history() == (0, [(b"4", False)], False)
    assert [x for x, _ in emu.take_history()[1]] == [b"1", b"2", b"3"]


def test_long_line_is_width_bounded(terminal_impl):
    emu = _emu(terminal_impl, width=80, height=24, limit=50)
    emu.feed(b"\x1b[31m" + b"x" * 1_000_000 + b"\x1b[0m\r\n")
    dropped, lines, _ = emu.take_history()
    assert len(lines) == 50 and dropped == 1_000_000 // 80 - 23 - 50
    assert all(line == (b"\x1b[0;31m" + b"x" * 80 + b"\x1b[0m", True) for line in lines)


def test_rows_kept_are_not_changed_by_later_output(terminal_impl):
    emu = _emu(terminal_impl, width=6, height=2)
    emu.feed(b"abc\r\n")
    emu.feed(b"\r\n")  # "abc" leaves the screen
    snapshot = emu.copy()
    emu.feed(b"\x1b[H\x1b[2Jxyz\x1b[5@")
    assert emu.take_history()[1] == [(b"abc", False)]
    assert snapshot.take_history() == (0, [], False)


def test_corpus_cases(terminal_impl):
    """Every shared emulator vector run with history on: lines are what left the screen."""
    for case in CASES:
        emu = _emu(terminal_impl, case.width, case.height, limit=1000)
        emu.feed(case.data)
        dropped, lines, _ = emu.take_history()
        assert dropped == 0 and len(lines) <= 1000, case.name
        assert all(isinstance(b, bytes) and isinstance(w, bool) for b, w in lines), case.name


def test_partial_takes_leave_the_rest_pending_unrendered(terminal_impl):
    emu = _emu(terminal_impl, limit=1000)
    emu.feed(_seq(1, 12))  # 1..10 left the 3-row screen
    assert emu.history_pending == 10
    assert emu.take_history(3) == (0, [(b"1", False), (b"2", False), (b"3", False)], False)
    assert emu.history_pending == 7
    assert emu.take_history(0) == (0, [], False)
    emu.feed(_seq(13, 14))
    assert [x for x, _ in emu.take_history()[1]] == [b"%d" % i for i in range(4, 13)]
    assert emu.history_pending == 0


def test_a_full_ring_counts_the_overflow_and_recycles_rows_intact(terminal_impl):
    """Bulk output through a full ring: each scroll hands the oldest kept row back as the
    new blank row; a recycled long, coloured or soft-wrapped row leaves nothing behind."""
    emu = _emu(terminal_impl, width=10, height=3, limit=20)
    lines = [
        b"\x1b[41m" + b"b" * 9 + b"\x1b[0m",  # background to the edge of the text
        b"w" * 15,  # soft-wraps: two rows
        b"y",
        b"\x1b[1mzz\x1b[0m",
        b"x" * 9,
    ]
    printed = [lines[i % len(lines)] for i in range(400)]
    emu.feed(b"\r\n".join(printed) + b"\r\n")
    rows = []  # what each printed line leaves in the history: rows of 10 cells
    for line in printed:
        if line == b"w" * 15:
            rows += [(b"w" * 10, True), (b"w" * 5, False)]
        elif line.startswith(b"\x1b[41m"):
            rows.append((b"\x1b[0;41m" + b"b" * 9 + b"\x1b[0m", False))
        elif line.startswith(b"\x1b[1m"):
            rows.append((b"\x1b[0;1mzz\x1b[0m", False))
        else:
            rows.append((line, False))
    scrolled = rows[:-2]  # the last two rows are still on the 3-row screen
    dropped, got, _ = emu.take_history(5)
    assert dropped == len(scrolled) - 20
    assert got == scrolled[-20:-15]
    emu.feed(b"y\r\n" * 8)  # 15 pending + 8 scrolls: the 3 oldest are evicted
    dropped, got, _ = emu.take_history()
    assert dropped == 3 and got == scrolled[-12:] + rows[-2:] + [(b"y", False)] * 6
    for y in range(3):  # the screen shows what was printed, nothing from recycled rows
        assert [emu.get_cell(y, x)[0] for x in range(10)] == (["y"] if y < 2 else [""]) + [""] * 9


def test_pending_bytes_follow_the_rows_kept(terminal_impl):
    """What the ring holds is counted (HistoryLog keeps it within ROW_BUDGET): about a byte
    per character of a row's text, whatever the screen's width."""
    short, full = _emu(terminal_impl, width=200, height=3), _emu(terminal_impl, width=200, height=3)
    assert short.history_pending_bytes == 0
    short.feed(_seq(1, 52))
    full.feed(b"".join(b"%d%s\r\n" % (i % 10, b"x" * 149) for i in range(1, 53)))
    assert short.history_pending == full.history_pending == 50
    assert 0 < short.history_pending_bytes
    # a byte per character of text (148 more each), never a record per column
    assert full.history_pending_bytes - short.history_pending_bytes >= 50 * 140
    assert full.history_pending_bytes < 50 * 300
    before = full.history_pending_bytes
    assert [x[:2] for x, _ in full.take_history(2)[1]] == [b"1x", b"2x"]
    assert full.history_pending_bytes == before * 48 // 50
    short.take_history()
    assert short.history_pending_bytes == 0


@pytest.mark.parametrize(
    "data, line",
    [
        (  # 24-bit colour art (the truecolor corpus), then ASCII in the defaults
            "\x1b[38;2;1;2;3;48;2;4;5;6m▀\x1b[38;2;7;8;9m▀\x1b[0mab",
            "\x1b[0;38;2;1;2;3;48;2;4;5;6m▀\x1b[0;38;2;7;8;9;48;2;4;5;6m▀\x1b[0mab\x1b[0m",
        ),
        # a combining mark on the wide character last printed; the last cell printed over
        ("ab中\u0301\x1b[31mx\b\x1b[32my", "ab中\u0301\x1b[0;32my\x1b[0m"),
        # ... in the renditions before it; then EL in a colour past the end
        ("ab\x1b[31mc\b\x1b[0mz\x1b[44m\x1b[K\x1b[0m", "abz\x1b[0;44m       \x1b[0m"),
        ("é\tb\x1b[K", "é       b"),  # a tab over blanks; EL past the end
        ("ab中cd\x1b[4D\u0301", "ab中\u0301cd"),  # a combining mark further back
        ("\x1b[1mab中cd\x1b[3D\x1b[K", "\x1b[0;1mab中\x1b[0m"),  # EL inside the row
        ("é中x\x1b[1G\x1b[P", "中x"),  # DCH
    ],
)
def test_rows_written_in_any_order_leave_as_shown(terminal_impl, data, line):
    """However a row was written (the fast path carries a history record for rows written
    left to right and encodes the others as they leave), it leaves as the screen showed it."""
    emu = _emu(terminal_impl)
    emu.feed(data.encode() + b"\r\n" * 3)
    assert emu.take_history()[1][0] == (line.encode(), False)
