from __future__ import annotations

import socket

import pytest

from pymosh.network import connection as C
from pymosh.network.connection import Connection, timestamp16

KEY = bytes(range(16))
A1 = ("10.0.0.1", 5000)
A2 = ("10.0.0.2", 6000)
SERVER = ("10.0.0.9", 60001)


def pair(impl, now=0):
    server = Connection(KEY, True, session_class=impl.Session, now=now)
    client = Connection(KEY, False, SERVER, session_class=impl.Session, now=now)
    return client, server


def opened(impl, datagram, direction):
    return impl.Session(KEY).open_datagram(datagram, direction)


def test_first_client_datagram_matches_vector_s1(crypto_impl):
    client, _ = pair(crypto_impl)
    payload = bytes.fromhex(
        "00000000000000018000789ce360126090605460d06030e2e0629362d1083090b0620000105301de"
    )
    got = client.make_datagram(payload, 0x1234)
    assert got.hex() == (
        "00000000000000009f164d976357081cc1c8bceef905db5a02428c8571949d686f4420ca31f0060c"
        "a43d50ffb19e12e522a8cf6e73fd36a91f68ecf470d119b52ed349b9"
    )
    assert client.next_seq == 1


def test_server_direction_bit_and_sequence_per_datagram(crypto_impl):
    client, server = pair(crypto_impl)
    server.receive(client.make_datagram(b"x" * 10, 0), A1, 0)
    d0 = server.make_datagram(b"y" * 10, 1)
    d1 = server.make_datagram(b"y" * 10, 1)
    assert d0[:8] == bytes.fromhex("8000000000000000")
    assert d1[:8] == bytes.fromhex("8000000000000001")


def test_timestamp_sentinel_is_never_sent():
    assert timestamp16(0xFFFF) == 0
    assert timestamp16(0x1FFFE) == 0xFFFE
    assert timestamp16(70000.7) == 70000 - 65536


def test_timestamp_reply_is_advanced_by_hold_time_and_sent_once(crypto_impl):
    client, server = pair(crypto_impl)
    server.receive(client.make_datagram(b"p" * 10, 1000), A1, 5000)
    _, ts, reply, _ = opened(crypto_impl, server.make_datagram(b"q" * 10, 5100), 1)
    assert (ts, reply) == (5100, 1100)
    _, _, reply2, _ = opened(crypto_impl, server.make_datagram(b"q" * 10, 5101), 1)
    assert reply2 == 0xFFFF


def test_timestamp_held_too_long_is_not_echoed(crypto_impl):
    client, server = pair(crypto_impl)
    server.receive(client.make_datagram(b"p" * 10, 1000), A1, 5000)
    _, _, reply, _ = opened(crypto_impl, server.make_datagram(b"q" * 10, 6000), 1)
    assert reply == 0xFFFF


def test_rtt_estimator_constants_and_clamps(crypto_impl):
    client, server = pair(crypto_impl)
    assert (client.srtt, client.rttvar, client.timeout(), client.send_interval()) == (
        1000,
        500,
        1000,
        250,
    )
    # round trip of 100 ms with 30 ms hold on the server: sample is 70 ms
    server.receive(client.make_datagram(b"a" * 10, 0), A1, 35)
    client.receive(server.make_datagram(b"b" * 10, 65), SERVER, 100)
    assert (client.srtt, client.rttvar) == (70, 35)
    assert client.timeout() == 210 and client.send_interval() == 35
    server.receive(client.make_datagram(b"a" * 10, 200), A1, 210)
    client.receive(server.make_datagram(b"b" * 10, 210), SERVER, 230)  # sample 30
    assert client.rttvar == pytest.approx(0.75 * 35 + 0.25 * 40)
    assert client.srtt == pytest.approx(0.875 * 70 + 0.125 * 30)
    # clamps
    client.srtt, client.rttvar = 1.0, 0.0
    assert (client.timeout(), client.send_interval()) == (C.MIN_RTO, C.SEND_INTERVAL_MIN)
    client.srtt, client.rttvar = 4000.0, 900.0
    assert (client.timeout(), client.send_interval()) == (C.MAX_RTO, C.SEND_INTERVAL_MAX)


def test_rtt_samples_of_5_seconds_or_more_are_ignored(crypto_impl):
    client, server = pair(crypto_impl)
    server.receive(client.make_datagram(b"a" * 10, 0), A1, 0)
    client.receive(server.make_datagram(b"b" * 10, 0), SERVER, 5000)
    assert not client.rtt_hit and client.srtt == 1000


def test_old_packets_are_passed_up_but_not_used(crypto_impl):
    client, server = pair(crypto_impl)
    early = client.make_datagram(b"early-----", 0)
    late = client.make_datagram(b"late------", 10)
    assert server.receive(late, A1, 20) == b"late------"
    assert server.expected_receiver_seq == 2 and server.last_heard == 20
    server.saved_timestamp = None
    assert server.receive(early, A2, 30) == b"early-----"
    assert server.remote_addr == A1  # no roaming on an old packet
    assert server.last_heard == 20 and server.saved_timestamp is None


def test_server_roams_to_newest_authentic_in_order_source(crypto_impl):
    client, server = pair(crypto_impl)
    assert not server.has_remote_addr and server.remote_addr is None
    first = client.make_datagram(b"1" * 10, 0)
    server.receive(first, A1, 0)
    assert server.has_remote_addr and server.remote_addr == A1
    server.receive(client.make_datagram(b"2" * 10, 5), A2, 5)
    assert server.remote_addr == A2 and server.roam_count == 1
    # a replay from elsewhere, and garbage, change nothing
    server.receive(first, ("10.6.6.6", 1), 6)
    assert server.receive(b"\x00" * 60, ("10.6.6.6", 1), 7) is None
    assert server.remote_addr == A2 and server.dropped == 1
    assert server.last_error == "Packet failed integrity check."


def test_bad_datagrams_are_dropped_and_counted(crypto_impl):
    client, server = pair(crypto_impl)
    reflected = client.make_datagram(b"z" * 10, 0)
    assert client.receive(reflected, SERVER, 1) is None  # wrong direction
    assert client.receive(b"short", SERVER, 1) is None
    assert client.receive(b"\x80" + b"\x00" * 3000, SERVER, 1) is None  # oversize
    assert client.dropped == 3 and client.last_heard is None


def test_server_detaches_after_40s_without_client(crypto_impl):
    client, server = pair(crypto_impl)
    server.receive(client.make_datagram(b"1" * 10, 0), A1, 0)
    server.make_datagram(b"x" * 10, 40000)
    assert server.has_remote_addr
    server.make_datagram(b"x" * 10, 40001)
    assert not server.has_remote_addr
    server.receive(client.make_datagram(b"2" * 10, 50000), A2, 50000)
    assert server.has_remote_addr and server.remote_addr == A2


def test_client_port_hop_decision(crypto_impl):
    client, server = pair(crypto_impl, now=1000)
    client.make_datagram(b"x" * 10, 11000)
    assert not client.take_port_hop()  # exactly 10 s: not yet
    client.make_datagram(b"x" * 10, 11001)
    assert client.take_port_hop() and not client.take_port_hop()
    client.make_datagram(b"x" * 10, 15000)  # just hopped
    assert not client.take_port_hop()
    client.set_last_roundtrip_success(20000)
    client.make_datagram(b"x" * 10, 25000)  # recent round trip
    assert not client.take_port_hop()
    client.make_datagram(b"x" * 10, 30002)
    assert client.take_port_hop()
    # the server never hops
    server.make_datagram(b"x" * 10, 99999)
    assert not server.take_port_hop()


def test_mtu_per_family_and_emsgsize_fallback(crypto_impl):
    v4 = Connection(KEY, False, SERVER, session_class=crypto_impl.Session)
    v6 = Connection(
        KEY, False, ("::1", 1, 0, 0), family=socket.AF_INET6, session_class=crypto_impl.Session
    )
    assert (v4.mtu, v6.mtu) == (1252, 1216)
    v4.emsgsize()
    assert v4.mtu == 500


def test_printable_key_is_accepted(crypto_impl):
    c = Connection("AAECAwQFBgcICQoLDA0ODw", False, SERVER, session_class=crypto_impl.Session)
    s = Connection(KEY, True, session_class=crypto_impl.Session)
    assert s.receive(c.make_datagram(b"k" * 10, 3), A1, 3) == b"k" * 10


def test_ecn_congestion_mark_inflates_the_echoed_timestamp(crypto_impl):
    client, server = pair(crypto_impl)
    server.receive(client.make_datagram(b"p" * 10, 1000), A1, 5000, congestion=True)
    _, _, reply, _ = opened(crypto_impl, server.make_datagram(b"q" * 10, 5010), 1)
    assert reply == 1000 + 10 + C.CONGESTION_TIMESTAMP_PENALTY
