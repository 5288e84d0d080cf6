"""The one driver turn (`Endpoint`) over in-memory datagram channels."""

from __future__ import annotations

import errno

from pymosh.network.connection import DEFAULT_SEND_MTU, PORT_HOP_INTERVAL, Connection
from pymosh.network.endpoint import Endpoint, can_hop
from pymosh.network.transport import Transport
from pymosh.statesync.user_stream import UserStream

KEY = bytes(range(16))
SERVER = ("192.0.2.1", 60001)


class Channel:
    """One end of an in-memory link; `peer` receives what this end sends."""

    def __init__(self, addr) -> None:
        self.addr = addr
        self.inbox: list = []
        self.peer: Channel | None = None
        self.fail: OSError | None = None
        self.up = True

    def recv_all(self, now: float) -> list:
        got, self.inbox = self.inbox, []
        return got

    def send(self, datagram: bytes, addr) -> OSError | None:
        if self.fail is not None:
            return self.fail
        if self.up and self.peer is not None and addr == self.peer.addr:
            self.peer.inbox.append((datagram, self.addr, False))
        return None

    def filenos(self) -> list[int]:
        return []


class HoppingClientChannel(Channel):
    def __init__(self, addr) -> None:
        super().__init__(addr)
        self.hops: list[float] = []

    def hop(self, now: float) -> None:
        self.hops.append(now)
        self.addr = (self.addr[0], self.addr[1] + 1)


def pair(client_channel: Channel):
    server_channel = Channel(SERVER)
    client_channel.peer, server_channel.peer = server_channel, client_channel
    client = Transport(UserStream(), UserStream(), Connection(KEY, False, SERVER), 0)
    server = Transport(UserStream(), UserStream(), Connection(KEY, True), 0)
    return Endpoint(client, client_channel), Endpoint(server, server_channel)


def run(endpoints, start: float, until: float, step: float = 10) -> float:
    now = start
    while now < until:
        for e in endpoints:
            e.turn(now)
        now += step
    return now


def test_turns_deliver_both_ways_and_the_server_learns_the_client_address():
    c, s = pair(Channel(("198.51.100.7", 40000)))
    c.transport.current_state.push_keystroke(b"hi")
    run((c, s), 0, 500)
    assert s.transport.latest_remote_state().events == list(b"hi")
    assert s.transport.remote_addr == ("198.51.100.7", 40000)
    assert c.transport.all_acked() and c.send_error is None


def test_emsgsize_lowers_the_mtu_and_the_error_stays_until_a_send_succeeds():
    c, s = pair(Channel(("198.51.100.7", 40000)))
    c.channel.fail = OSError(errno.EMSGSIZE, "Message too long")  # type: ignore[attr-defined]
    c.transport.current_state.push_keystroke(b"x" * 3000)
    run((c, s), 0, 100)
    assert c.send_error is not None and c.send_error.errno == errno.EMSGSIZE
    assert c.transport.connection.mtu == DEFAULT_SEND_MTU
    c.channel.fail = None  # type: ignore[attr-defined]
    run((c, s), 100, 5000)  # never heard the server: the 3 s heartbeat resends
    assert c.send_error is None
    assert bytes(s.transport.latest_remote_state().events) == b"x" * 3000


def test_another_error_is_reported_but_keeps_the_mtu():
    c, s = pair(Channel(("198.51.100.7", 40000)))
    mtu = c.transport.connection.mtu
    c.channel.fail = OSError(errno.ENETUNREACH, "Network is unreachable")  # type: ignore
    c.transport.current_state.push_keystroke(b"x")
    run((c, s), 0, 100)
    assert c.send_error is not None and c.transport.connection.mtu == mtu


def test_client_hops_ports_when_no_round_trip_succeeds_for_10_s():
    chan = HoppingClientChannel(("198.51.100.7", 40000))
    assert can_hop(chan) and not can_hop(Channel(SERVER))
    c, s = pair(chan)
    now = run((c, s), 0, 1000)
    assert chan.hops == []
    s.channel.up = False  # nothing comes back: no round trip succeeds
    now = run((c, s), now, now + PORT_HOP_INTERVAL + 4000, step=50)
    assert len(chan.hops) == 1
    s.channel.up = True
    c.transport.current_state.push_keystroke(b"k")
    run((c, s), now, now + 2000)
    # the server follows the client to its new port
    assert s.transport.remote_addr == chan.addr == ("198.51.100.7", 40001)
    assert s.transport.latest_remote_state().events[-1] == ord("k")
