"""pymosh's timing policy knobs (Connection / TransportSender constructor parameters).

The defaults are Mosh's constants (pinned by test_connection / test_transport); these
tests pin what the knobs change, on a fake clock, and that they change nothing else.
"""

from __future__ import annotations

import random

import pytest

from pymosh.network import connection as C
from pymosh.network.connection import FAST_START_RTTVAR, FAST_START_SRTT, Connection
from pymosh.network.transport import Transport
from pymosh.statesync.user_stream import UserStream
from pymosh.wire.protobuf import Keystroke, decode_user_message
from tests.support.craft import decode
from tests.support.lossy import SERVER_ADDR, Impairment, LossyLink, Simulation

KEY = bytes(range(16))
SERVER = ("10.0.0.9", 60001)
A1 = ("10.0.0.1", 5000)


def knobbed_sim(
    crypto, delay=20.0, server_kw=None, client_kw=None, server_sender=None, client_sender=None
):
    """A Simulation whose two transports are rebuilt with the given knobs."""
    link = LossyLink(random.Random(7), Impairment(delay=delay), Impairment(delay=delay))
    sim = Simulation(crypto, link, key=KEY)
    sconn = Connection(KEY, True, session_class=crypto.Session, now=0, **(server_kw or {}))
    cconn = Connection(
        KEY, False, SERVER_ADDR, session_class=crypto.Session, now=0, **(client_kw or {})
    )
    sim.server = Transport(UserStream(), UserStream(), sconn, 0, **(server_sender or {}))
    sim.client = Transport(UserStream(), UserStream(), cconn, 0, **(client_sender or {}))
    return sim


def sends(sim, side, start=0.0):
    d = 1 if side == "s" else 0
    log = [(t, g) for t, s, g in sim.log if s == side and t >= start]
    import importlib

    impl = importlib.import_module(type(sim.client.connection.session).__module__)
    return [t for t, _ in log], decode(impl, KEY, [g for _, g in log], d)


FAST = {"initial_srtt": FAST_START_SRTT, "initial_rttvar": FAST_START_RTTVAR}


def test_fast_start_estimate_paces_at_the_floor_with_moshs_initial_rto(crypto_impl):
    mosh = Connection(KEY, False, SERVER, session_class=crypto_impl.Session)
    fast = Connection(KEY, False, SERVER, session_class=crypto_impl.Session, **FAST)
    assert (mosh.srtt, mosh.rttvar, mosh.send_interval(), mosh.timeout()) == (1000, 500, 250, 1000)
    assert (fast.srtt, fast.rttvar) == (40, 240) and not fast.rtt_hit
    assert fast.send_interval() == C.SEND_INTERVAL_MIN == 20
    assert fast.timeout() == mosh.timeout() == C.MAX_RTO  # retransmission as cautious


def test_first_rtt_sample_replaces_the_initial_estimate(crypto_impl):
    client = Connection(KEY, False, SERVER, session_class=crypto_impl.Session, **FAST)
    server = Connection(KEY, True, session_class=crypto_impl.Session, **FAST)
    server.receive(client.make_datagram(b"a" * 10, 0), A1, 100)
    client.receive(server.make_datagram(b"b" * 10, 100), SERVER, 600)  # sample 600 ms
    assert client.rtt_hit and (client.srtt, client.rttvar) == (600, 300)
    assert (client.send_interval(), client.timeout()) == (250, 1000)


def test_custom_initial_estimate(crypto_impl):
    conn = Connection(
        KEY, True, session_class=crypto_impl.Session, initial_srtt=100, initial_rttvar=10
    )
    assert (conn.send_interval(), conn.timeout()) == (50, 140)


def _prompt_after_contact(sim, at=30):
    pushed: list[float] = []

    def server_app(s):  # the shell prints its prompt a little after contact
        if s.now >= at and not pushed:
            pushed.append(s.now)
            s.server.current_state.push_keystroke(b"prompt$ ")

    sim.on_turn = server_app
    return pushed


@pytest.mark.parametrize("fast", [False, True])
def test_first_frame_after_contact(crypto_impl, fast):
    """Contact at 20 ms (immediate empty ack), then the prompt: Mosh's estimate holds it
    until 20 + 250; the fast start sends it after the 8 ms mindelay (and ≥ 20 + 20)."""
    sim = knobbed_sim(crypto_impl, server_kw=FAST if fast else {})
    sim.client.current_state.push_resize(80, 24)
    pushed = _prompt_after_contact(sim)
    sim.run_for(600)
    times, insts = sends(sim, "s")
    assert times[:2] == [20, max(pushed[0] + 8, 40) if fast else 270]
    assert times[1] < 60 if fast else True
    assert insts[0].diff == b"" and insts[0].new_num == 1
    assert decode_user_message(insts[1].diff) == [Keystroke(b"prompt$ ")]
    assert bytes(sim.client.latest_remote_state().events) == b"prompt$ "


def test_fast_start_on_a_slow_link_retransmits_no_sooner_than_mosh(crypto_impl):
    """300 ms each way, client data never acked: resends keep Mosh's RTO spacing."""
    got = {}
    for name, kw in (("mosh", {}), ("fast", FAST)):
        sim = knobbed_sim(crypto_impl, delay=300.0, client_kw=kw)
        sim.link.down.loss = 1.0
        sim.client.current_state.push_resize(80, 24)
        sim.run_for(3000)
        got[name] = sends(sim, "c")[0]
    assert got["fast"] == got["mosh"]


@pytest.mark.parametrize("mindelay", [0, 1, 2, 8])
def test_server_send_mindelay_knob(crypto_impl, mindelay):
    sim = knobbed_sim(crypto_impl, server_sender={"send_mindelay": mindelay})
    assert sim.server.sender.send_mindelay == mindelay
    sim.client.current_state.push_resize(80, 24)
    sim.run_until(lambda: sim.client.sent_state_acked == 1, 2000)
    sim.run_for(500)
    t0 = sim.now
    sim.server.current_state.push_keystroke(b"k")
    sim.run_for(100)
    times, insts = sends(sim, "s", t0)
    assert times[0] == t0 + mindelay
    assert decode_user_message(insts[0].diff) == [Keystroke(b"k")]


def test_send_mindelay_defaults_are_moshs(crypto_impl):
    sim = knobbed_sim(crypto_impl)
    assert (sim.server.sender.send_mindelay, sim.client.sender.send_mindelay) == (8, 1)


def test_small_mindelay_still_obeys_the_frame_interval(crypto_impl):
    """Output arriving every 5 ms still leaves at most one frame per 20 ms."""
    sim = knobbed_sim(crypto_impl, server_sender={"send_mindelay": 1})
    sim.client.current_state.push_resize(80, 24)
    sim.run_until(lambda: sim.client.sent_state_acked == 1, 2000)
    sim.run_for(500)
    t0 = sim.now

    due = [t0]

    def burst(s):
        if s.now >= due[0] and s.now < t0 + 200:
            due[0] += 5
            s.server.current_state.push_keystroke(b"x")

    sim.on_turn = burst
    sim.run_until(lambda: False, t0 + 300, step_cap=5)
    times, insts = sends(sim, "s", t0)
    data = [t for t, i in zip(times, insts) if i.diff]
    assert all(b - a >= C.SEND_INTERVAL_MIN for a, b in zip(data, data[1:]))
    assert 3 <= len(data) <= 200 // 20 + 2


def _settled(crypto_impl, mindelay=8):
    """A connected pair on a 20 ms link whose frame interval is the 20 ms floor."""
    sim = knobbed_sim(crypto_impl, server_kw=FAST, server_sender={"send_mindelay": mindelay})
    sim.client.current_state.push_resize(80, 24)
    sim.run_until(lambda: sim.client.sent_state_acked == 1, 2000)
    sim.run_for(500)
    return sim


def test_expedite_sends_a_change_at_once_inside_the_frame_interval(crypto_impl):
    """A frame went out 5 ms ago; an expedited change goes out in the same turn (no
    mindelay, no 20 ms frame interval); the next change, not expedited, is paced."""
    sim = _settled(crypto_impl)
    t0 = sim.now
    marks: dict[str, float] = {}

    def app(s):
        if "a" not in marks:
            marks["a"] = s.now
            s.server.current_state.push_keystroke(b"a")
            return
        sent = sends(s, "s", t0)[0]
        if "s1" not in marks and sent:
            marks["s1"] = sent[0]
        if "s1" in marks and "b" not in marks and s.now >= marks["s1"] + 5:
            marks["b"] = s.now
            s.server.current_state.push_keystroke(b"b")
            s.server.expedite()
        elif "b" in marks and "c" not in marks and s.now > marks["b"]:
            marks["c"] = s.now
            s.server.current_state.push_keystroke(b"c")

    sim.on_turn = app
    sim.run_until(lambda: False, t0 + 200, step_cap=1)
    assert sim.server.send_interval() == C.SEND_INTERVAL_MIN
    times, insts = sends(sim, "s", t0)
    # (each diff is against the last state the client acknowledged: a, ab, abc...)
    data = [(t, decode_user_message(i.diff)[-1].keys[-1:]) for t, i in zip(times, insts) if i.diff]
    assert data[:3] == [
        (marks["a"] + 8, b"a"),
        (marks["b"], b"b"),
        (max(marks["c"] + 8, marks["b"] + C.SEND_INTERVAL_MIN), b"c"),
    ]
    assert bytes(sim.client.latest_remote_state().events) == b"abc"


def test_expedite_without_a_change_sends_nothing_and_does_not_linger(crypto_impl):
    sim = _settled(crypto_impl)
    t0 = sim.now
    sim.server.expedite()
    sim.run_for(50)
    assert sends(sim, "s", t0)[0] == []
    t1 = sim.now
    sim.server.current_state.push_keystroke(b"x")  # later change: normal mindelay
    sim.run_for(50)
    assert sends(sim, "s", t1)[0][0] == t1 + 8


def test_data_in_flight_until_acknowledged_empty_acks_do_not_count(crypto_impl):
    sim = _settled(crypto_impl)
    assert not sim.server.data_in_flight()
    sim.server.current_state.push_keystroke(b"k")
    sim.server.expedite()
    sim.run_for(1)
    assert sim.server.data_in_flight()  # sent, not yet acked (20 ms link)
    sim.run_until(lambda: not sim.server.data_in_flight(), sim.now + 1000)
    assert bytes(sim.client.latest_remote_state().events).endswith(b"k")
    sim.run_for(6000)  # heartbeats: empty acks only
    assert not sim.server.data_in_flight()


@pytest.mark.parametrize("expedite", [False, True])
def test_expedite_ack_acknowledges_at_the_next_tick(crypto_impl, expedite):
    """A data state is acknowledged ACK_DELAY after it arrived (Mosh), or at the next tick
    once the program asks (a pymosh client, for states carrying scrollback)."""
    from pymosh.network.sender import ACK_DELAY

    sconn = Connection(KEY, True, session_class=crypto_impl.Session, now=0)
    cconn = Connection(KEY, False, SERVER, session_class=crypto_impl.Session, now=0)
    server = Transport(UserStream(), UserStream(), sconn, 0)
    client = Transport(UserStream(), UserStream(), cconn, 0)
    for datagram in client.tick(0):  # gives the server the client's address
        server.receive(datagram, A1, 0)
    server.current_state.push_keystroke(b"x")  # (any data state)
    now = 0.0
    while not (datagrams := server.tick(now)):
        now += 1
    for datagram in datagrams:
        assert client.receive(datagram, SERVER, now)
    if expedite:
        client.expedite_ack()
    acked = [t for t in range(int(now) + 1, int(now) + ACK_DELAY + 2) if client.tick(t)]
    assert acked
    assert acked[0] == now + 1 if expedite else acked[0] - now >= ACK_DELAY
    assert client.sender.pending_data_ack is False and client.sender.ack_expedited is False
