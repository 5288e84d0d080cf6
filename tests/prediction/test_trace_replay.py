"""The trace replayer's pure parts: trace loading and the impaired UDP relay (bounded, local)."""

from __future__ import annotations

import os
import socket
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import trace_replay  # noqa: E402


def test_every_trace_loads_with_keystrokes_and_gaps():
    traces = trace_replay.all_traces()
    assert {"shell", "vi", "password", "less"} <= set(traces)
    for path in traces.values():
        trace = trace_replay.load_trace(path)
        assert trace.keystrokes and all(gap > 0 and key for gap, key in trace.keystrokes)


def test_escape_keys_stay_one_keystroke_and_pauses_add_to_the_next_gap():
    trace = trace_replay.load_trace(os.path.join(trace_replay.TRACES, "shell.json"))
    keys = [k for _, k in trace.keystrokes]
    assert keys.count(b"\x1b[D") == 7 and keys.count(b"\x7f") == 4
    after_pause = keys.index(b"\r") + 1  # first key after the 400 ms pause
    assert trace.keystrokes[after_pause][0] == 400 + 110


def test_relay_delays_and_drops_both_ways():
    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(("127.0.0.1", 0))
    relay = trace_replay.UdpDelayRelay(echo.getsockname()[1], delay_ms=30, loss=0.0).start()
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(2)
    echo.settimeout(2)
    try:
        start = time.monotonic()
        client.sendto(b"ping", ("127.0.0.1", relay.port))
        data, addr = echo.recvfrom(100)
        echo.sendto(b"pong", addr)
        assert data == b"ping" and client.recvfrom(100)[0] == b"pong"
        assert time.monotonic() - start >= 0.060  # 30 ms each way
        relay.loss = 0.5
        for _ in range(200):
            client.sendto(b"x", ("127.0.0.1", relay.port))
        deadline = time.monotonic() + 2
        while relay.count < 202 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert relay.count == 202  # ping, pong and 200 more
        assert 60 <= relay.dropped <= 140
    finally:
        relay.stop()
        client.close()
        echo.close()
