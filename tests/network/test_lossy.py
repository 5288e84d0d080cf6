"""End-to-end SSP behaviour through an impaired in-process link (fake clock)."""

from __future__ import annotations

import random

import pytest

from pymosh.network.connection import MAX_RTO, SERVER_ASSOCIATION_TIMEOUT
from pymosh.network.sender import ACK_DELAY, ACK_INTERVAL
from tests.support.craft import decode
from tests.support.lossy import CLIENT_ADDR, Impairment, LossyLink, Simulation

KEY = bytes(range(16))


def make_sim(crypto, seed, **imp):
    rng = random.Random(seed)
    return Simulation(crypto, LossyLink(rng, Impairment(**imp), Impairment(**imp)), key=KEY)


def type_keys(sim, data: bytes, every: float, chunk: int = 1):
    """Push `data` into the client's stream `chunk` bytes every `every` ms."""
    pos = [0]
    next_at = [sim.now]

    def typist(s):
        while pos[0] < len(data) and s.now >= next_at[0]:
            s.client.current_state.push_keystroke(data[pos[0] : pos[0] + chunk])
            pos[0] += chunk
            next_at[0] += every

    sim.on_turn = typist
    return lambda: pos[0] >= len(data)


def test_10000_keystrokes_through_30pct_loss_reordering_duplication(crypto_impl):
    sim = make_sim(crypto_impl, 1, delay=30, jitter=25, loss=0.3, duplicate=0.1, reorder=0.1)
    sim.client.current_state.push_resize(80, 24)
    rng = random.Random(2)
    data = bytes(rng.randrange(256) for _ in range(10000))
    typed = type_keys(sim, data, every=2.0)
    assert sim.run_until(
        lambda: typed() and sim.client.all_acked() and len(sim.server_received) == len(data),
        120_000,
    )
    assert bytes(sim.server_received) == data  # exactly once, in order
    assert sim.server_resizes == [(80, 24)]
    assert sim.link.dropped > 100
    assert sim.server.connection.dropped == 0  # duplicates are authentic, just ignored


def test_60s_blackout_resumes_promptly_and_loses_nothing(crypto_impl):
    sim = make_sim(crypto_impl, 3, delay=20)
    sim.client.current_state.push_resize(80, 24)
    sim.run_for(2000)
    start = sim.now
    sim.link.blackout(start, start + 60_000)
    typed = type_keys(sim, b"typed during the outage\r", every=500)
    sim.run_until(lambda: False, start + 60_000)
    assert typed() and len(sim.server_received) == 0
    # during the outage the client hopped ports and the server detached after 40 s
    assert len(sim.client_ports) > 1
    assert not sim.server.connection.has_remote_addr
    back = sim.now
    assert sim.run_until(lambda: sim.client.all_acked(), back + 10_000)
    # Mosh only retransmits at frame rate while the peer was heard in the last 10 s;
    # after a long outage the next 3 s heartbeat carries the diff (protocol.md §5.9)
    assert sim.now - back <= ACK_INTERVAL + MAX_RTO
    assert bytes(sim.server_received) == b"typed during the outage\r"
    assert sim.server.remote_addr == sim.client_addr  # followed the hopped port


def test_detaching_send_goes_to_the_old_address_and_reattach_acks(crypto_impl):
    """After 40 s of silence the server's next send goes out, then it detaches (Mosh:
    sendto, then "Server now detached"); fragments after the detaching one are dropped.
    The client comes back from a new address and the server re-attaches and acks."""
    sim = make_sim(crypto_impl, 8, delay=20)
    sim.client.current_state.push_resize(80, 24)
    sim.run_for(2000)
    start = sim.now
    sim.link.blackout(start, start + 45_000)
    # a large (incompressible) server state: each instruction needs several fragments
    big = random.Random(9).randbytes(4000)
    sim.server.current_state.push_keystroke(big)
    sim.client.current_state.push_keystroke(b"typed during the outage")
    detach_at = []

    def watch(s):
        if not detach_at and not s.server.connection.has_remote_addr:
            detach_at.append(s.now)

    sim.on_turn = watch
    sim.run_until(lambda: False, start + 45_000)
    heard = sim.server.connection.last_heard
    assert detach_at and detach_at[0] - heard > SERVER_ASSOCIATION_TIMEOUT
    server_sends = [t for t, side, _ in sim.log if side == "s" and t >= start]
    per_send = {t: server_sends.count(t) for t in server_sends}
    assert max(per_send.values()) > 1  # the state needs several fragments
    assert per_send[max(per_send)] == 1  # the detaching send: first one only
    assert max(per_send) <= detach_at[0]
    assert sim.server.remote_addr is None
    assert all(t <= detach_at[0] for t in server_sends)  # silent while detached
    new_addr = ("203.0.113.51", 52000)
    sim.change_client_address(new_addr)
    back = sim.now
    assert sim.run_until(lambda: sim.client.all_acked(), back + 10_000)
    assert sim.now - back <= ACK_INTERVAL + MAX_RTO
    assert sim.server.remote_addr == new_addr
    assert bytes(sim.server_received) == b"typed during the outage"
    assert sim.run_until(lambda: sim.server.all_acked(), sim.now + 10_000)
    assert bytes(sim.client.latest_remote_state().events) == big


def test_short_blackout_recovers_within_one_retransmission_timeout(crypto_impl):
    sim = make_sim(crypto_impl, 4, delay=20)
    sim.client.current_state.push_resize(80, 24)
    sim.run_for(2000)
    start = sim.now
    sim.link.blackout(start, start + 3000)
    typed = type_keys(sim, b"abc", every=100)
    sim.run_until(lambda: False, start + 3000)
    assert typed()
    back = sim.now
    assert sim.run_until(lambda: bytes(sim.server_received) == b"abc", back + 2000)
    # unacked data is resent every RTO + ACK_DELAY while the peer was heard recently
    # (§5.4.1 c then b), so it arrives within that plus the one-way delay
    assert sim.now - back <= sim.client.connection.timeout() + ACK_DELAY + 20


def test_roaming_mid_stream(crypto_impl):
    sim = make_sim(crypto_impl, 5, delay=15, jitter=5)
    sim.client.current_state.push_resize(80, 24)
    data = b"".join(b"%04d" % i for i in range(300))
    typed = type_keys(sim, data, every=10, chunk=4)
    sim.run_for(1000)
    # capture an authentic client datagram to replay later from a foreign address
    replay = [g for t, s, g in sim.log if s == "c"][-1]
    new_addr = ("203.0.113.50", 51000)
    sim.change_client_address(new_addr)
    roams = sim.server.connection.roam_count
    assert sim.run_until(lambda: sim.server.remote_addr == new_addr, sim.now + 500)
    assert sim.server.connection.roam_count == roams + 1
    # a replayed (old sequence number) and a forged datagram from elsewhere change nothing
    foreign = ("192.0.2.66", 666)
    sim.server.receive(replay, foreign, sim.now)
    sim.server.receive(b"\x00" * 8 + b"\x55" * 40, foreign, sim.now)
    assert sim.server.remote_addr == new_addr and sim.server.connection.dropped == 1
    assert sim.run_until(lambda: typed() and sim.client.all_acked(), sim.now + 30_000)
    assert bytes(sim.server_received) == data


def test_idle_is_heartbeats_only(crypto_impl):
    sim = make_sim(crypto_impl, 6, delay=40)
    sim.client.current_state.push_resize(80, 24)
    sim.run_for(5000)
    t0 = sim.now
    sim.run_for(60_000)
    for side, direction in (("c", 0), ("s", 1)):
        grams = [(t, g) for t, s, g in sim.log if s == side and t >= t0]
        times = [t for t, _ in grams]
        assert 19 <= len(times) <= 20
        assert all(b - a == ACK_INTERVAL for a, b in zip(times, times[1:]))
        insts = decode(crypto_impl, KEY, [g for _, g in grams], direction)
        assert all(i.diff == b"" for i in insts)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("initiator", ["client", "server"])
def test_shutdown_through_loss_both_directions(crypto_impl, initiator, seed):
    sim = make_sim(crypto_impl, seed, delay=25, loss=0.2, duplicate=0.1)
    sim.client.current_state.push_resize(80, 24)
    sim.run_for(1000)
    me, peer = (sim.client, sim.server) if initiator == "client" else (sim.server, sim.client)
    me.start_shutdown(sim.now)
    sim.run_until(
        lambda: me.shutdown_acknowledged() or me.shutdown_ack_timed_out(sim.now), sim.now + 12_000
    )
    # the peer acks exactly once and quits; if that ack is lost the initiator gives up
    if me.shutdown_acknowledged():
        assert peer.has_remote_shutdown() and peer.counterparty_shutdown_ack_sent()
    else:
        assert me.shutdown_ack_timed_out(sim.now)
        assert me.sender.shutdown_tries == 16
    assert peer.counterparty_shutdown_ack_sent() == peer.has_remote_shutdown()


def test_unknown_client_address_never_receives_server_traffic(crypto_impl):
    sim = make_sim(crypto_impl, 9)
    sim.client.current_state.push_resize(80, 24)
    sim.run_for(500)
    assert sim.server.remote_addr == CLIENT_ADDR
