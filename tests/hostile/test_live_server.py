"""Hostile network input against a running server: stock mosh-server 1.4.0 first (the
reference), then pymosh-server.  Only loopback; every process started is ended."""

from __future__ import annotations

import os
import random
import select
import socket
import time

import pytest

from pymosh.crypto import TO_CLIENT, TO_SERVER, Session
from pymosh.network.fragment import Fragment
from tests.hostile.miniclient import LOOPBACK, connect, roundtrip
from tests.support.procs import udp_drops
from tests.support.servers import PYMOSH, STOCK, cat_command, start_server, stop_server

SERVERS = [pytest.param(STOCK, marks=pytest.mark.interop), PYMOSH]


@pytest.fixture
def server_kind(request):
    return request.param


@pytest.fixture
def live(request, tmp_path):
    """(server, client): a server running `cat` into a file, a connected client."""
    kind = request.param
    server = start_server(kind, str(tmp_path), cat_command(str(tmp_path / "typed")))
    client = None
    try:
        client = connect(server)
        yield server, client
    finally:
        if client is not None:
            client.close()
        stop_server(server)
        assert not server.alive()


def _attacker() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOOPBACK, 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    return sock


def _nothing_received(sock: socket.socket, seconds: float = 0.0) -> bool:
    ready, _, _ = select.select([sock], [], [], seconds)
    return not ready


def _flood(server, sock, rng, count, client_seq):
    """`count` random datagrams of 0..2000 bytes; a quarter wear a plausible header
    (direction 0, a sequence number just ahead of the real client's), paced so the
    server's receive buffer is not simply overrun."""
    target = (LOOPBACK, server.port)
    for i in range(count):
        size = rng.randrange(0, 2001)
        body = rng.randbytes(size)
        if i % 4 == 0 and size >= 8:
            seq = client_seq + rng.randrange(1, 1 << 20)
            body = seq.to_bytes(8, "big") + body[8:]
        sock.sendto(body, target)
        if i % 20 == 19:
            time.sleep(0.001)


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("live", SERVERS, indirect=True)
def test_random_datagrams_change_nothing(live):
    server, client = live
    roundtrip(server, client, b"before ")
    attacker = _attacker()
    rng = random.Random(8)
    try:
        rss = [server.rss_kb()]
        drops = udp_drops(server.port)
        for _round in range(4):
            _flood(server, attacker, rng, 5000, client.seq)
            # also from the real client's own address
            _flood(server, client.sock, rng, 200, client.seq)
            client.pump(0.2)
            rss.append(server.rss_kb())
        assert server.alive()
        # the server really read (nearly) all of them rather than the kernel dropping them
        dropped = udp_drops(server.port) - drops
        assert dropped < 2000, dropped
        assert _nothing_received(attacker, 1.0), "server answered garbage"
        roundtrip(server, client, b"after")
        assert server.output() == b"before after"
        # bounded: no growth proportional to the 20,800 datagrams thrown
        assert max(rss) - rss[0] < 8 * 1024, rss
        assert rss[-1] - rss[1] < 2 * 1024, rss
    finally:
        attacker.close()


def _bitflips(datagram: bytes, rng: random.Random, n: int):
    for _ in range(n):
        b = bytearray(datagram)
        bit = rng.randrange(len(b) * 8)
        b[bit >> 3] ^= 1 << (bit & 7)
        yield bytes(b)


@pytest.mark.e2e
@pytest.mark.parametrize("live", SERVERS, indirect=True)
def test_forged_and_replayed_packets_are_not_applied(live):
    server, client = live
    roundtrip(server, client, b"one ")
    roundtrip(server, client, b"two ")
    captured = list(client.sent)
    assert len(captured) >= 3
    rng = random.Random(1)
    attacker = _attacker()
    target = (LOOPBACK, server.port)
    other = Session(os.urandom(16))
    own = Session(server.key)
    ahead = client.seq + 1000
    latest = captured[-1]
    payload = Fragment.parse(own.open_datagram(latest, TO_SERVER)[3])
    forged = []
    # 1. replays of everything the real client sent, from a new address
    forged += captured
    # 2. the same payloads sealed with another key, with sequence numbers ahead
    forged += [
        other.seal_datagram(TO_SERVER, ahead + i, 0, 0xFFFF, payload.to_bytes()) for i in range(20)
    ]
    # 3. bit flips and truncations of an authentic packet with a fresh sequence number
    fresh = own.seal_datagram(TO_SERVER, ahead + 100, 0, 0xFFFF, payload.to_bytes())
    forged += list(_bitflips(fresh, rng, 200))
    forged += [fresh[:n] for n in range(0, len(fresh))]
    # 4. the server's own packets reflected back (wrong direction)
    forged += list(client.received[-10:])
    forged += [
        own.seal_datagram(TO_CLIENT, ahead + 200 + i, 0, 0xFFFF, payload.to_bytes())
        for i in range(5)
    ]
    try:
        for datagram in forged:
            attacker.sendto(datagram, target)
        heard_before = len(client.received)
        client.pump(1.0)
        assert _nothing_received(attacker), "the server sent to the attacker's port"
        # the real client keeps working, and nothing was applied twice or forged
        roundtrip(server, client, b"three")
        assert server.output() == b"one two three"
        client.pump(0.5)
        assert len(client.received) > heard_before
        assert _nothing_received(attacker, 0.5), "the server sent to the attacker's port"
        # `fresh` itself (never sent intact) must not have moved the server either
        assert server.alive()
    finally:
        attacker.close()


@pytest.mark.e2e
@pytest.mark.parametrize("live", SERVERS, indirect=True)
def test_replayed_packets_from_client_address_are_idempotent(live):
    """Replays from the real client's own port: harmless (SSP idempotency)."""
    server, client = live
    roundtrip(server, client, b"abc")
    for datagram in list(client.sent) * 3:
        client.sock.sendto(datagram, (LOOPBACK, server.port))
    client.pump(0.5)
    roundtrip(server, client, b"def")
    assert server.output() == b"abcdef"
