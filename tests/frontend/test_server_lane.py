"""pymosh-server's idle lane changes nothing but the cost of a wake-up.

Differential: the same scripted session (the IdleRun harness: a real Server, pty and UDP
sockets on a simulated clock, with one key and deterministic chaff) runs with the lane and
without it; the server must send the same datagrams at the same times and end with the
same transport, sender and connection state. The script has everything that must leave the
lane: late, lost and duplicated heartbeats, a keystroke, a resize, a replayed and a forged
datagram, a roam, a silent client (detached, then back) and the shutdown.
"""

from __future__ import annotations

import signal

from pymosh.crypto.key import new_key
from pymosh.frontend import server as server_module
from pymosh.frontend.heartbeat import HOLD

from .test_server_idle import IdleRun, Stop


class Chaff:
    """Deterministic chaff (0-16 bytes), so both runs' datagrams can be compared."""

    def __init__(self, seed: int) -> None:
        self.n = seed

    def __call__(self) -> bytes:
        self.n += 1
        return bytes([self.n & 0xFF]) * (self.n % 17)


def scripted(monkeypatch, lane_impl, key: bytes, use_lane: bool):
    """Run the script; (the server's sends as (time, datagram), the run, lane counts)."""
    if not use_lane:
        monkeypatch.setattr(server_module.Server, "_lane_ready", lambda self, now, idle: False)
    run = IdleRun(monkeypatch, key=key)
    server = run.server
    counts = {"accepted": 0, "declined": 0}

    class CountingLane(lane_impl.IdleLane):
        def receive(self, *args):
            out = super().receive(*args)
            counts["declined" if out is None else "accepted"] += 1
            return out

    server._lane_module = lane_impl
    server.lane = CountingLane(server.transport)
    server.transport.sender.chaff = Chaff(0)
    run.client.transport.sender.chaff = Chaff(100)
    sends: list[tuple[float, bytes]] = []
    real_send = run.sock.send

    def send(datagram, addr):
        sends.append((run.now, datagram))
        return real_send(datagram, addr)

    run.sock.send = send  # type: ignore[method-assign]

    csock = run.csock
    client_send = csock.send
    drop = {"until": -1.0}
    double = {"until": -1.0}
    captured: list[bytes] = []

    def send_from_client(datagram, addr):
        captured.append(datagram)
        if run.now < drop["until"]:
            return None  # lost on the way
        if run.now < double["until"]:
            client_send(datagram, addr)  # the network duplicates it
        return client_send(datagram, addr)

    csock.send = send_from_client  # type: ignore[method-assign]
    server_addr = csock.server_addr

    def raw(datagram: bytes):
        return lambda: csock.sockets[-1][0].sendto(datagram, server_addr)

    def setter(box, value):
        return lambda: box.__setitem__("until", value)

    t = run.now
    run.lag = HOLD / 4
    run.keys = [
        (t + 20_000, setter(drop, t + 27_500)),  # two heartbeats lost
        (t + 35_000, setter(double, t + 41_000)),  # two duplicated
        (t + 45_100, b"x"),
        (t + 52_300, lambda: run.client.transport.current_state.push_resize(100, 30)),
        (t + 60_700, lambda: raw(captured[-3])()),  # a replay
        (t + 66_200, raw(b"\x00" * 40)),  # not authentic
        (t + 71_900, lambda: csock.hop(run.now)),  # the client roams
        (t + 80_000, setter(drop, t + 130_000)),  # silent: detached after 10 s, 40 s
        (t + 150_000, lambda: run.signals.append(signal.SIGTERM)),
    ]
    run.end = t + 200_000
    try:
        status = server._run()
    except Stop:
        status = None
    return sends, run, counts, status


def state(run: IdleRun) -> dict:
    server = run.server
    transport = server.transport
    conn, sender = transport.connection, transport.sender
    fragmenter = sender.fragmenter
    return {
        "connection": {
            k: getattr(conn, k)
            for k in (
                "next_seq expected_receiver_seq saved_timestamp saved_timestamp_received_at "
                "rtt_hit srtt rttvar last_heard has_remote_addr last_roundtrip_success dropped "
                "out_of_order roam_count datagrams_sent bytes_sent datagrams_received "
                "bytes_received mtu"
            ).split()
        },
        "sender": {
            "sent": [(e.timestamp, e.num) for e in sender.sent_states],
            **{
                k: getattr(sender, k)
                for k in (
                    "ack_num last_heard last_ack_sent instructions_sent retransmits "
                    "_last_new_num next_ack_time next_send_time mindelay_clock "
                    "pending_data_ack shutdown_in_progress shutdown_tries"
                ).split()
            },
            "fragments": (fragmenter.next_instruction_id, fragmenter._last_key),
        },
        "receiver": {
            "states": [(e.timestamp, e.num, e.state.events) for e in transport.received_states],
            "nums": transport._received_nums,
            "current_id": transport.fragments.current_id,
            "dropped": transport.dropped_instructions,
            "consumed": transport.last_receiver_state.events,
        },
        "server": (
            server.last_remote_num,
            server.last_remote_state_time,
            server.heartbeat.held,
            server.terminal.terminal.width,
        ),
    }


def test_the_lane_sends_what_the_ordinary_path_sends(monkeypatch, lane_impl):
    key = new_key()
    with monkeypatch.context() as mp:
        plain, plain_run, plain_counts, plain_status = scripted(mp, lane_impl, key, False)
        try:
            plain_state = state(plain_run)
        finally:
            plain_run.close()
    sends, run, counts, status = scripted(monkeypatch, lane_impl, key, True)
    try:
        assert plain_counts == {"accepted": 0, "declined": 0}
        # the lane took most heartbeats and declined each kind of other datagram
        assert counts["accepted"] >= 20 and counts["declined"] >= 5
        assert [at for at, _ in sends] == [at for at, _ in plain]
        assert sends == plain
        assert state(run) == plain_state
        assert status == plain_status == 0  # the shutdown went through
        assert run.server.terminal.terminal.width == 100  # the resize arrived
    finally:
        run.close()
