"""SSP sender/receiver timing and bookkeeping on a perfect fake link (protocol.md §5)."""

from __future__ import annotations

import random

import pytest

from pymosh.network.sender import SHUTDOWN_NUM
from pymosh.network.transport import RECEIVED_STATES_LIMIT, Transport
from pymosh.statesync.user_stream import UserStream
from pymosh.wire.protobuf import Instruction, Keystroke, decode_user_message
from tests.support.craft import Peer, decode
from tests.support.lossy import CLIENT_ADDR, SERVER_ADDR, Impairment, LossyLink, Simulation

KEY = bytes(range(16))


def sim_with(crypto, delay=20.0, **kw):
    link = LossyLink(random.Random(7), Impairment(delay=delay, **kw), Impairment(delay=delay, **kw))
    return Simulation(crypto, link, key=KEY)


def sends(sim, side, start=0.0, end=float("inf")):
    d = 1 if side == "s" else 0
    grams = [g for t, s, g in sim.log if s == side and start <= t < end]
    times = [t for t, s, g in sim.log if s == side and start <= t < end]
    return times, decode(
        type(sim.client.connection.session).__module__ and _impl(sim), sim.key, grams, d
    )


def _impl(sim):
    import importlib

    return importlib.import_module(type(sim.client.connection.session).__module__)


def connect(sim):
    sim.client.current_state.push_resize(80, 24)
    assert sim.run_until(lambda: sim.client.sent_state_acked == 1, 2000)


def test_client_first_send_is_immediate_and_server_silent_before_contact(crypto_impl):
    sim = sim_with(crypto_impl)
    assert sim.server.wait_time(0) == float("inf") and sim.server.tick(0) == []
    sim.client.current_state.push_resize(80, 24)
    assert sim.client.wait_time(0) == 0
    grams = sim.client.tick(0)
    (inst,) = decode(crypto_impl, KEY, grams, 0)
    assert (inst.old_num, inst.new_num, inst.ack_num, inst.throwaway_num) == (0, 1, 0, 0)
    assert len(inst.chaff) <= 16


def test_first_contact_timeline(crypto_impl):
    """Server: immediate empty ack, then its first frame 250 ms later (no RTT sample)."""
    sim = sim_with(crypto_impl)
    sim.client.current_state.push_resize(80, 24)

    pushed = []

    def server_app(s):  # the shell prints its prompt a little after contact
        if s.now >= 30 and not pushed:
            pushed.append(s.now)
            s.server.current_state.push_keystroke(b"prompt$ ")

    sim.on_turn = server_app
    sim.run_for(600)
    times, insts = sends(sim, "s")
    assert times[:2] == [20, 270]
    assert (insts[0].old_num, insts[0].new_num, insts[0].ack_num, insts[0].diff) == (0, 1, 1, b"")
    assert insts[1].new_num == 2 and insts[1].old_num == 0
    assert decode_user_message(insts[1].diff) == [Keystroke(b"prompt$ ")]
    # the client acks the data 100 ms after it arrived (delayed data ack)
    ctimes, cinsts = sends(sim, "c")
    assert ctimes[1] == 290 + 100 and cinsts[1].ack_num == 2 and cinsts[1].diff == b""
    assert bytes(sim.client.latest_remote_state().events) == b"prompt$ "


@pytest.mark.parametrize("side, mindelay", [("c", 1), ("s", 8)])
def test_send_mindelay(crypto_impl, side, mindelay):
    sim = sim_with(crypto_impl)
    connect(sim)
    sim.run_for(500)
    t0 = sim.now
    me = sim.client if side == "c" else sim.server
    me.current_state.push_keystroke(b"k")
    sim.run_for(100)
    times, insts = sends(sim, side, t0)
    assert times[0] == t0 + mindelay
    assert decode_user_message(insts[0].diff) == [Keystroke(b"k")]


def test_idle_link_sends_only_heartbeats_every_3s(crypto_impl):
    sim = sim_with(crypto_impl)
    connect(sim)
    sim.run_for(1000)
    t0 = sim.now
    sim.run_for(30000)
    for side in "cs":
        times, insts = sends(sim, side, t0)
        assert len(times) == 10
        assert all(b - a == 3000 for a, b in zip(times, times[1:]))
        assert all(i.diff == b"" for i in insts)
        nums = [i.new_num for i in insts]
        assert nums == list(range(nums[0], nums[0] + 10))  # every empty ack is a new state


def test_frame_rate_retransmission_and_resend_optimisation(crypto_impl):
    sim = sim_with(crypto_impl)
    connect(sim)
    sim.run_for(500)
    # server→client goes dark: client's data is never acked
    sim.link.blackout(sim.now, sim.now + 1500)
    t0 = sim.now
    sim.client.current_state.push_keystroke(b"abc")
    sim.run_for(1000)
    times, insts = sends(sim, "c", t0)
    assert len(insts) >= 3
    acked = sim.client.sent_state_acked
    # retransmissions carry the whole diff from the acknowledged state
    for inst in insts:
        assert inst.old_num == acked
        assert decode_user_message(inst.diff) == [Keystroke(b"abc")]
    sim.run_until(lambda: sim.client.all_acked(), sim.now + 5000)
    assert bytes(sim.server_received) == b"abc"


def test_sent_states_are_capped_at_32(crypto_impl):
    sim = sim_with(crypto_impl)
    connect(sim)
    sim.link.down.loss = 1.0  # no acks come back
    for i in range(60):
        sim.client.current_state.push_keystroke(b"%d" % (i % 10))
        sim.run_for(30)
    nums = [e.num for e in sim.client.sender.sent_states]
    assert len(nums) == 32
    assert nums[0] == 1  # acked front is kept
    assert nums == sorted(nums) and nums[-15:] == list(range(nums[-1] - 14, nums[-1] + 1))
    sim.link.down.loss = 0.0
    assert sim.run_until(lambda: sim.client.all_acked(), sim.now + 5000)
    assert bytes(sim.server_received) == b"".join(b"%d" % (i % 10) for i in range(60))


# ---------------------------------------------------------------- receiver (§5.6)


def receiver(crypto):
    peer = Peer(KEY, False, crypto, SERVER_ADDR)
    server = Transport(UserStream(), UserStream(), _server_conn(crypto), 0)
    return peer, server


def _server_conn(crypto):
    from pymosh.network.connection import Connection

    return Connection(KEY, True, session_class=crypto.Session)


def keys(data):
    s = UserStream()
    s.push_keystroke(data)
    return s.init_diff()


def feed(server, peer, inst, now=0):
    for d in peer.datagrams(inst, now):
        server.receive(d, CLIENT_ADDR, now)


def test_receiver_idempotency_old_num_throwaway_and_sorting(crypto_impl):
    peer, server = receiver(crypto_impl)
    feed(server, peer, Instruction(2, 0, 1, 0, 0, keys(b"a")))
    feed(server, peer, Instruction(2, 0, 1, 0, 0, keys(b"ZZZ")))  # same new_num: ignored
    assert server.remote_state_num == 1
    assert bytes(server.latest_remote_state().events) == b"a"
    feed(server, peer, Instruction(2, 5, 6, 0, 0, keys(b"x")))  # unknown reference
    assert server.remote_state_num == 1
    feed(server, peer, Instruction(2, 1, 3, 0, 0, keys(b"bc")))
    assert server.sender.ack_num == 3 and server.sender.pending_data_ack
    server.sender.pending_data_ack = False
    # state 2 arrives late: inserted in order, but no ack/heard change
    heard = server.sender.last_heard
    feed(server, peer, Instruction(2, 1, 2, 0, 0, keys(b"b")), now=50)
    assert [e.num for e in server.received_states] == [0, 1, 2, 3]
    assert server.sender.ack_num == 3 and server.sender.last_heard == heard
    assert not server.sender.pending_data_ack
    # throwaway drops states below it; at least the newest stays even if bogus
    feed(server, peer, Instruction(2, 3, 4, 0, 2, b""), now=60)
    assert [e.num for e in server.received_states] == [2, 3, 4]
    feed(server, peer, Instruction(2, 4, 5, 0, 99, b""), now=70)
    assert [e.num for e in server.received_states] == [4, 5]
    assert bytes(server.latest_remote_state().events) == b"abc"


def test_receiver_drops_bad_versions_and_bad_diffs(crypto_impl):
    peer, server = receiver(crypto_impl)
    feed(server, peer, Instruction(3, 0, 1, 0, 0, keys(b"a")))
    assert server.version_mismatches == 1 and server.remote_state_num == 0
    feed(server, peer, Instruction(2, 0, 1, 0, 0, b"\x0a\x09garbage"))
    assert server.dropped_instructions == 1 and server.remote_state_num == 0
    feed(server, peer, Instruction(2, 0, 1, 0, 0, keys(b"ok")))
    assert bytes(server.latest_remote_state().events) == b"ok"


def test_receiver_queue_limit_and_quench(crypto_impl):
    peer, server = receiver(crypto_impl)
    for n in range(1, RECEIVED_STATES_LIMIT + 1):
        feed(server, peer, Instruction(2, n - 1, n, 0, 0, b""), now=n)
    assert len(server.received_states) == RECEIVED_STATES_LIMIT + 1
    # over the limit: one state is admitted and arms the 15 s quench
    feed(server, peer, Instruction(2, 1024, 1025, 0, 0, b""), now=2000)
    assert server.remote_state_num == 1025
    feed(server, peer, Instruction(2, 1025, 1026, 0, 0, b""), now=2001)
    feed(server, peer, Instruction(2, 1025, 1026, 0, 0, b""), now=16999)
    assert server.remote_state_num == 1025
    feed(server, peer, Instruction(2, 1025, 1026, 0, 0, b""), now=17000)
    assert server.remote_state_num == 1026
    feed(server, peer, Instruction(2, 1026, 1027, 0, 1000, b""), now=17001)  # throwaway frees
    assert server.remote_state_num == 1027 and len(server.received_states) == 28


def test_acks_are_processed_even_from_duplicates(crypto_impl):
    peer, server = receiver(crypto_impl)
    feed(server, peer, Instruction(2, 0, 1, 0, 0, b""))
    server.current_state.push_keystroke(b"out")
    grams = server.tick(100)
    assert server.sent_state_last == 1 and server.sent_state_acked == 0
    feed(server, peer, Instruction(2, 0, 1, 1, 0, b""), now=150)  # duplicate state, new ack
    assert server.sent_state_acked == 1
    feed(server, peer, Instruction(2, 0, 1, 77, 0, b""), now=160)  # unknown ack: ignored
    assert server.sent_state_acked == 1
    assert grams


def test_get_remote_diff_consumes_each_event_once(crypto_impl):
    peer, server = receiver(crypto_impl)
    feed(server, peer, Instruction(2, 0, 1, 0, 0, keys(b"ab")))
    assert decode_user_message(server.get_remote_diff()) == [Keystroke(b"ab")]
    feed(server, peer, Instruction(2, 0, 2, 0, 0, keys(b"abc")))  # resend from state 0
    assert decode_user_message(server.get_remote_diff()) == [Keystroke(b"c")]
    assert server.get_remote_diff() == b""


# ---------------------------------------------------------------- shutdown (§5.8)


@pytest.mark.parametrize("initiator", ["client", "server"])
def test_shutdown_handshake(crypto_impl, initiator):
    sim = sim_with(crypto_impl)
    connect(sim)
    sim.run_for(500)
    me, peer = (sim.client, sim.server) if initiator == "client" else (sim.server, sim.client)
    me.current_state.push_keystroke(b"bye")
    me.start_shutdown(sim.now)
    assert sim.run_until(lambda: me.shutdown_acknowledged(), sim.now + 2000)
    assert peer.counterparty_shutdown_ack_sent() and peer.has_remote_shutdown()
    assert not me.shutdown_ack_timed_out(sim.now)
    side = "c" if initiator == "client" else "s"
    _, insts = sends(sim, side)
    assert insts[-1].new_num == SHUTDOWN_NUM
    _, answers = sends(sim, "s" if side == "c" else "c")
    assert sum(i.ack_num == SHUTDOWN_NUM for i in answers) == 1
    if initiator == "client":
        assert bytes(sim.server_received).endswith(b"bye")
    else:
        assert bytes(sim.client.latest_remote_state().events) == b"bye"


def test_shutdown_gives_up_after_16_tries(crypto_impl):
    sim = sim_with(crypto_impl)
    connect(sim)
    sim.run_for(500)
    sim.link.up.loss = 1.0
    sim.client.start_shutdown(sim.now)
    t0 = sim.now
    assert sim.run_until(lambda: sim.client.shutdown_ack_timed_out(sim.now), t0 + 10000)
    _, insts = sends(sim, "c", t0)
    assert len(insts) == 16 and all(i.new_num == SHUTDOWN_NUM for i in insts)
    assert not sim.client.shutdown_acknowledged()


def test_shutdown_gives_up_after_10_seconds():
    from pymosh.crypto import ocb

    sim = sim_with(ocb)
    sim.client.current_state.push_resize(80, 24)
    sim.client.start_shutdown(0)  # never connected: only 3 s heartbeats
    assert not sim.client.shutdown_ack_timed_out(9999)
    assert sim.client.shutdown_ack_timed_out(10000)


def test_heartbeats_share_the_sent_state_and_keystrokes_after_them_go_once(crypto_impl):
    """A heartbeat (the state sent last is still the live one) keeps that state without a
    copy; a state shared by adjacent entries is rationalized once, so keystrokes typed
    after heartbeats reach the server exactly once."""
    sim = sim_with(crypto_impl)
    connect(sim)
    sim.run_for(1000)
    for transport in (sim.client, sim.server):
        states = transport.sender.sent_states
        assert transport.tick(sim.now + 3000)  # a heartbeat
        assert states[-1].state is states[-2].state
    sim = sim_with(crypto_impl)
    connect(sim)
    for word in (b"aa", b"a", b"ab"):
        for byte in word:
            sim.client.current_state.push_keystroke(bytes([byte]))
            sim.run_for(5)
        sim.run_for(7000)  # heartbeats both ways
        assert sim.client.current_state == sim.client.sender.sent_states[-1].state
    assert bytes(sim.server_received) == b"aaaab"
