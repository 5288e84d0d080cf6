"""Scrollback history (statesync/history.py): exactly once, in order, marked gaps, bounded."""

from __future__ import annotations

import os
import random

import pytest

from pymosh.errors import DecodeError
from pymosh.network.connection import Connection
from pymosh.network.transport import Transport
from pymosh.statesync import history
from pymosh.statesync.complete import CompleteTerminal
from pymosh.statesync.history import (
    BUSY,
    CHUNK,
    FAST,
    GROW,
    LINE_MAX,
    LINE_OVERHEAD,
    QUIET,
    SETTLE,
    WINDOW,
    HistoryLog,
    HistoryReader,
    HistoryWindow,
)
from pymosh.statesync.user_stream import UserStream
from pymosh.wire.protobuf import EXT_HISTORY, History, decode_host_message, encode_host_message
from tests.support.lossy import CLIENT_ADDR, SERVER_ADDR, Impairment, LossyLink


def _line(i: int) -> bytes:
    return b"line %d" % i


class HistorySim:
    """A server CompleteTerminal + HistoryLog and a client with a HistoryReader, over a
    LossyLink on a fake clock; the server 'prints' lines as the test asks."""

    def __init__(
        self, link: LossyLink, max_lines: int = 100_000, source=None, quick_acks=False
    ) -> None:
        key = os.urandom(16)
        self.link = link
        self.now = 0.0
        self.state = CompleteTerminal(80, 24)
        self.log = HistoryLog(max_lines, source)
        self.state.history = self.log.window
        self.server = Transport(self.state, UserStream(), Connection(key, True, now=0), 0)
        self.server.current_state = self.state
        remote = CompleteTerminal(80, 24)
        remote.history = HistoryWindow()
        self.client = Transport(UserStream(), remote, Connection(key, False, SERVER_ADDR, now=0), 0)
        self.client.current_state.push_keystroke(b"x")  # gives the server an address
        self.reader = HistoryReader()
        self.events: list = []
        self.biggest_history = 0
        self.quick_acks = quick_acks  # as pymosh-client: history on a still screen, at once

    def turn(self) -> None:
        now = self.now
        for item in self.link.pop_due(now):
            if item.dst == SERVER_ADDR:
                self.server.receive(item.datagram, item.src, now)
            else:
                self.client.receive(item.datagram, SERVER_ADDR, now)
        window = self.client.latest_remote_state().history
        if self.quick_acks and window.lines:  # (the sim's screen never changes)
            self.client.expedite_ack()
        self.events += self.reader.events(window)
        for datagram in self.client.tick(now):
            self.link.send(datagram, CLIENT_ADDR, SERVER_ADDR, now, upstream=True)
        self.log.pump(now, self.server.all_acked())
        datagrams = self.server.tick(now)
        if datagrams:
            self.log.sent()
        for datagram in datagrams:
            self.link.send(datagram, SERVER_ADDR, CLIENT_ADDR, now, upstream=False)

    def run(self, ms: float, produce=None) -> None:
        end = self.now + ms
        while self.now < end:
            if produce is not None:
                produce(self)
            self.turn()
            nxt = min(
                self.link.next_due(),
                self.now + self.client.wait_time(self.now),
                self.now + self.server.wait_time(self.now),
                self.now + self.log.wait_time(self.now),
                self.now + 5,
            )
            self.now = max(nxt, self.now + 0.5)

    def lines(self) -> list:
        return [e[1] for e in self.events if e[0] == "line"]


def _printer(total: int, per_turn: int, start: int = 0):
    state = {"next": start}

    def produce(sim: HistorySim) -> None:
        start = state["next"]
        stop = min(total, start + per_turn)
        if stop > start:
            sim.log.feed(0, [(_line(i), False) for i in range(start, stop)], False, sim.now)
            state["next"] = stop

    return produce


def test_every_line_once_in_order_on_a_clean_link():
    sim = HistorySim(LossyLink(random.Random(1), Impairment(delay=5), Impairment(delay=5)))
    sim.run(20_000, _printer(20_000, 500))
    assert sim.lines() == [_line(i) for i in range(20_000)]
    assert not [e for e in sim.events if e[0] == "gap"]


@pytest.mark.parametrize("seed", [3, 4])
def test_every_line_once_in_order_through_loss_reorder_duplication_and_blackout(seed):
    bad = Impairment(delay=30, jitter=20, loss=0.3, duplicate=0.1, reorder=0.1)
    link = LossyLink(random.Random(seed), bad, bad)
    link.blackout(3000, 8000)
    sim = HistorySim(link)
    sim.run(120_000, _printer(3000, 50))
    assert sim.lines() == [_line(i) for i in range(3000)]


def test_a_client_that_falls_behind_gets_one_marked_gap_then_the_rest():
    link = LossyLink(random.Random(5), Impairment(delay=10), Impairment(delay=10))
    link.blackout(100, 5000)
    sim = HistorySim(link, max_lines=1000)
    sim.run(200, _printer(100, 100))  # 0..99 delivered
    sim.run(4000, _printer(100 + 50_000, 1000, start=100))  # the client cannot hear any of this
    sim.run(20_000)
    # a prefix with one marked gap: each line is the next one printed, or comes right
    # after the gap line saying how many were skipped
    seq = 0
    for event in sim.events:
        if event[0] == "gap":
            seq += event[1]
        else:
            assert event[1] == _line(seq)
            seq += 1
    assert seq == 50_100
    assert [e[0] for e in sim.events].count("gap") == 1
    assert sim.lines()[:100] == [_line(i) for i in range(100)]
    assert sim.lines()[-1000:] == [_line(i) for i in range(49_100, 50_100)]


def test_each_diff_carries_a_bounded_amount_of_history():
    state = CompleteTerminal(80, 24)
    log = HistoryLog(1_000_000)
    state.history = log.window
    log.feed(0, [(b"x" * 200, False)] * 10_000, False)
    acked = state.copy()
    sizes = []
    for _ in range(20):
        log.pump()
        sent = state.copy()
        sizes.append(len(state.diff_from(acked)))
        log.sent()
        state.subtract(acked)  # nothing acknowledged: the window stops growing
        assert sent.history.size <= WINDOW + 200
    assert max(sizes) <= WINDOW + 2 * CHUNK
    assert log.backlog > 9000


def test_ready_says_whether_pump_could_change_anything():
    """The server's per-turn test: while output drops lines, and with nothing to move,
    pump would do nothing (so it is not called); an ESC[3J or a settled backlog it would."""
    log = HistoryLog(100)
    assert not log.ready(0)  # nothing to move
    log.feed(5, [(b"a", False)], False, now=1000)  # lines dropped: the log holds back
    assert not log.ready(1000 + SETTLE - 1)
    state = log.window.copy()
    assert not log.pump(1000 + SETTLE - 1)
    assert log.window == state
    assert log.ready(1000 + SETTLE)
    assert log.pump(1000 + SETTLE)
    assert not log.ready(2000)  # everything moved into the window
    log.feed(0, [], True, now=2000)  # ESC[3J: the window must say so at once
    assert log.ready(2000)


def test_server_memory_is_bounded_by_lines_and_bytes():
    log = HistoryLog(1_000_000, byte_budget=4 << 20)
    huge = b"\xe2\x82\xac" * (1 << 18)  # a 768 KiB row (cut to LINE_MAX)
    for i in range(200):
        log.feed(3, [(huge, False), (b"%d unique" % i, True)], False)
        assert log.charge <= 4 << 20
    assert all(len(line[1]) <= LINE_MAX + 4 for line in log.pending)
    assert log.pending[0][1].decode("utf-8", "strict")  # cut on a character boundary
    many = HistoryLog(500)
    many.feed(0, ((b"%d" % i, False) for i in range(100_000)), False)
    assert len(many.pending) == 500 and many.pending[0][0] == 99_500
    assert many.charge == sum(len(x[1]) + LINE_OVERHEAD for x in many.pending)


def test_erase_saved_lines_reaches_the_client_in_order():
    state = CompleteTerminal(80, 24)
    log = HistoryLog(100)
    state.history = log.window
    client = CompleteTerminal(80, 24)
    client.history = HistoryWindow()
    reader = HistoryReader()
    log.feed(0, [(b"a", False), (b"b", False)], False)
    base = state.copy()
    log.pump()
    client.apply_string(state.diff_from(base))
    assert reader.events(client.history) == [("line", b"a", False), ("line", b"b", False)]
    log.feed(0, [(b"c", False)], False)
    log.feed(0, [(b"d", False)], True)  # c was erased before it was sent
    base = state.copy()
    log.sent()
    log.pump()
    client.apply_string(state.diff_from(base))
    assert reader.events(client.history) == [("clear", 1, False), ("line", b"d", False)]


def test_stock_client_never_sees_history_and_a_client_that_did_not_ask_ignores_it():
    server = CompleteTerminal(20, 5)
    server.act(b"hello")
    assert not any(isinstance(e, History) for e in decode_host_message(server.init_diff()))
    wire = encode_host_message([History(b"\x08\x00\x12\x02hi")])
    assert b"\xaa\x06" in wire  # field 101, wire type 2: what a stock parser skips
    assert EXT_HISTORY == 101
    plain = CompleteTerminal(20, 5)
    plain.apply_string(wire)  # no history slot: ignored
    assert plain.history is None


def test_bad_history_bodies_never_crash_or_grow_without_bound():
    rng = random.Random(7)
    reader = HistoryReader()
    window = HistoryWindow()
    good = HistoryWindow()
    good.append((5, b"x", False))
    bodies = [
        good.diff_from(HistoryWindow()),
        b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x12\x01a",  # seq 2^64-1
        b"\x22\x04\x00\xff\xff\x7f\x12\x01b",  # absurd skip
        b"\x12\x03\xff\xfe\xfd",  # invalid UTF-8
        b"\x28\x05\x30\x09",
    ]  # clears
    bodies += [bytes(rng.randrange(256) for _ in range(rng.randrange(40))) for _ in range(3000)]
    for body in bodies:
        try:
            window.apply(body)
        except DecodeError:
            pass
        for _ in reader.events(window):
            pass
        assert len(window.lines) == 0
    before = reader.next_seq
    window.apply(good.diff_from(HistoryWindow()))  # a replay of old lines: ignored
    assert reader.events(window) == [] and reader.next_seq == before


def test_granted_clipboard_sends_every_selection():
    from pymosh.wire.protobuf import FEATURE_CLIPBOARD, Hello, HostBytes

    server = CompleteTerminal(20, 5)
    before = server.copy()
    server.act(b"\x1b]52;p;aGk=\x07")
    stock = decode_host_message(server.diff_from(before))
    assert not any(b"52;p" in e.data for e in stock if isinstance(e, HostBytes))
    server.hello = Hello(1, FEATURE_CLIPBOARD, 0)
    before.hello = server.hello
    assert server != before  # a selection-only change is a change
    granted = decode_host_message(server.diff_from(before))
    assert any(b"\x1b]52;p;aGk=" in e.data for e in granted if isinstance(e, HostBytes))


class CountingSource:
    """An emulator (either implementation) as the log's source, counting rendered rows."""

    def __init__(self, emulator) -> None:
        self.emulator = emulator
        self.rendered = 0

    @property
    def history_pending(self) -> int:
        return self.emulator.history_pending

    @property
    def history_pending_bytes(self) -> int:
        return self.emulator.history_pending_bytes

    def take_history(self, max_lines=None):
        out = self.emulator.take_history(max_lines)
        self.rendered += len(out[1])
        return out


def _emulator_source(impl, max_lines: int) -> CountingSource:
    emulator = impl.Emulator(10, 3)
    emulator.set_history_limit(max_lines)
    return CountingSource(emulator)


def _program(total: int, per_turn: int):
    """Prints lines 0..total-1 on the source's emulator (then two blank lines, so every
    one of them has left its 3-row screen), the server capturing after each read."""
    state = {"next": 0}

    def produce(sim: HistorySim) -> None:
        start = state["next"]
        if start > total:
            return
        stop = min(total, start + per_turn)
        data = b"".join(b"%d\r\n" % i for i in range(start, stop))
        sim.log.source.emulator.feed(data + (b"\r\n\r\n" if stop == total else b""))
        sim.log.capture(sim.now)
        state["next"] = stop + (stop == total)

    return produce


def test_bulk_output_renders_only_the_lines_sent_and_one_marked_gap(terminal_impl):
    """50,000 lines through a 1,000-line ring: the overflow is one gap of the exact size,
    the newest 1,000 arrive in order, and only those (and a few more) were ever rendered."""
    source = _emulator_source(terminal_impl, 1000)
    sim = HistorySim(
        LossyLink(random.Random(6), Impairment(delay=5), Impairment(delay=5)), 1000, source
    )
    sim.run(2000, _program(50_000, 5000))
    sim.run(20_000)
    seq = 0
    for event in sim.events:
        if event[0] == "gap":
            seq += event[1]
        else:
            assert event[1] == b"%d" % seq
            seq += 1
    assert seq == 50_000
    assert [e[0] for e in sim.events].count("gap") == 1
    assert sim.lines()[-1000:] == [b"%d" % i for i in range(49_000, 50_000)]
    assert source.rendered <= len(sim.lines()) + history.PULL
    assert source.history_pending == 0 and sim.log.backlog == 0


def test_bulk_output_keeps_the_sessions_archive_numbered_like_the_log(terminal_impl):
    """While bulk output only drops rows (the log counts them without rendering any), the
    session's archive counts them too: every line it keeps has the number the client
    gives it, and it numbers the next line like the log."""
    from pymosh.statesync.archive import HistoryArchive

    source = _emulator_source(terminal_impl, 1000)
    sim = HistorySim(
        LossyLink(random.Random(5), Impairment(delay=5), Impairment(delay=5)), 1000, source
    )
    sim.log.archive = archive = HistoryArchive(1000)
    sim.run(2000, _program(20_000, 3000))
    sim.run(20_000)
    assert sim.lines()[-1000:] == [b"%d" % i for i in range(19_000, 20_000)]
    kept = archive.lines()
    assert len(kept) == 1000 and archive.next_seq == sim.log.next_seq
    assert all(text == (b"%d" % seq if seq < 20_000 else b"") for seq, text, _ in kept)


def test_rows_beyond_the_row_budget_are_rendered_and_all_arrive(terminal_impl, monkeypatch):
    probe = _emulator_source(terminal_impl, 10)
    probe.emulator.feed(b"0\r\n1\r\n2\r\n")
    row = probe.history_pending_bytes  # one short row
    source = _emulator_source(terminal_impl, 100_000)
    monkeypatch.setattr(history, "ROW_BUDGET", 20 * row)
    sim = HistorySim(
        LossyLink(random.Random(7), Impairment(delay=5), Impairment(delay=5)), 100_000, source
    )
    sim.run(500, _program(3000, 300))
    assert source.history_pending <= 20
    assert source.history_pending_bytes <= 20 * row
    sim.run(30_000)
    assert sim.lines() == [b"%d" % i for i in range(3000)]
    assert source.rendered == 3000  # each line rendered once


def test_a_printing_program_gets_a_window_every_busy_interval_then_all_once_quiet():
    """History stays out of the way of bulk output: while the program prints, a window of
    lines starts BUSY ms after it began and at most every BUSY ms; QUIET ms after it
    stopped, they flow again."""
    log = HistoryLog(100_000)
    log.feed(0, [(b"x" * 100, False)] * 1000, False, now=0)
    starts, sent = [], 0

    def acknowledge() -> int:
        n = len(log.window.lines)
        log.window.subtract(log.window.copy())
        log.window.size = 0
        log.sent()
        return n

    for t in range(0, 1000, 10):  # output every 10 ms, acknowledged at once
        log.feed(0, [], False, now=t)
        if log.pump(t, all_acked=True):
            starts.append(t)
        sent += acknowledge()
    assert starts == list(range(BUSY, 1000, BUSY))
    assert log.wait_time(990) == min(990 + QUIET, starts[-1] + BUSY) - 990
    t = 990 + log.wait_time(990)  # quiet now: a CHUNK with every send
    while log.backlog:
        assert log.pump(t, all_acked=True)
        sent += acknowledge()
        t += 20
    assert sent == 1000 and t - 1000 <= 20 * (1000 * 100 // CHUNK + 1)


def test_a_quiet_screen_and_quick_acknowledgments_let_the_window_grow_until_output():
    """Per send, CHUNK bytes at first; each quick acknowledgment of everything in flight
    doubles that (up to GROW times) while the program stays quiet; output or a slow
    acknowledgment starts over."""
    log = HistoryLog(1_000_000)
    log.feed(0, [(b"x" * 100, False)] * 50_000, False, now=0)

    def send(t: float, ack_after: float) -> int:
        """One send at ``t``, all of it acknowledged ``ack_after`` ms later: its bytes."""
        log.pump(t, all_acked=True)
        size = log.window.size
        log.sent()
        log.window.subtract(log.window.copy())  # the acknowledgment arrives
        log.pump(t + ack_after, all_acked=True)
        return size

    t = 100.0
    sizes = []
    for _ in range(6):
        sizes.append(send(t, 5))
        t += 20
    assert sizes[0] <= CHUNK + 102 and max(sizes) > (GROW - 1) * CHUNK
    assert all(size <= GROW * CHUNK + 102 for size in sizes)
    log.feed(0, [], False, now=t)  # the program prints: the screen goes first again
    log.window.subtract(log.window.copy())
    t += QUIET
    assert send(t, 5) <= CHUNK + 102
    slow = [send(t + 200 * (i + 1), FAST + 1) for i in range(4)]  # e.g. Mosh's delayed ack
    assert max(slow[1:]) <= CHUNK + 102  # (the first still rode on the quick one before)


def test_quick_acknowledgments_grow_the_window_and_lines_survive_a_path_turning_lossy():
    """Quick acks on a quiet screen grow the window to GROW times; when the path then loses
    packets (a grown window in flight) it drops back, and every line still arrives once, in
    order."""
    link = LossyLink(random.Random(7), Impairment(delay=5), Impairment(delay=5))
    sim = HistorySim(link, quick_acks=True)
    total = 12_000
    text = [b"%d " % i + b"x" * 50 for i in range(total)]
    sim.log.feed(0, [(line, False) for line in text], False, now=0)
    while sim.log.scale < GROW and sim.now < 1000:
        sim.run(5)
    assert sim.log.scale == GROW and sim.log.window.size > WINDOW
    bad = Impairment(delay=30, jitter=20, loss=0.3, duplicate=0.1, reorder=0.1)
    link.down = link.up = bad
    start = sim.now
    while sim.now < start + 120_000 and len(sim.events) < total:
        sim.run(10)
        assert sim.log.window.size <= GROW * WINDOW + 100
    assert sim.log.scale == 1
    assert sim.lines() == text
