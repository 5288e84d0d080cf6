"""Prediction engine behaviour (terminal.md 7-9), with a fake clock and a fake screen."""

from __future__ import annotations

import pytest

from conftest import FakeFramebuffer
from pymosh.frontend.overlay import PredictionEngine


class Link:
    """The client's view: the server's frame (``server``), keystrokes numbered by user state."""

    def __init__(self, server: FakeFramebuffer, interval: int = 250, **engine_args) -> None:
        self.server = server
        self.engine = PredictionEngine(**engine_args)
        self.engine.set_send_interval(interval)
        self.sent = 0
        self.now = 0

    def shown(self) -> FakeFramebuffer:
        frame = self.server.copy()
        self.engine.cull(frame, self.now)
        self.engine.apply(frame)
        return frame

    def type(self, keys: bytes, dt: int = 10) -> None:
        for byte in keys:
            self.now += dt
            self.engine.set_local_frame_sent(self.sent)
            self.engine.new_user_byte(byte, self.shown(), self.now)
            self.sent += 1

    def ack(self, frame: int | None = None, dt: int = 10) -> None:
        """The echo ack (and so the transport ack) now covers ``frame``."""
        self.now += dt
        frame = self.sent if frame is None else frame
        self.engine.set_local_frame_acked(max(frame, self.engine.local_frame_acked))
        self.engine.set_local_frame_late_acked(frame)


def test_first_keystroke_hidden_until_its_epoch_is_confirmed(fb):
    link = Link(fb)
    link.type(b"l")
    assert link.shown().text(0) == "$"
    fb.echo("l")
    link.ack()
    assert link.shown().text(0) == "$ l"
    # the epoch is confirmed now: the next keys are shown at once, underlined (slow link)
    link.type(b"s -")
    shown = link.shown()
    assert shown.text(0) == "$ ls -"
    assert shown.underlined(0) == "..._._"  # the space (blank on blank) is not underlined
    assert (shown.cursor_row, shown.cursor_col) == (0, 6)


def test_confirmed_prediction_disappears_into_the_real_echo(fb):
    link = Link(fb)
    link.type(b"l")
    fb.echo("l")
    link.ack()
    link.type(b"s")
    assert link.engine.active()
    fb.echo("s")
    link.ack()
    shown = link.shown()
    assert shown.text(0) == "$ ls" and shown.underlined(0) == ""
    assert not link.engine.active()


def test_pending_prediction_is_not_judged_before_the_echo_ack(fb):
    link = Link(fb)
    link.type(b"l")
    fb.echo("l")
    link.ack()
    link.type(b"x")
    fb.echo("Q")  # the application printed something else, but the ack has not come
    assert link.shown().text(0) == "$ lx"
    link.ack()
    assert link.shown().text(0) == "$ lQ"  # wrong prediction removed at once
    assert not link.engine.active()


def test_misprediction_resets_and_hides_the_next_keys_until_confirmed(fb):
    link = Link(fb)
    link.type(b"l")
    fb.echo("l")
    link.ack()
    link.type(b"x")
    fb.echo("Q")
    link.ack()
    link.shown()
    link.type(b"y")
    assert link.shown().text(0) == "$ lQ"  # new epoch after the reset: tentative
    fb.echo("y")
    link.ack()
    link.type(b"z")
    assert link.shown().text(0) == "$ lQyz"


def test_fast_link_shows_nothing_in_adaptive_mode(fb):
    link = Link(fb, interval=20)
    for ch in "ls":
        link.type(ch.encode())
        fb.echo(ch)
        link.ack()
    link.type(b" -la")
    assert link.shown().text(0) == "$ ls"


@pytest.mark.parametrize("mode", ["always", "experimental"])
def test_always_modes_show_on_a_fast_link(fb, mode):
    link = Link(fb, interval=20, display_preference=mode)
    link.type(b"l")
    fb.echo("l")
    link.ack()
    link.type(b"s")
    shown = link.shown()
    assert shown.text(0) == "$ ls"
    assert shown.underlined(0) == ""  # fast link: no flagging


def test_never_mode_does_nothing(fb):
    link = Link(fb, display_preference="never")
    link.type(b"l")
    fb.echo("l")
    link.ack()
    link.type(b"s")
    assert link.shown().text(0) == "$ l"
    assert not link.engine.active()


def test_unknown_display_preference_is_refused():
    with pytest.raises(ValueError):
        PredictionEngine("sometimes")


def test_srtt_trigger_hysteresis(fb):
    link = Link(fb, interval=40)
    link.shown()
    assert link.engine.displaying()
    link.engine.set_send_interval(25)  # between LOW and HIGH: keep showing
    link.shown()
    assert link.engine.displaying()
    link.type(b"a")
    link.engine.set_send_interval(20)  # low, but a prediction is still active
    link.shown()
    assert link.engine.displaying()
    fb.echo("a")
    link.ack()
    link.shown()  # the cull judges the prediction; the next one sees nothing active
    link.shown()
    assert not link.engine.displaying()


@pytest.mark.parametrize(
    "intervals, flagged",
    [
        ([100], True),
        ([100, 60], True),
        ([100, 50], False),
        ([100, 50, 70], False),
        ([30, 81], True),
        ([81, 51], True),
    ],
)
def test_flagging_hysteresis(fb, intervals, flagged):
    link = Link(fb)
    for interval in intervals:
        link.engine.set_send_interval(interval)
        link.shown()
    assert link.engine.flagging is flagged


def test_late_echo_triggers_glitch_display_and_long_delay_forces_underline(fb):
    link = Link(fb, interval=20)  # fast link: predictions normally hidden, not flagged
    link.type(b"l")
    fb.echo("l")
    link.ack()
    link.type(b"s")
    assert link.shown().text(0) == "$ l"
    link.now += 300  # no echo ack for 300 ms: glitch
    shown = link.shown()
    assert shown.text(0) == "$ ls" and shown.underlined(0) == ""
    link.now += 5000
    link.shown()
    assert link.engine.glitch_trigger == 20
    shown = link.shown()  # the next cull turns flagging on
    assert shown.underlined(0) == "..._"


def test_quick_confirmations_repair_the_glitch_trigger(fb):
    link = Link(fb, interval=20)
    link.engine.glitch_trigger = 10
    link.shown()
    for ch in "abcdef":
        link.type(ch.encode())
        fb.echo(ch)
        link.ack(dt=200)  # confirmed within 250 ms, 210 ms apart (> 150 ms)
        link.shown()
    assert link.engine.glitch_trigger == 4


def test_wait_time_runs_a_timer_while_timing_tests_are_pending(fb):
    link = Link(fb, interval=20)
    assert link.engine.wait_time(link.now) > 10_000
    link.type(b"a")
    assert link.engine.wait_time(link.now) == 50
    link.engine.glitch_trigger = 20
    link.engine.flagging = True
    assert link.engine.wait_time(link.now) > 10_000


def _confirmed_line(fb, text: str) -> Link:
    """A link whose current epoch is confirmed, with ``text`` typed and echoed."""
    link = Link(fb)
    link.type(text[:1].encode())
    fb.echo(text[:1])
    link.ack()
    link.shown()
    for ch in text[1:]:
        link.type(ch.encode())
        fb.echo(ch)
    link.ack()
    link.shown()
    return link


def test_insert_shifts_the_rest_of_the_line(fb):
    link = _confirmed_line(fb, "hello world")
    link.type(b"\x1b[D" * 6)  # left arrow x6: before " world"
    shown = link.shown()
    assert (shown.cursor_row, shown.cursor_col) == (0, 7)
    link.type(b"!")
    shown = link.shown()
    assert shown.text(0) == "$ hello! world"
    assert shown.cursor_col == 8


def test_application_mode_arrows_are_understood(fb):
    link = _confirmed_line(fb, "abc")
    link.type(b"\x1bOD\x1bOD\x1bOC")
    assert link.shown().cursor_col == 4


def test_backspace_deletes_and_shifts_left(fb):
    link = _confirmed_line(fb, "hello world")
    link.type(b"\x1b[D" * 6)
    link.type(b"\x7f")
    shown = link.shown()
    assert shown.text(0) == "$ hell world"
    assert shown.cursor_col == 6


def test_backspace_at_end_of_line_blanks_the_cell(fb):
    link = _confirmed_line(fb, "ls -x")
    link.type(b"\x7f\x7f")
    shown = link.shown()
    assert shown.text(0) == "$ ls"
    assert shown.cursor_col == 5
    # the shell agrees: predictions of blanks get no credit and simply disappear
    fb.rows[0][5] = fb.rows[0][6] = ("", 0, 0, 0, False, False, False)
    fb.cursor_col = 5
    link.ack()
    assert link.shown().text(0) == "$ ls"
    assert not link.engine.active()


def test_backspace_at_column_zero_predicts_nothing():
    fb = FakeFramebuffer()
    link = Link(fb)
    link.type(b"\x7f")
    assert link.engine.cursors[-1].col == 0
    assert not any(c.active for cells in link.engine.overlays.values() for c in cells)


def test_overwrite_mode_replaces_instead_of_inserting(fb):
    link = Link(fb, predict_overwrite=True)
    link.type(b"h")
    fb.echo("h")
    link.ack()
    for ch in "ello":
        link.type(ch.encode())
        fb.echo(ch)
    link.ack()
    link.shown()
    link.type(b"\x1b[D\x1b[D\x1b[DEL")
    assert link.shown().text(0) == "$ heELo"
    link.type(b"\x7f")
    assert link.shown().text(0) == "$ heE o"


def test_typed_character_takes_the_renditions_on_its_left():
    fb = FakeFramebuffer()
    fb.echo("$ ", fg=32, attrs=1)
    link = Link(fb, interval=20, display_preference="always")
    link.type(b"a")
    fb.echo("a", fg=32, attrs=1)
    link.ack()
    link.type(b"b")
    assert link.shown().get_cell(0, 3)[:4] == ("b", 32, 0, 1)


def test_column_zero_uses_the_current_renditions():
    fb = FakeFramebuffer()
    fb.renditions = (31, 0, 4)
    link = Link(fb, display_preference="experimental")
    link.type(b"a")
    assert link.engine.overlays[0][0].replacement == ("a", 31, 0, 4, False)


def test_server_renditions_are_copied_into_later_predictions(fb):
    link = Link(fb, interval=20, display_preference="always")
    link.type(b"a")
    fb.echo("a")
    link.ack()
    link.type(b"bc")
    fb.echo("b", fg=33)  # the shell colours the word: later predictions follow
    link.ack(frame=link.sent - 1)
    assert link.shown().get_cell(0, 4)[:2] == ("c", 33)


def test_password_prompt_shows_no_prediction(fb):
    link = _confirmed_line(fb, "sudo ls")
    link.type(b"\r")
    fb.cursor_row, fb.cursor_col = 1, 0
    fb.echo("[sudo] password: ")
    link.ack()
    for ch in "secret\r":
        link.type(ch.encode())
        link.ack()
        shown = link.shown()
        assert shown.text(1) == "[sudo] password:"  # echo is off: nothing ever displayed
        assert shown.underlined(1) == ""


def test_carriage_return_moves_the_cursor_prediction_to_the_next_line(fb):
    link = _confirmed_line(fb, "cat")
    link.type(b"\r")
    assert link.shown().cursor_row == 0  # new epoch: tentative
    fb.cursor_row, fb.cursor_col = 1, 0
    fb.echo("> ")  # a prompt never seen echoing
    link.ack()
    link.type(b"x")
    # the CR's epoch was never confirmed by a cell, so "x" is still hidden
    assert link.shown().text(1) == ">"


def test_carriage_return_on_the_bottom_row_predicts_a_blank_line():
    fb = FakeFramebuffer(width=10, height=2)
    fb.cursor_row = 1
    fb.echo("$ ")
    link = Link(fb, display_preference="experimental")
    link.type(b"a\r")
    assert link.shown().text(1) == ""
    assert link.shown().cursor_col == 0


def test_escape_sequences_make_later_predictions_tentative(fb):
    link = _confirmed_line(fb, "ab")
    link.type(b"\x1b[A")  # up arrow: history recall, unpredictable
    link.type(b"c")
    assert link.shown().text(0) == "$ ab"
    link.type(b"\x1b[D")  # left arrow only moves the (tentative) cursor
    assert link.shown().text(0) == "$ ab"


@pytest.mark.parametrize(
    "key, new_epochs",
    [
        (b"\t", 1),
        (b"\x03", 1),
        (b"\x08", 1),
        ("中".encode(), 1),
        ("\u0301".encode(), 1),
        (b"\x1b7", 1),
        (b"\x1b[2~", 1),
        ("é".encode(), 0),
        (b"\x1b[C", 0),
    ],
)
def test_unpredictable_keys_start_a_new_epoch(fb, key, new_epochs):
    link = _confirmed_line(fb, "ab")
    epoch = link.engine.prediction_epoch
    link.type(key)
    assert link.engine.prediction_epoch == epoch + new_epochs


def test_wrong_tentative_prediction_kills_only_its_epoch(fb):
    link = _confirmed_line(fb, "ab")
    link.type(b"c")  # displayed epoch
    link.type(b"\t")
    link.type(b"d")  # tentative epoch
    fb.echo("c")
    fb.echo("X")  # tab completion printed X where d was predicted
    link.ack()
    shown = link.shown()
    assert shown.text(0) == "$ abcX"
    epoch = link.engine.prediction_epoch
    link.type(b"e")
    assert link.engine.prediction_epoch == epoch
    assert link.shown().text(0) == "$ abcX"  # still tentative after kill_epoch


def test_experimental_mode_drops_only_the_wrong_cell(fb):
    link = Link(fb, display_preference="experimental")
    link.type(b"ab")
    fb.echo("a")
    link.ack(frame=1)
    link.type(b"c")
    fb.echo("X")  # wrong for "b"; "c" still pending
    link.ack(frame=2)
    shown = link.shown()
    assert shown.text(0) == "$ aXc"


def test_resize_resets_predictions(fb):
    link = _confirmed_line(fb, "ab")
    link.type(b"c")
    assert link.engine.active()
    bigger = FakeFramebuffer(width=30, height=4)
    bigger.rows[0][:20] = fb.rows[0]
    link.server = bigger
    link.shown()
    assert not link.engine.active()


def test_cursor_misprediction_resets(fb):
    link = _confirmed_line(fb, "abc")
    link.type(b"\x1b[D")
    link.ack()  # the application ignored the arrow key
    shown = link.shown()
    assert shown.cursor_col == 5
    assert not link.engine.cursors


# -- known prompts: a rebase onto a prompt seen echoing before is shown at once ------------
def _new_prompt(fb, row: int, prompt: str = "$ ") -> None:
    """The shell answered Enter: ``prompt`` on ``row``, cursor after it."""
    fb.cursor_row, fb.cursor_col = row, 0
    fb.echo(prompt)


def test_keys_typed_after_enter_show_once_a_known_prompt_arrives(fb):
    link = _confirmed_line(fb, "ls")  # typing at "$ " was echoed: "$ " is known
    link.type(b"\r")
    link.type(b"pw", dt=110)  # typed before the new prompt arrives
    shown = link.shown()
    assert shown.text(1) == "" and shown.cursor_row == 0  # tentative: hidden
    _new_prompt(fb, 1)
    link.ack(frame=1 + len("ls"))  # the frame answers Enter; "pw" is still in flight
    shown = link.shown()
    assert shown.text(1) == "$ pw" and (shown.cursor_row, shown.cursor_col) == (1, 4)
    assert link.engine.trusted_epochs == 1
    link.type(b"d")  # and the next key at once, no round trip
    assert link.shown().text(1) == "$ pwd"
    fb.echo("pwd")
    link.ack()
    shown = link.shown()
    assert shown.text(1) == "$ pwd" and not link.engine.active()


def test_line_kill_on_a_known_prompt_shows_the_next_keys_at_once(fb):
    link = _confirmed_line(fb, "ls -l")
    link.type(b"\x15")  # Ctrl-U: unpredictable
    link.type(b"t")
    assert link.shown().text(0) == "$ ls -l"
    for col in range(2, 7):
        fb.set_cell(0, col, "", 0, 0, 0)
    fb.cursor_col = 2
    link.ack(frame=len("ls -l") + 1)
    assert link.shown().text(0) == "$ t"


def test_unknown_prompt_after_enter_stays_hidden_until_its_echo(fb):
    link = _confirmed_line(fb, "python3")
    link.type(b"\r")
    _new_prompt(fb, 1, ">>> ")
    link.ack()
    link.type(b"1+1")
    assert link.shown().text(1) == ">>>"  # as in Mosh: hidden until an echo confirms it
    fb.echo("1")
    link.ack(frame=link.sent - 2)
    assert link.shown().text(1) == ">>> 1+1"
    # ... and from now on ">>> " is known too
    link.type(b"\r")
    fb.echo("+1")
    _new_prompt(fb, 2, ">>> ")
    link.ack()
    link.type(b"2")
    assert link.shown().text(2) == ">>> 2"


def test_password_prompt_after_a_known_prompt_shows_nothing(fb):
    link = _confirmed_line(fb, "sudo ls")
    link.type(b"\r")
    link.type(b"hunter2")  # typed ahead, before the prompt appears
    fb.cursor_row, fb.cursor_col = 1, 0
    link.ack(frame=len("sudo ls") + 1)
    assert link.shown().text(1) == ""  # command still starting: no prompt, nothing shown
    fb.echo("[sudo] password: ")
    for _ in range(3):
        link.ack()
        shown = link.shown()
        assert shown.text(1) == "[sudo] password:" and shown.underlined(1) == ""
    assert link.engine.trusted_epochs == 0


def test_no_trust_while_the_server_has_keys_the_frame_may_not_show(fb):
    link = _confirmed_line(fb, "ls")
    link.type(b"\r")
    link.type(b"vi")
    _new_prompt(fb, 1)
    link.ack(frame=3)
    link.engine.set_local_frame_acked(4)  # "v" arrived but is not echo-acked yet
    assert link.shown().text(1) == "$"
    assert link.engine.trusted_epochs == 0


def test_a_wrong_trusted_epoch_bans_its_prompt(fb):
    link = _confirmed_line(fb, "ls")
    link.type(b"\r")
    _new_prompt(fb, 1)  # looks like the shell, but echo is off (read -s -p '$ ')
    link.ack()
    link.type(b"x")
    assert link.shown().text(1) == "$ x"  # trusted: shown
    link.ack()
    assert link.shown().text(1) == "$"  # judged wrong: gone
    link.type(b"\r")
    _new_prompt(fb, 2)
    link.ack()
    link.type(b"y")
    assert link.shown().text(2) == "$"  # banned: back to Mosh's tentative epochs
    assert link.engine.trusted_epochs == 1


def test_backspace_and_left_at_a_trusted_prompt_edge_are_tentative(fb):
    link = _confirmed_line(fb, "ls")
    link.type(b"\r")
    _new_prompt(fb, 1)
    link.ack()
    link.type(b"\x7f")  # the shell will not delete its prompt
    shown = link.shown()
    assert shown.text(1) == "$" and shown.cursor_col == 2


def test_left_arrow_into_a_trusted_prompt_is_tentative(fb):
    link = _confirmed_line(fb, "ls")
    link.type(b"\r")
    _new_prompt(fb, 1)
    link.ack()
    link.type(b"a\x1b[D")
    shown = link.shown()
    assert shown.text(1) == "$ a" and shown.cursor_col == 2
    epoch = link.engine.prediction_epoch
    link.type(b"\x1b[D")  # into the prompt: up to the shell (it will beep)
    shown = link.shown()
    assert link.engine.prediction_epoch == epoch + 1
    assert shown.text(1) == "$ a" and shown.cursor_col == 2


def test_a_prompt_needs_a_trailing_space_and_blank_rows_below():
    from pymosh.frontend.overlay.prediction import _prompt_at

    fb = FakeFramebuffer(width=10, height=3)
    fb.echo("$ ")
    assert _prompt_at(fb) == (2, ("$", " "))
    fb.set_cell(2, 0, "~", 0, 0, 0)  # a full-screen program's rows below
    assert _prompt_at(fb) is None
    fb.set_cell(2, 0, "", 0, 0, 0)
    fb.set_cell(0, 5, "x", 0, 0, 0)  # text right of the cursor
    assert _prompt_at(fb) is None
    fb = FakeFramebuffer(width=10, height=3)
    fb.echo(":")  # vi / less command line
    assert _prompt_at(fb) is None
    fb = FakeFramebuffer(width=10, height=3)
    fb.echo("  ")
    assert _prompt_at(fb) is None


def test_escape_at_a_known_prompt_is_not_trusted(fb):
    link = _confirmed_line(fb, "ls")
    link.type(b"\r")
    _new_prompt(fb, 1)
    link.ack()
    link.shown()
    link.type(b"\x1b")  # a vi-mode shell: command mode now, "k" recalls history
    link.ack()
    link.type(b"k")
    assert link.shown().text(1) == "$"


def test_rebase_waits_for_a_frame_showing_every_received_key(fb):
    link = _confirmed_line(fb, "ab")  # frames 1, 2
    link.type(b"\t")  # frame 3: unpredictable
    link.type(b"cd")  # frames 4, 5
    fb.echo("X")  # the completion; "c" has arrived but is not echoed in this frame
    link.ack(frame=3)
    link.engine.set_local_frame_acked(4)
    rebases = link.engine.rebases
    link.shown()
    assert link.engine.rebases == rebases  # nothing re-predicted on the stale frame
    assert link.engine.overlays[0][5].replacement[0] == "d"  # where it was typed
    fb.echo("c")
    link.ack(frame=4)
    link.shown()
    assert link.engine.rebases == rebases + 1
    cells = link.engine.overlays[0]
    assert cells[6].active and cells[6].replacement[0] == "d"  # after "$ abXc"


def _rewrite_row(fb: FakeFramebuffer, text: str, cursor_col: int) -> None:
    """A full-screen program redrawing row 0 as ``text``, cursor left at ``cursor_col``."""
    fb.rows[0] = FakeFramebuffer(fb.width, 1).rows[0]
    fb.cursor_row, fb.cursor_col = 0, 0
    fb.echo(text)
    fb.cursor_col = cursor_col


def test_vi_change_word_never_shows_the_deleted_word_shifted():
    """vi's ``cw`` then typing, as in bench/traces/vi.json at 50 ms: each key is received
    (transport ack) before the frame echoing it is echo-acked, so early confirmation is
    what judges them. The frame answering ``w`` has the word deleted; the predicted insert
    of "w" is wrong there, but a shifted copy of the old row ("...line, typed" moved one
    cell right) meets the "e" of "typed" by chance. That match must not confirm the epoch:
    it would show "a wthird line, typed" and then every typed letter before "third"."""
    fb = FakeFramebuffer(40, 4)
    fb.echo("a third line, typed")
    fb.cursor_col = 2  # after "0w"
    link = Link(fb)
    link.type(b"c")  # frame 1: vim waits for the motion, the screen does not change
    link.ack(frame=1)
    assert link.shown().text(0) == "a third line, typed"  # the insert of "c" was wrong
    link.type(b"w")  # frame 2
    # the frame answering "cw": word deleted, insert mode; received, not yet echo-acked
    _rewrite_row(fb, "a  line, typed", 2)
    link.engine.set_local_frame_acked(2)
    assert link.shown().text(0) == "a  line, typed"
    assert link.engine.overlays[0][12].active  # the chance match stays unjudged
    typed = "a "
    for ch in "fourth":
        link.type(ch.encode())
        assert "third" not in link.shown().text(0)
        # the server echoes it; the transport ack comes before the echo ack (as at 50 ms)
        typed += ch
        _rewrite_row(fb, typed + " line, typed", len(typed))
        link.engine.set_local_frame_acked(link.sent)
        shown = link.shown()
        assert shown.text(0) == typed + " line, typed"
        assert (shown.cursor_row, shown.cursor_col) == (0, len(typed))
        link.ack(frame=link.sent - 1)  # the echo ack lags one key behind
    link.ack()
    link.type(b" ")
    # a correct early confirmation still shows the next key at once
    assert link.shown().text(0) == "a fourth  line, typed"
