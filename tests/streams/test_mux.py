"""The stream multiplexer core alone (frames handed across directly, in order)."""

from __future__ import annotations

import random

from pymosh.statesync.streams import (
    DATA,
    FIN,
    MAX_CONTROL,
    MAX_STREAMS,
    OPEN,
    RESET,
    SEND_BUFFER,
    STREAM_WINDOW,
    WINDOW,
    Mux,
    _frame,
)
from pymosh.wire.protobuf import _varint
from tests.support.stream_sim import Peer

BIG = 10**9


def pair():
    return Mux(True), Mux(False)


def shuttle(a: Mux, b: Mux, budget: int = BIG) -> int:
    """Hand every frame across both ways once; the number moved."""
    moved = 0
    for src, dst in ((a, b), (b, a)):
        for frame in src.take_frames(budget):
            dst.receive(frame)
            moved += 1
    return moved


def run(a: Mux, b: Mux, pa: Peer, pb: Peer, budget: int = BIG, turns: int = 10_000) -> None:
    for _ in range(turns):
        pa.step()
        pb.step()
        if not shuttle(a, b, budget) and not a.has_output() and not b.has_output():
            pa.step()
            pb.step()
            if not a.has_output() and not b.has_output():
                return
    raise AssertionError("streams did not settle")


def test_open_data_both_ways_half_close_and_close():
    c, s = pair()
    pc, ps = Peer(c), Peer(s)
    ps.echo_finish = False
    sid = pc.send(b"tcp:example:22", b"hello server")
    run(c, s, pc, ps)
    assert ps.opened == {sid: b"tcp:example:22"}
    assert bytes(ps.got[sid]) == b"hello server"
    assert sid in ps.eof and sid not in pc.closed  # half-closed: server may still send
    ps.reply(sid, b"and hello back")
    run(c, s, pc, ps)
    assert bytes(pc.got[sid]) == b"and hello back"
    assert sid in pc.closed and sid in ps.closed
    assert not c.streams and not s.streams


def test_ids_parity_and_never_reused():
    c, s = pair()
    ids = [c.open(b"x") for _ in range(3)] + [s.open(b"y") for _ in range(2)]
    assert ids[:3] == [0, 2, 4] and ids[3:] == [1, 3]
    for sid in ids[:3]:
        c.reset(sid)
    assert c.open(b"x") == 6


def test_flow_control_stalled_reader_bounds_memory_and_other_stream_flows():
    c, s = pair()
    pc, ps = Peer(c), Peer(s)
    big = random.Random(1).randbytes(2 * 1024 * 1024)
    stalled = pc.send(b"slow", big)
    run_turns = 0
    ps.read_limit = 0  # the server's reader is stuck
    while run_turns < 200:
        pc.step()
        ps.step()
        shuttle(c, s)
        run_turns += 1
    assert len(s.streams[stalled].inbound) == STREAM_WINDOW  # never more than the credit
    assert len(c.streams[stalled].outbound) <= SEND_BUFFER  # the sender stops reading
    assert pc.outgoing[stalled][1] <= STREAM_WINDOW + SEND_BUFFER
    # another stream is not held up by the stalled one
    fast = pc.send(b"fast", b"x" * 300_000)
    ps.read_limit = None
    ps_stalled = ps.got.pop(stalled)  # keep the stalled stream unread
    for _ in range(100):
        pc.step()
        ps.step()
        shuttle(c, s)
    assert bytes(ps.got[fast]) == b"x" * 300_000
    assert len(ps_stalled) == 0
    # the reader resumes: everything arrives
    ps.got[stalled] = ps_stalled
    run(c, s, pc, ps)
    assert bytes(ps.got[stalled]) == big


def test_budget_limits_each_take():
    c, s = pair()
    pc = Peer(c)
    pc.send(b"t", b"z" * 100_000)
    pc.step()
    frames = c.take_frames(20_000)
    assert sum(map(len, frames)) <= 20_000
    assert c.take_frames(0) == []


def test_reset_drops_data_and_tells_the_peer():
    c, s = pair()
    pc, ps = Peer(c), Peer(s)
    sid = pc.send(b"t", b"a" * 1000, finish=False)
    run(c, s, pc, ps)
    c.reset(sid, "connection refused")
    pc.outgoing.pop(sid)
    run(c, s, pc, ps)
    assert ps.resets == {sid: b"connection refused"}
    assert not s.streams and not c.streams


def test_too_many_streams_refused():
    c, s = pair()
    pc, ps = Peer(c), Peer(s)
    sids = [c.open(b"t") for _ in range(MAX_STREAMS)]
    assert None not in sids and c.open(b"t") is None  # local limit
    run(c, s, pc, ps)
    # a peer that ignores the limit gets refusals, and they are bounded
    s2 = Mux(False)
    for i in range(5000):
        s2.receive(_frame(OPEN, 2 * i, b"t"))
    assert len(s2.streams) == MAX_STREAMS
    frames = s2.take_frames(BIG)
    assert len(frames) == MAX_CONTROL
    assert all(f[0] == RESET for f in frames)


def test_bad_input_is_dropped_never_raised():
    s = Mux(False)
    rng = random.Random(7)
    for _ in range(20_000):
        s.receive(rng.randbytes(rng.randrange(0, 12)))
    for frame in (
        b"",
        b"\x02",
        b"\x02\xff",
        _frame(DATA, 12345, b"x"),
        _frame(WINDOW, 0, b"\xff"),
        _frame(FIN, 99),
        _frame(RESET, 4),
        _frame(OPEN, 1, b"wrong parity"),
        _frame(77, 0),
    ):
        s.receive(frame)
    assert s.dropped > 0
    assert len(s.streams) <= MAX_STREAMS


def test_reused_id_data_after_fin_credit_overrun_and_reset_storm():
    s = Mux(False)
    s.receive(_frame(OPEN, 0, b"t"))
    s.receive(_frame(OPEN, 0, b"again"))  # reused id: dropped
    assert list(s.streams) == [0] and s.streams[0].target == b"t"
    s.receive(_frame(FIN, 0))
    s.receive(_frame(DATA, 0, b"late"))  # data after FIN: reset
    assert 0 not in s.streams
    assert [e.kind for e in s.take_events()] == ["open", "eof", "reset"]
    s.receive(_frame(OPEN, 2, b"t"))
    s.receive(_frame(DATA, 2, b"x" * (STREAM_WINDOW + 1)))  # beyond the credit: reset
    assert 2 not in s.streams
    s.receive(_frame(OPEN, 4, b"t"))
    s.receive(_frame(WINDOW, 4, _varint(1)))  # credit beyond the window
    assert 4 not in s.streams
    for i in range(10_000):  # reset storm
        s.receive(_frame(RESET, i, b"boom"))
    assert not s.streams
    assert sum(map(len, s.take_frames(BIG))) < 200  # no reply to a peer's reset


def test_frames_for_finished_streams_are_dropped():
    c, s = pair()
    pc, ps = Peer(c), Peer(s)
    sid = pc.send(b"t", b"data")
    run(c, s, pc, ps)
    assert sid in ps.closed
    before = s.dropped
    s.receive(_frame(DATA, sid, b"stale"))
    assert s.dropped == before + 1 and not s.streams
