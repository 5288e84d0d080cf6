"""The history archive (statesync/archive.py): bounded, and a resumed client's log is seeded
with its newest lines behind one marker, then paced out like any history."""

from __future__ import annotations

import random

from pymosh.statesync.archive import HistoryArchive, marker
from pymosh.statesync.hello import MAX_SCROLLBACK_LINES
from pymosh.statesync.history import LINE_MAX, LINE_OVERHEAD, HistoryLog
from tests.statesync.test_history import HistorySim
from tests.support.lossy import Impairment, LossyLink


def _lines(first: int, last: int) -> list:
    return [(b"%d" % i, False) for i in range(first, last + 1)]


def _texts(log: HistoryLog) -> list:
    return [data for _, data, _ in log.pending]


def _delivered(log: HistoryLog, seed: int = 1) -> list:
    """Pace ``log`` to a client over a lossy link; the events its reader produced."""
    bad = Impairment(delay=20, jitter=10, loss=0.2, duplicate=0.1, reorder=0.1)
    sim = HistorySim(LossyLink(random.Random(seed), bad, bad))
    sim.log = log
    sim.state.history = log.window
    sim.run(60_000)
    return sim.events


def test_the_archive_is_bounded_by_lines_and_bytes():
    archive = HistoryArchive(500)
    for i in range(200):
        archive.record(0, _lines(i * 1000, i * 1000 + 999), False)
        assert archive.count <= 500 and len(archive.lines()) == archive.count
    assert [d for _, d, _ in archive.lines()] == [b"%d" % i for i in range(199_500, 200_000)]
    assert archive.charge == sum(len(d) + LINE_OVERHEAD for _, d, _ in archive.lines())

    small = HistoryArchive(1_000_000, byte_budget=1 << 20)
    huge = b"\xe2\x82\xac" * (1 << 18)  # a 768 KiB row: cut to LINE_MAX
    for i in range(300):
        kept = small.record(2, [(huge, False), (b"%d" % i, True)], False)
        assert len(kept[0][0]) <= LINE_MAX + 4 and kept[1] == (b"%d" % i, True)
        assert small.charge <= 1 << 20
    assert small.lines()[-1] == (small.next_seq - 1, b"299", True)
    assert small.next_seq == 300 * 4  # dropped lines are numbered too (holes)

    absurd = HistoryArchive(10**12)
    assert absurd.max_lines == MAX_SCROLLBACK_LINES
    absurd.grow(10)  # a later, smaller grant never shrinks it
    assert absurd.max_lines == MAX_SCROLLBACK_LINES


def test_the_record_shares_the_line_objects_with_the_live_log():
    archive = HistoryArchive(100)
    log = HistoryLog(100)
    kept = archive.record(0, [(bytearray(b"shared"), False)], False)
    log.feed(0, kept, False)
    assert log.pending[0][1] is archive.lines()[0][1]


def test_a_replay_is_the_newest_lines_behind_a_marker_then_the_new_lines_in_order():
    archive = HistoryArchive(1000)
    archive.record(0, _lines(1, 300), False)
    log = HistoryLog(201)  # as the server makes it: room for the replay and as many new
    assert archive.replay(log, 100, "ab12") == 100
    assert _texts(log) == [marker("ab12", 100, 300)] + [b"%d" % i for i in range(201, 301)]
    assert b"session ab12 resumed; its last 100 of 300 history lines" in _texts(log)[0]
    # lines scrolling after the replay follow it, once each
    log.feed(0, archive.record(0, _lines(301, 302), False), False)
    events = _delivered(log)
    assert [e[0] for e in events] == ["line"] * 103
    assert [e[1] for e in events[1:]] == [b"%d" % i for i in range(201, 303)]

    everything = HistoryLog(1001)
    assert archive.replay(everything, 1000, "ab12") == 302
    assert _texts(everything)[0] == marker("ab12", 302, 302)
    assert b"its 302 history lines" in _texts(everything)[0]


def test_holes_stay_one_marked_gap_each_and_erased_lines_are_never_replayed():
    archive = HistoryArchive(1000)
    archive.record(0, _lines(1, 10), True)
    archive.record(5, _lines(16, 20), False)  # the emulator dropped 11..15
    log = HistoryLog(1001)
    assert archive.replay(log, 1000, "x") == 15
    events = _delivered(log, seed=2)
    assert events[0] == ("line", marker("x", 15, 20), False)
    assert events[1:] == (
        [("line", b"%d" % i, False) for i in range(1, 11)]
        + [("gap", 5, False)]
        + [("line", b"%d" % i, False) for i in range(16, 21)]
    )

    archive.record(0, _lines(21, 22), True)  # ESC[3J before 21: 1..20 are gone
    log = HistoryLog(1001)
    assert archive.replay(log, 1000, "x") == 2
    assert _texts(log) == [marker("x", 2, 2), b"21", b"22"]


def test_nothing_to_replay_or_nothing_wanted_sends_nothing():
    archive = HistoryArchive(100)
    log = HistoryLog(1)
    assert archive.replay(log, 100, "x") == 0 and not log.pending
    archive.record(0, _lines(1, 5), False)
    assert archive.replay(log, 0, "x") == 0 and not log.pending


def test_the_marker_survives_a_replay_at_the_byte_budget():
    archive = HistoryArchive(1000, byte_budget=64 << 10)
    line = b"y" * 900
    archive.record(0, [(line, False)] * 1000, False)
    log = HistoryLog(1001, byte_budget=64 << 10)
    replayed = archive.replay(log, 1000, "x")
    assert 0 < replayed < 1000
    assert _texts(log)[0] == marker("x", replayed, 1000)
    assert len(log.pending) == replayed + 1 and log.charge <= 64 << 10


def test_many_resumes_keep_memory_bounded():
    archive = HistoryArchive(2000)
    for round_ in range(50):
        archive.record(0, _lines(round_ * 1000, round_ * 1000 + 999), False)
        log = HistoryLog(2001)
        assert archive.replay(log, 2000, "x") == min(2000, (round_ + 1) * 1000)
        assert len(log.pending) <= 2001
    assert archive.count == len(archive.lines()) == 2000


def test_seeded_from_the_emulator(terminal_impl):
    """What the emulator scrolls off (both terminals) is archived and replayed as rendered."""
    emu = terminal_impl.Emulator(20, 5)
    archive = HistoryArchive(50)
    emu.set_history_limit(archive.max_lines)
    emu.feed(b"\x1b[1mbold\x1b[0m\r\n" + b"".join(b"%d\r\n" % i for i in range(1, 100)))
    archive.record(*emu.take_history())
    emu.feed(b"a" * 30 + b"\r\n")  # soft-wrapped: the first row carries the wrap flag
    emu.feed(b"\r\n" * 5)
    archive.record(*emu.take_history())
    log = HistoryLog(51)
    assert archive.replay(log, 50, "s1") == 50
    events = _delivered(log, seed=3)
    texts = [e[1] for e in events]
    assert texts[0] == marker("s1", 50, archive.next_seq)
    assert texts[-8:] == [b"95", b"96", b"97", b"98", b"99", b"a" * 20, b"a" * 10, b""]
    assert events[-3][2] is True and events[-2][2] is False
    assert texts[1:-8] == [b"%d" % i for i in range(53, 95)]


def test_the_archive_keeps_exactly_the_newest_lines_that_fit():
    """Against a plain model: whatever the chunk sizes, holes and budgets, the archive holds
    the newest lines (with their numbers) within both bounds, and charges them exactly."""
    rng = random.Random(7)
    for max_lines, budget in ((50, 1 << 20), (10_000, 20_000), (300, 40_000)):
        archive = HistoryArchive(max_lines, byte_budget=budget)
        model: list = []
        seq = 0
        for _ in range(300):
            dropped = rng.choice((0, 0, 0, rng.randrange(1, 40)))
            seq += dropped
            batch = [
                (b"x" * rng.randrange(0, 400), rng.random() < 0.2)
                for _ in range(rng.randrange(0, 60))
            ]
            archive.record(dropped, batch, False)
            for data, wrap in batch:
                model.append((seq, data, wrap))
                seq += 1
            while (
                len(model) > max_lines or sum(len(d) + LINE_OVERHEAD for _, d, _ in model) > budget
            ):
                model.pop(0)
            assert archive.lines() == model
            assert archive.charge == sum(len(d) + LINE_OVERHEAD for _, d, _ in model)
            assert archive.count == len(model) and archive.next_seq == seq
