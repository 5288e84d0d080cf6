"""The end-of-burst policy: a long burst's last frame skips the frame interval, once."""

from __future__ import annotations

import math

from pymosh.frontend.bursts import END_QUIET, OutputBursts

INTERVAL = 20.0


def _stream(
    bursts: OutputBursts, start: float, end: float, step: float = 0.5, pause: bool = True
) -> None:
    """Reads every ``step`` ms, the server waiting for each (the pty drained each time);
    ``pause``: the pty was quiet for END_QUIET before the first."""
    t = start
    while t <= end:
        bursts.quiet += END_QUIET if pause and t == start else step
        bursts.output(t)
        t += step


def test_a_long_burst_gets_one_early_frame_when_it_stops():
    b = OutputBursts()
    _stream(b, 100.0, 160.0)  # 60 ms of bulk output
    assert b.due(INTERVAL) == 160.0 + END_QUIET
    assert not b.take(160.0 + END_QUIET / 2, INTERVAL)  # still possibly streaming
    assert not b.settled
    assert b.take(160.0 + END_QUIET, INTERVAL)
    assert b.settled and b.due(INTERVAL) == math.inf
    assert not b.take(200.0, INTERVAL)  # once per burst


def test_a_burst_shorter_than_the_interval_keeps_moshs_pacing():
    b = OutputBursts()
    _stream(b, 100.0, 110.0)
    assert b.due(INTERVAL) == math.inf  # no timer for it
    assert not b.take(200.0, INTERVAL)
    assert b.settled  # and it is forgotten


def test_the_interval_sets_what_counts_as_long():
    b = OutputBursts()
    _stream(b, 0.0, 60.0)
    assert b.due(100.0) == math.inf  # a slow link's interval: 60 ms of output is short
    assert b.due(50.0) == 60.0 + END_QUIET


def test_only_time_spent_waiting_on_a_quiet_pty_ends_a_burst():
    b = OutputBursts()
    _stream(b, 0.0, 15.0)
    b.quiet += END_QUIET * 0.9  # waited, but not long enough to call it a pause
    b.output(15.0 + END_QUIET * 5)  # (the server was busy for the rest of the gap)
    assert b.start == 0.0
    _stream(b, 26.0, 30.0, pause=False)
    assert b.start == 0.0
    assert b.take(30.0 + END_QUIET, INTERVAL)


def test_output_resuming_after_a_pause_starts_a_new_burst():
    b = OutputBursts()
    _stream(b, 0.0, 30.0)
    assert b.take(30.0 + END_QUIET, INTERVAL)
    b.quiet += 10.0
    _stream(b, 40.0, 45.0)  # a prompt after the output: short, paced as Mosh
    assert b.start == 40.0 and not b.settled
    assert not b.take(60.0, INTERVAL)


def test_streaming_output_is_never_cut_short():
    b = OutputBursts()
    for t in range(0, 1000):  # a second of output, a read every millisecond
        b.quiet += 1.0
        b.output(float(t))
        assert b.due(INTERVAL) > t  # the early frame only ever follows the last read
        assert not b.take(float(t), INTERVAL)
    assert b.take(999.0 + END_QUIET, INTERVAL)
