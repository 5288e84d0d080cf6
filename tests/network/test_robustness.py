"""Property and hostile-input tests for the transport, and the relay's blackout."""

from __future__ import annotations

import os
import random
import socket
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from pymosh.crypto import ocb
from pymosh.network.connection import Connection
from pymosh.network.transport import Transport
from pymosh.statesync.user_stream import UserStream
from pymosh.wire.protobuf import Instruction
from tests.support.craft import Peer
from tests.support.lossy import CLIENT_ADDR, SERVER_ADDR, Impairment, LossyLink, Simulation
from tests.support.relay import RelayImpairment, UdpRelay

KEY = bytes(range(16))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    loss=st.floats(0, 0.5),
    dup=st.floats(0, 0.3),
    reorder=st.floats(0, 0.5),
    delay=st.floats(1, 200),
    jitter=st.floats(0, 100),
    chunks=st.lists(st.binary(min_size=1, max_size=50), min_size=1, max_size=40),
    gap=st.floats(0.5, 100),
)
def test_any_impairment_delivers_exactly_once_in_order(
    seed, loss, dup, reorder, delay, jitter, chunks, gap
):
    imp = Impairment(delay=delay, jitter=jitter, loss=loss, duplicate=dup, reorder=reorder)
    sim = Simulation(ocb, LossyLink(random.Random(seed), imp, imp), key=KEY)
    sim.client.current_state.push_resize(80, 24)
    todo = list(chunks)
    next_at = [0.0]

    def typist(s):
        while todo and s.now >= next_at[0]:
            s.client.current_state.push_keystroke(todo.pop(0))
            next_at[0] += gap

    sim.on_turn = typist
    want = b"".join(chunks)
    assert sim.run_until(
        lambda: not todo and bytes(sim.server_received) == want and sim.client.all_acked(), 600_000
    )
    assert sim.server_resizes == [(80, 24)]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_datagrams_are_dropped(data):
    t = Transport(UserStream(), UserStream(), Connection(KEY, True, session_class=ocb.Session), 0)
    assert t.receive(data, CLIENT_ADDR, 1) is False
    assert t.remote_addr is None and t.tick(2) == []


@settings(max_examples=100, deadline=None)
@given(
    old=st.integers(0, 2**64 - 1),
    new=st.integers(0, 2**64 - 1),
    ack=st.integers(0, 2**64 - 1),
    throwaway=st.integers(0, 2**64 - 1),
    version=st.sampled_from([2, 2, 0, 3]),
    diff=st.binary(max_size=40),
)
def test_authentic_but_hostile_instructions_never_crash(old, new, ack, throwaway, version, diff):
    peer = Peer(KEY, False, ocb, SERVER_ADDR)
    server = Transport(
        UserStream(), UserStream(), Connection(KEY, True, session_class=ocb.Session), 0
    )
    for now, inst in enumerate(
        [
            Instruction(version, old, new, ack, throwaway, diff),
            Instruction(2, 0, 1, ack, 0, b""),
            Instruction(version, 1, new, ack, throwaway, diff),
        ]
    ):
        for d in peer.datagrams(inst, now):
            server.receive(d, CLIENT_ADDR, now)
        server.tick(now)
        server.wait_time(now)
    assert 1 <= len(server.received_states) <= 4
    nums = [e.num for e in server.received_states]
    assert nums == sorted(nums)


def test_relay_blackout_drops_then_recovers():
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(2)
    with UdpRelay(
        sink.getsockname()[1], RelayImpairment(), RelayImpairment(), lifetime_s=10
    ) as relay:
        src = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            relay.blackout(0.3)
            src.sendto(b"lost", ("127.0.0.1", relay.listen_port))
            time.sleep(0.4)
            payload = os.urandom(8)
            src.sendto(payload, ("127.0.0.1", relay.listen_port))
            data, addr = sink.recvfrom(100)
            assert data == payload and relay.stats["dropped"] == 1
            # replies go back to the client through the relay
            sink.sendto(b"reply", addr)
            src.settimeout(2)
            assert src.recvfrom(100)[0] == b"reply"
        finally:
            src.close()
            sink.close()
