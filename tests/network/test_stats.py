"""`Transport.stats()`: the snapshot the statistics overlay shows."""

from __future__ import annotations

import dataclasses

import pytest

from pymosh.network.connection import Connection
from pymosh.network.stats import TransportStats
from pymosh.network.transport import Transport
from pymosh.statesync.user_stream import UserStream

KEY = bytes(range(16))
SERVER = ("192.0.2.1", 60001)
CLIENT = ("198.51.100.7", 40000)


def test_a_fresh_transport():
    t = Transport(UserStream(), UserStream(), Connection(KEY, True), 0)
    st = t.stats()
    assert isinstance(st, TransportStats)
    assert (st.srtt, st.rttvar, st.rto) == (1000.0, 500.0, 1000)
    assert (
        st.datagrams_sent,
        st.datagrams_received,
        st.bytes_sent,
        st.bytes_received,
        st.retransmits,
        st.dropped,
    ) == (0, 0, 0, 0, 0, 0)
    assert st.last_heard is None and st.remote_addr is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        st.srtt = 1.0  # type: ignore[misc]


def test_counts_on_a_link_that_loses_then_replays(crypto_impl):
    client = Transport(
        UserStream(),
        UserStream(),
        Connection(KEY, False, SERVER, session_class=crypto_impl.Session),
        0,
    )
    server = Transport(
        UserStream(), UserStream(), Connection(KEY, True, session_class=crypto_impl.Session), 0
    )
    sent_bytes = received_bytes = 0
    now = 0.0
    client.current_state.push_keystroke(b"a")
    kept = []
    for now in range(0, 400, 10):  # handshake + one key, perfect link
        for d in client.tick(now):
            sent_bytes += len(d)
            kept.append(d)
            server.receive(d, CLIENT, now)
        for d in server.tick(now):
            received_bytes += len(d)
            client.receive(d, SERVER, now + 30)  # 30 ms one way back
    before = client.stats()
    assert before.datagrams_sent == len(kept) and before.bytes_sent == sent_bytes
    assert before.bytes_received == received_bytes and before.datagrams_received > 0
    assert before.remote_addr == SERVER and before.last_heard is not None
    assert before.srtt != 1000.0 and before.rto >= 50 and before.retransmits == 0
    assert server.stats().remote_addr == CLIENT and server.stats().dropped == 0

    # the next key's datagrams are lost until the sender re-sends the same state number
    client.current_state.push_keystroke(b"b")
    now = 400.0
    while client.stats().retransmits == 0 and now < 5000:
        client.tick(now)
        now += 10
    assert client.stats().retransmits >= 1

    server.receive(kept[0], CLIENT, now)  # a replay: authentic but old
    server.receive(b"\x00" * 40, CLIENT, now)  # garbage
    st = server.stats()
    assert st.dropped == 2 and st.datagrams_received == len(kept) + 2
