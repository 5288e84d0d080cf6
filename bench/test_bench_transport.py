"""SSP transport micro benchmarks: CPU per keystroke round trip and idle tick cost.

Run: ``PYTHONPATH=src python -m pytest bench/test_bench_transport.py --benchmark-only``.
Both ends run in-process on a perfect fake link with a fake clock; each round is one
keystroke typed on the client, sent, received, consumed by the server, echoed back as
a server state, and both acks delivered.
"""

from __future__ import annotations

import pytest

from pymosh import _accel
from pymosh.crypto import ocb
from pymosh.network.connection import Connection
from pymosh.network.transport import Transport
from pymosh.statesync.user_stream import UserStream

KEY = bytes(range(16))
CLIENT = ("10.0.0.2", 40000)
SERVER = ("10.0.0.1", 60001)


def _session_cls(name: str):
    if name == "py":
        return ocb.Session
    module = _accel.fast_module("crypto")
    if module is None:
        pytest.skip("_fastpath.crypto not built")
    return module.Session


class _Pair:
    def __init__(self, session_cls) -> None:
        self.now = 0.0
        self.client = Transport(
            UserStream(), UserStream(), Connection(KEY, False, SERVER, session_class=session_cls), 0
        )
        self.server = Transport(
            UserStream(), UserStream(), Connection(KEY, True, session_class=session_cls), 0
        )
        self.client.current_state.push_resize(80, 24)
        self.settle()

    def exchange(self) -> int:
        """One turn at self.now on both ends; datagrams moved."""
        moved = 0
        for d in self.client.tick(self.now):
            self.server.receive(d, CLIENT, self.now)
            moved += 1
        if self.server.remote_state_num:
            diff = self.server.get_remote_diff()
            if diff:  # echo what was typed
                s = UserStream()
                s.apply_string(diff)
                self.server.current_state.push_keystroke(
                    bytes(e for e in s.events if isinstance(e, int))
                )
        for d in self.server.tick(self.now):
            self.client.receive(d, SERVER, self.now)
            moved += 1
        return moved

    def settle(self) -> None:
        """Advance the clock deadline by deadline until both sides are acked and quiet."""
        for _ in range(50):
            self.exchange()
            if (
                self.client.all_acked()
                and self.server.all_acked()
                and not self.client.sender.pending_data_ack
                and not self.server.sender.pending_data_ack
            ):
                return
            self.now += max(
                1.0, min(self.client.wait_time(self.now), self.server.wait_time(self.now))
            )
        raise AssertionError("pair did not settle")

    def keystroke(self) -> None:
        self.now += 1000  # well apart: no batching
        self.client.current_state.push_keystroke(b"x")
        self.settle()


@pytest.mark.parametrize("impl", ["py", "c"])
def test_keystroke_round_trip(benchmark, impl):
    pair = _Pair(_session_cls(impl))
    benchmark(pair.keystroke)
    assert pair.client.latest_remote_state().events[-1] == ord("x")


@pytest.mark.parametrize("impl", ["py", "c"])
def test_idle_tick(benchmark, impl):
    pair = _Pair(_session_cls(impl))
    pair.now += 10
    now = pair.now

    def idle() -> None:
        pair.client.wait_time(now)
        pair.client.tick(now)

    benchmark(idle)
    assert pair.client.tick(now) == []
