"""Notification bar text, drawing and timing (terminal.md 6, protocol.md 7.5)."""

from __future__ import annotations

import pytest

from conftest import FakeFramebuffer
from pymosh.frontend.escape import EscapeKeys
from pymosh.frontend.overlay import NotificationEngine, OverlayManager, PredictionEngine
from pymosh.frontend.overlay.notification import human_readable_duration

HINT = " [To quit: Ctrl-^ .]"


def bar(engine: NotificationEngine, now: float, width: int = 80) -> FakeFramebuffer:
    fb = FakeFramebuffer(width=width, height=3)
    fb.cursor_row = 1
    engine.adjust_message(now)
    engine.apply(fb, now)
    return fb


def test_no_bar_while_the_server_is_heard():
    engine = NotificationEngine(now=0)
    fb = bar(engine, 6500)
    assert fb.text(0) == "" and fb.get_cell(0, 0)[2] == 0


def test_server_late_after_6500_ms():
    engine = NotificationEngine(now=0)
    engine.server_heard(1000)
    engine.server_acked(1000)
    assert bar(engine, 7500).text(0) == ""
    fb = bar(engine, 7501)
    assert fb.text(0) == "mosh: Last contact 6 seconds ago." + HINT
    assert fb.get_cell(0, 0)[:4] == ("m", 37, 44, 1)  # bold white on blue
    assert fb.get_cell(0, 79)[:4] == (" ", 37, 44, 0)  # the rest of the row: not bold


def test_reply_late_when_heard_but_not_acked():
    engine = NotificationEngine(now=0)
    engine.server_heard(12_000)
    assert bar(engine, 10_000).text(0) == ""
    assert bar(engine, 12_500).text(0) == "mosh: Last reply 12 seconds ago." + HINT


@pytest.mark.parametrize(
    "seconds, unit, text",
    [
        (0, "s", "0 s"),
        (59, "seconds", "59 seconds"),
        (60, "s", "1:00"),
        (75, "s", "1:15"),
        (3599, "s", "59:59"),
        (3725, "s", "1:02:05"),
        (90061, "s", "25:01:01"),
    ],
)
def test_durations(seconds, unit, text):
    assert human_readable_duration(seconds, unit) == text


def test_long_outage_uses_clock_format():
    engine = NotificationEngine(now=0)
    assert bar(engine, 75_900).text(0) == "mosh: Last contact 1:15 ago." + HINT


def test_message_expires_after_one_second():
    engine = NotificationEngine(now=0)
    engine.set_notification_string("Nothing received from server on UDP port 60001.", 100)
    assert (
        bar(engine, 1099).text(0) == "mosh: Nothing received from server on UDP port 60001." + HINT
    )
    assert engine.wait_time(1099) == 1
    assert bar(engine, 1100).text(0) == ""


def test_permanent_message_without_quit_hint():
    engine = NotificationEngine(now=0)
    engine.set_notification_string(
        EscapeKeys().help_text(), 0, permanent=True, show_quit_keystroke=False
    )
    fb = bar(engine, 5000)
    assert fb.text(0) == (
        'mosh: Commands: Ctrl-Z suspends, "." quits, "s" stats, "^" gives literal Ctrl-^'
    )


def test_message_while_late_counts_seconds_without_contact():
    engine = NotificationEngine(now=0)
    engine.set_notification_string("Exiting on user request...", 7000, permanent=True)
    assert (
        bar(engine, 7000).text(0)
        == "mosh: Exiting on user request... (7 s without contact.)" + HINT
    )


def test_network_error_lasts_3100_ms_and_clears_with_grace():
    engine = NotificationEngine(now=0)
    engine.set_network_error("sendto: Network is unreachable", 0)
    assert bar(engine, 3099).text(0) == "mosh: sendto: Network is unreachable" + HINT
    assert bar(engine, 3100).text(0) == ""
    engine.set_network_error("sendto: Network is unreachable", 4000)
    engine.clear_network_error(4500)
    assert bar(engine, 5499).text(0) != ""
    assert bar(engine, 5500).text(0) == ""
    # an ordinary message is not cleared by clear_network_error
    engine.set_notification_string("x", 6000, permanent=True)
    engine.clear_network_error(6000)
    assert bar(engine, 9000).text(0).startswith("mosh: x")


def test_wait_time_counts_up_every_second_then_every_three():
    engine = NotificationEngine(now=0)
    assert engine.wait_time(1000) >= 1 << 20
    assert engine.wait_time(7000) == 1000
    assert engine.wait_time(61_000) == 3000


def test_cursor_hidden_only_when_on_the_bar():
    engine = NotificationEngine(now=0)
    fb = bar(engine, 8000)
    assert fb.cursor_visible
    fb = FakeFramebuffer(width=80, height=3)
    engine.apply(fb, 8000)
    assert not fb.cursor_visible


def test_narrow_screen_truncates_and_wide_characters_take_two_cells():
    engine = NotificationEngine(now=0)
    engine.set_notification_string("中文", 0, permanent=True)
    fb = bar(engine, 0, width=8)
    assert [fb.get_cell(0, c)[0] for c in range(8)] == ["m", "o", "s", "h", ":", " ", "中", " "]
    assert fb.get_cell(0, 6)[4] is True
    fb = bar(engine, 0, width=4)
    assert fb.text(0) == "mosh"


def test_combining_mark_joins_the_previous_cell():
    engine = NotificationEngine(now=0)
    engine.set_notification_string("e\u0301!", 0, permanent=True)
    fb = bar(engine, 0, width=12)
    assert fb.get_cell(0, 6)[0] == "e\u0301"
    assert fb.get_cell(0, 7)[0] == "!"


def test_custom_escape_key_in_hint():
    engine = NotificationEngine(now=0)
    engine.set_escape_key_string("Ctrl-]")
    assert bar(engine, 7000).text(0).endswith(" [To quit: Ctrl-] .]")


def test_overlay_manager_draws_the_bar_over_predictions():
    manager = OverlayManager(now=0, display_preference="experimental")
    assert isinstance(manager.predictions, PredictionEngine)
    server = FakeFramebuffer(width=40, height=3)
    server.echo("$ ")
    manager.predictions.new_user_byte(ord("x"), server.copy(), 10)
    frame = server.copy()
    manager.apply(frame, 100)
    assert frame.text(0) == "$ x"
    assert manager.wait_time(100) == 50
    frame = server.copy()
    manager.apply(frame, 7000)
    assert frame.text(0).startswith("mosh: Last contact 7 seconds ago.")
    # the prediction has been pending for 7 s: glitch and flagging are both on, so the
    # prediction timer stops and the bar's count-up sets the pace
    assert manager.wait_time(7000) == 1000
