"""The socket drivers, and our client and server over real loopback sockets."""

from __future__ import annotations

import os
import select
import socket
import threading

import pytest

from pymosh.network.connection import Connection
from pymosh.network.transport import Transport
from pymosh.network.udp import (
    MAX_PORTS_OPEN,
    PORT_RANGE_HIGH,
    PORT_RANGE_LOW,
    RECV_BATCH,
    ClientSocket,
    ServerSocket,
    parse_port_range,
)
from pymosh.statesync.user_stream import UserStream
from tests.support.drive import drive, monotonic_ms
from tests.support.relay import RelayImpairment, UdpRelay


@pytest.mark.parametrize(
    "spec, want",
    [("0", (0, 0)), ("60005", (60005, 60005)), ("1:65535", (1, 65535)), ("7:7", (7, 7))],
)
def test_parse_port_range(spec, want):
    assert parse_port_range(spec) == want


@pytest.mark.parametrize("spec", ["", "x", "0:5", "9:8", "70000", "1:65536", "-1", "1:2:3"])
def test_parse_port_range_rejects(spec):
    with pytest.raises(ValueError, match="Bad UDP port range"):
        parse_port_range(spec)


def test_default_range_scans_upwards_from_60001():
    a = ServerSocket("127.0.0.1")
    b = ServerSocket("127.0.0.1")
    try:
        assert PORT_RANGE_LOW <= a.port < b.port <= PORT_RANGE_HIGH
        assert a.family == socket.AF_INET and a.address[0] == "127.0.0.1"
    finally:
        a.close()
        b.close()


def test_port_zero_lets_the_os_choose_and_exact_port_is_used():
    a = ServerSocket("127.0.0.1", "0")
    try:
        assert a.port > 0
        port = a.port
    finally:
        a.close()
    b = ServerSocket("127.0.0.1", str(port))
    try:
        assert b.port == port
    finally:
        b.close()


def test_busy_exact_port_is_an_error():
    a = ServerSocket(None, "0")  # wildcard, so no other address can take the port
    try:
        with pytest.raises(OSError):
            ServerSocket(None, str(a.port))
    finally:
        a.close()


def test_bad_ip_falls_back_to_wildcard():
    s = ServerSocket("not-an-ip", "0")
    try:
        assert s.address[0] == "0.0.0.0" and s.messages
    finally:
        s.close()


def test_ipv6_binding_when_available():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this build")
    try:
        s = ServerSocket("::1", "0")
    except OSError:
        pytest.skip("::1 not configured")
    try:
        assert s.family == socket.AF_INET6
        c = ClientSocket(("::1", s.port))
        c.send(b"v6", c.server_addr)
        drained = []
        for _ in range(100):
            drained += s.recv_all()
            if drained:
                break
            threading.Event().wait(0.01)
        assert drained and drained[0][0] == b"v6"
        c.close()
    finally:
        s.close()


def test_client_hop_keeps_old_sockets_for_receiving_and_prunes():
    server = ServerSocket("127.0.0.1", "0")
    client = ClientSocket(("127.0.0.1", server.port), now=0)
    try:
        first = client.local_port
        client.hop(1000)
        assert client.local_port != first and len(client.filenos()) == 2
        client.send(b"from-new", client.server_addr)
        got = _wait_recv(server)
        assert got[0][0] == b"from-new" and got[0][1][1] == client.local_port
        server.send(b"to-old", ("127.0.0.1", first))
        assert [d for d, _, _ in _wait_recv(client)] == [b"to-old"]
        for i in range(12):
            client.hop(2000 + i)
        assert len(client.filenos()) == MAX_PORTS_OPEN
        client.prune(2011 + 60001)  # newest older than 60 s: close the rest
        assert len(client.filenos()) == 1
    finally:
        client.close()
        server.close()


def test_oversize_datagram_is_delivered_oversize_for_the_datagram_layer_to_drop():
    server = ServerSocket("127.0.0.1", "0")
    client = ClientSocket(("127.0.0.1", server.port))
    try:
        client.send(b"\x00" * 4000, client.server_addr)
        ((data, _, _),) = _wait_recv(server)
        assert len(data) > 2048
    finally:
        client.close()
        server.close()


def test_recv_all_takes_every_waiting_datagram_in_order_and_stops_when_empty():
    """Bounded batches, nothing lost: a zero-length datagram (FIONREAD reads it as none)
    is taken on a later call, and the batch bound leaves the rest for the next one. The
    server's socket gives one datagram per call (its loop wakes again while it is readable)."""
    server = ServerSocket("127.0.0.1", "0")
    client = ClientSocket(("127.0.0.1", server.port))
    try:
        sizes = [3, 0, 5, 0, 0, 7] + [1] * (RECV_BATCH + 5)
        for size in sizes:
            server.send(b"x" * size, ("127.0.0.1", client.local_port))
            client.send(b"y" * size, client.server_addr)
        for sock, bound in ((client, RECV_BATCH), (server, 1)):
            assert select.select(sock.filenos(), [], [], 2.0)[0]
            got: list[bytes] = []
            for _ in range(len(sizes)):
                batch = sock.recv_all(0)
                assert 1 <= len(batch) <= bound
                got += [data for data, _, _ in batch]
                if len(got) == len(sizes):
                    break
            assert [len(data) for data in got] == sizes
            assert sock.recv_all(0) == []
            assert not select.select(sock.filenos(), [], [], 0)[0]
    finally:
        client.close()
        server.close()


def _wait_recv(sock, timeout=2.0):
    end = monotonic_ms() + timeout * 1000
    while monotonic_ms() < end:
        got = sock.recv_all(monotonic_ms())
        if got:
            return got
        threading.Event().wait(0.005)
    return []


class _LiveServer:
    """Our own server transport on a real socket, in a thread."""

    def __init__(self, key, crypto):
        self.sock = ServerSocket("127.0.0.1", "0")
        conn = Connection(key, True, session_class=crypto.Session, now=monotonic_ms())
        self.transport = Transport(UserStream(), UserStream(), conn, monotonic_ms())
        self.received = bytearray()
        self._num = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _consume(self, now):
        t = self.transport
        if t.remote_state_num != self._num:
            self._num = t.remote_state_num
            s = UserStream()
            s.apply_string(t.get_remote_diff())
            self.received += bytes(e for e in s.events if isinstance(e, int))

    def _run(self):
        drive(self.transport, self.sock, self.stop.is_set, 30, on_turn=self._consume)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.mark.parametrize("impaired", [False, True])
def test_our_client_and_server_over_loopback_with_relay_and_roaming(crypto_impl, impaired):
    key = os.urandom(16)
    imp = (
        RelayImpairment(delay_ms=5, jitter_ms=5, loss=0.2, duplicate=0.1, reorder=0.1)
        if impaired
        else RelayImpairment()
    )
    with (
        _LiveServer(key, crypto_impl) as server,
        UdpRelay(server.sock.port, imp, imp, seed=3, lifetime_s=30) as relay,
    ):
        csock = ClientSocket(("127.0.0.1", relay.listen_port), monotonic_ms())
        conn = Connection(
            key, False, csock.server_addr, session_class=crypto_impl.Session, now=monotonic_ms()
        )
        client = Transport(UserStream(), UserStream(), conn, monotonic_ms())
        client.current_state.push_resize(80, 24)
        text = b"".join(b"line %03d\r" % i for i in range(100))
        pos = [0]

        def typist(now):
            if pos[0] < len(text):
                client.current_state.push_keystroke(text[pos[0] : pos[0] + 37])
                pos[0] += 37
            if pos[0] >= len(text) // 2 and not switched:
                switched.append(relay.switch_port())

        switched: list = []
        try:
            assert drive(
                client,
                csock,
                lambda: (
                    pos[0] >= len(text) and client.all_acked() and len(server.received) == len(text)
                ),
                20,
                on_turn=typist,
            )
            assert bytes(server.received) == text
            assert server.transport.remote_addr == ("127.0.0.1", switched[0])
        finally:
            csock.close()
