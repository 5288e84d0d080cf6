"""The client's history painting (frontend/scrollback.py), checked on an emulated local
terminal that keeps a history: exactly the server's lines reach it, nothing it displayed."""

from __future__ import annotations

import math
import re

import pytest

from pymosh.frontend.scrollback import (
    MOVING_GAP,
    PAINT_GAP,
    LocalScrollback,
    no_history_clear,
    paint,
    sanitize,
    setting,
)
from pymosh.statesync.complete import CompleteTerminal
from pymosh.statesync.history import HistoryLog
from pymosh.wire.protobuf import FEATURE_SCROLLBACK, Hello


def _terminal(impl, width=20, height=5):
    term = impl.Emulator(width, height)
    term.set_history_limit(10_000)
    return term


def _history(term) -> list:
    """The terminal's new history lines, soft-wrapped rows joined, SGR removed."""
    dropped, rows, cleared = term.take_history()
    assert dropped == 0
    out, joined = [], b""
    for text, wrapped in rows:
        joined += re.sub(rb"\x1b\[[0-9;]*m", b"", text)
        if not wrapped:
            out.append(joined)
            joined = b""
    return out + ([joined] if joined else [])


def _screen_text(term) -> list:
    return [term.dump()["rows"][y] for y in range(term.height)]


def test_lines_land_in_the_history_exactly_once_and_the_screen_is_repainted(terminal_impl):
    impl = terminal_impl
    real = _terminal(impl)  # the user's terminal
    local = impl.Emulator(20, 5)  # what the client believes it shows
    shown = impl.Emulator(20, 5)
    shown.feed(b"prompt $ ls\r\n[notification]")  # the last frame, overlays included
    real.feed(impl.new_frame(False, local, shown))
    assert _history(real) == []
    local = shown.copy()
    events = [
        ("line", b"one", False),
        ("line", b"\x1b[31mtwo\x1b[0m", False),
        ("gap", 1234, False),
    ] + [("line", b"n%d" % i, False) for i in range(12)]
    real.feed(paint(events, local))
    assert _history(real) == [b"one", b"two", b"[pymosh: 1234 lines skipped]"] + [
        b"n%d" % i for i in range(12)
    ]
    assert _screen_text(real) == _screen_text(local)  # the model stayed exact
    frame = impl.Emulator(20, 5)
    frame.feed(b"after")
    real.feed(impl.new_frame(True, local, frame))
    assert _screen_text(real) == _screen_text(frame)
    assert _history(real) == []


def test_soft_wrapped_lines_and_wide_lines_keep_their_rows(terminal_impl):
    impl = terminal_impl
    real = _terminal(impl, width=10, height=4)
    local = impl.Emulator(10, 4)
    events = [
        ("line", b"0123456789", True),
        ("line", b"abc", False),
        ("line", b"trimmed", True),
        ("line", b"next", False),
        ("line", b"x" * 25, False),
        ("line", b"last", False),
    ]
    real.feed(paint(events, local))
    rows = real.take_history()[1]
    assert rows == [
        (b"0123456789", True),
        (b"abc", False),
        (b"trimmed", True),
        (b"next", False),
        (b"x" * 10, True),
        (b"x" * 10, True),
        (b"x" * 5, False),
        (b"last", False),
    ]


def test_full_repaints_never_use_erase_display(terminal_impl):
    impl = terminal_impl
    real = _terminal(impl, 20, 5)
    blank = impl.Emulator(20, 5)
    frame = impl.Emulator(20, 5)
    frame.feed(b"a\r\nb\r\nc\r\nd\r\ne")
    real.feed(impl.new_frame(False, blank, frame))
    repaint = no_history_clear(impl.new_frame(False, frame, frame), 5)
    assert b"\x1b[2J" not in repaint and b"\x1b[2K" in repaint
    real.feed(repaint)
    assert _screen_text(real) == _screen_text(frame)


def test_sanitize_keeps_text_and_sgr_only():
    assert sanitize(b"\x1b[1;31mred\x1b[0m") == b"\x1b[1;31mred\x1b[0m"
    assert sanitize(b"a\x1b]52;c;AAAA\x07b\x1b[2Jc\x9b\r\n\x00") == "abc\ufffd".encode()
    assert sanitize(b"\xff\xfe ok \xe2\x82") == "\ufffd\ufffd ok \ufffd".encode()
    assert sanitize("e\u0301\u0301".encode()) == "e\u0301\u0301".encode()


def test_setting_parses_lines():
    assert setting(None) >= 10_000 and setting("0") == 0 and setting("123") == 123
    assert setting("9" * 40) == 1_000_000  # absurd: what a server grants at most
    with pytest.raises(ValueError):
        setting("-5")


def _granted_state(hello: Hello | None, lines) -> CompleteTerminal:
    state = CompleteTerminal(20, 5)
    state.hello = hello
    log = HistoryLog(100)
    state.history = log.window
    log.feed(0, [(line, False) for line in lines], False)
    log.pump()
    return state


def test_client_stays_on_the_alternate_screen_unless_the_server_grants_scrollback(terminal_impl):
    impl = terminal_impl
    stock = _granted_state(None, [b"forged"])
    mode = LocalScrollback(1000)
    assert mode.before_draw(stock, impl.Emulator(20, 5), 20, 5, 0) == (b"", False)
    refused = _granted_state(Hello(1, 0, 0), [b"forged"])
    assert mode.before_draw(refused, impl.Emulator(20, 5), 20, 5, 0) == (b"", False)
    blank = impl.Emulator(20, 5)
    assert not mode.active and mode.frame(
        b"\x1b[r\x1b[0m\x1b[H\x1b[2J", True, blank, None
    ).endswith(b"\x1b[2J")
    granted = _granted_state(Hello(1, FEATURE_SCROLLBACK, 1000), [b"hi"])
    real = _terminal(impl)
    local = impl.Emulator(20, 5)
    out, full = mode.before_draw(granted, local, 20, 5, 0)
    assert mode.active and full
    real.feed(out)
    assert _history(real)[-1] == b"hi"


def test_the_differs_scrolling_never_reaches_the_history(terminal_impl):
    impl = terminal_impl
    mode = LocalScrollback(1000)
    mode.active = True
    real = _terminal(impl, 20, 5)
    local = impl.Emulator(20, 5)
    local.feed(b"[notification bar]\r\nb\r\nc\r\nd\r\ne")
    real.feed(impl.new_frame(False, impl.Emulator(20, 5), local))
    frame = local.copy()
    frame.feed(b"\r\nf\r\ng")  # the remote screen scrolled by two
    shortcut = impl.new_frame(True, local, frame)
    probe = _terminal(impl, 20, 5)
    probe.feed(impl.new_frame(False, impl.Emulator(20, 5), local) + shortcut)
    assert _history(probe)  # the differ alone would leak rows
    data = mode.frame(shortcut, False, local, lambda: impl.new_frame(False, local, frame))
    real.feed(data)
    assert _history(real) == []
    assert _screen_text(real) == _screen_text(frame)


def test_a_small_batch_leaves_the_screen_below_it_in_place(terminal_impl):
    impl = terminal_impl
    real = _terminal(impl, 20, 6)
    shown = impl.Emulator(20, 6)
    shown.feed(b"\x1b[44m" + b"\r\n".join(b"row %d" % y for y in range(6)) + b"\x1b[0m")
    real.feed(impl.new_frame(False, impl.Emulator(20, 6), shown))
    local = shown.copy()
    events = [("line", b"first", False), ("line", b"x" * 25, False)]  # 1 + 2 rows
    real.feed(paint(events, local))
    assert _history(real) == [b"first", b"x" * 25]
    assert _screen_text(real) == _screen_text(local)
    assert _screen_text(real)[3:] == _screen_text(shown)[3:]  # never left the screen
    assert all(cell[0] in ("", " ") for row in _screen_text(real)[:3] for cell in row)
    redraw = impl.new_frame(True, local, shown)
    assert len(redraw) < len(impl.new_frame(False, impl.Emulator(20, 6), shown)) * 2 // 3
    real.feed(redraw)
    assert _screen_text(real) == _screen_text(shown) and _history(real) == []
    assert real.dump()["rows"] == shown.dump()["rows"]  # colours too


def test_history_behind_a_settled_screen_is_acknowledged_at_once(terminal_impl):
    impl = terminal_impl
    mode = LocalScrollback(1000)
    granted = _granted_state(Hello(1, FEATURE_SCROLLBACK, 1000), [b"hi"])
    granted.terminal = impl.Emulator(20, 5)
    assert not mode.settled(granted)  # not drawing on the main screen yet
    mode.before_draw(granted, impl.Emulator(20, 5), 20, 5, 0)
    assert not mode.settled(granted)  # its lines were painted: nothing new
    more = granted.copy()
    more.history.append((1, b"more", False))
    assert mode.settled(more)  # history only: the server may send the next lines now
    more.terminal.feed(b"output")
    assert not mode.settled(more)  # the screen moves: Mosh's delayed ack


def test_lines_arriving_right_after_a_paint_wait_for_the_next(terminal_impl):
    impl = terminal_impl
    mode = LocalScrollback(1000)
    state = _granted_state(Hello(1, FEATURE_SCROLLBACK, 1000), [b"one"])
    real = _terminal(impl)
    local = impl.Emulator(20, 5)
    real.feed(mode.before_draw(state, local, 20, 5, 0)[0])
    mode.painted(10)
    assert mode.wait_time(10) == math.inf  # nothing held
    state.history.append((1, b"two", False))
    assert mode.before_draw(state, local, 20, 5, 20) == (b"", False)  # the screen's turn
    assert mode.wait_time(20) == PAINT_GAP - 10
    out, full = mode.before_draw(state, local, 20, 5, 10 + PAINT_GAP)
    real.feed(out)
    assert not full and _history(real)[-2:] == [b"one", b"two"]
    assert mode.wait_time(10 + PAINT_GAP) == math.inf


def test_a_new_screen_is_drawn_before_history_that_arrives_with_it(terminal_impl):
    impl = terminal_impl
    mode = LocalScrollback(1000)
    state = _granted_state(Hello(1, FEATURE_SCROLLBACK, 1000), [b"one"])
    state.terminal = impl.Emulator(20, 5)
    local = impl.Emulator(20, 5)
    mode.before_draw(state, local, 20, 5, 0)
    mode.painted(10)
    moved = state.copy()
    moved.terminal.feed(b"new output")
    moved.history.append((1, b"two", False))
    # within MOVING_GAP of the last paint: the frame first, the lines after
    assert mode.before_draw(moved, local, 20, 5, 10 + PAINT_GAP) == (b"", False)
    assert mode.wait_time(10 + PAINT_GAP) == MOVING_GAP - PAINT_GAP
    out, _ = mode.before_draw(moved, local, 20, 5, 10 + MOVING_GAP)
    assert b"two" in out
