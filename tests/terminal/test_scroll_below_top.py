"""``new_frame(..., scroll_below_top=True)``: the differ's shortcut for a scrolled screen
deletes lines from the second row (DL) instead of scrolling the screen, so that a client
drawing on the main screen with scrollback puts no row of its own into the terminal's
history (only the server's history lines go there; neither xterm nor tmux keeps deleted
rows), and still shifts rows instead of repainting every one."""

from __future__ import annotations

import pytest


def _screens(impl, lines: int, more: int, height: int = 10):
    old = impl.Emulator(40, height)
    old.feed(b"\r\n".join(b"line %d \x1b[1;3%dmbold\x1b[m" % (i, i % 8) for i in range(lines)))
    new = old.copy()
    new.feed(
        b"".join(
            b"\r\nline %d \x1b[1;3%dmbold\x1b[m" % (i, i % 8) for i in range(lines, lines + more)
        )
    )
    return old, new


def _client(impl, old):
    client = impl.Emulator(old.width, old.height)
    client.feed(impl.new_frame(False, impl.Emulator(old.width, old.height), old))
    client.set_history_limit(1000)
    return client


@pytest.mark.parametrize("more", [1, 3, 8])
def test_a_scrolled_screen_reaches_the_client_without_history(terminal_impl, more):
    old, new = _screens(terminal_impl, 10, more)
    client = _client(terminal_impl, old)
    frame = terminal_impl.new_frame(True, old, new, scroll_below_top=True)
    client.feed(frame)
    assert client.dump()["rows"] == new.dump()["rows"]
    assert client.dump()["cursor"] == new.dump()["cursor"]
    assert client.take_history()[1] == []
    # a scroll, not a repaint: far fewer bytes than drawing every row
    assert b"\x1b[2H\x1b[%dM" % more in frame
    assert len(frame) < len(terminal_impl.new_frame(False, old, new)) * (0.5 if more < 5 else 1)


def test_without_it_the_shortcut_scrolls_rows_into_the_history(terminal_impl):
    """(What the option prevents: Mosh's shortcut scrolls the whole screen.)"""
    old, new = _screens(terminal_impl, 10, 3)
    client = _client(terminal_impl, old)
    client.feed(terminal_impl.new_frame(True, old, new))
    assert client.dump()["rows"] == new.dump()["rows"]
    assert [line.split(b" ")[:2] for line, _ in client.take_history()[1]] == [
        [b"line", b"%d" % i] for i in range(3)
    ]


def test_a_one_row_match_is_redrawn_not_scrolled(terminal_impl):
    old = terminal_impl.Emulator(20, 5)
    old.feed(b"a\r\nb\r\nc\r\nd\r\ne")
    new = terminal_impl.Emulator(20, 5)
    new.feed(b"e\r\nx\r\ny\r\nz\r\nw")  # only "e" matches, at row 4
    client = _client(terminal_impl, old)
    frame = terminal_impl.new_frame(True, old, new, scroll_below_top=True)
    client.feed(frame)
    assert b"M" not in frame
    assert client.dump()["rows"] == new.dump()["rows"]
    assert client.take_history()[1] == []
