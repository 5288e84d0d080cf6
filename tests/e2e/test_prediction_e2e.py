"""Predictive local echo end to end over a slow link (issue #6).

pymosh-server runs bash; a UDP relay on loopback adds 300 ms each way; the client runs in a
pty whose output feeds an Emulator, so the moment a typed key appears on the client's
screen is measured directly. In ``always`` mode a typed key shows well before the 600 ms
round trip (once its epoch is confirmed); in ``never`` mode it cannot show before the echo.
A stock ``mosh-client`` predicting against pymosh-server proves our echo acks confirm its
predictions (without them it never shows anything before the round trip).
"""

from __future__ import annotations

import os
import shutil
import sys
import time

import pytest
from bench.trace_replay import BASE_ENV, PtyProgram, UdpDelayRelay, snapshot

from tests.e2e.session import start_server

DELAY = 300  # ms one way
RTT = 2 * DELAY
SRC = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src"
)
PYMOSH_CLIENT = [sys.executable, "-m", "pymosh.frontend.client"]
STOCK_CLIENT = ["mosh-client"]


def _env(tag: str, **extra: str) -> dict[str, str]:
    env = dict(BASE_ENV)
    # the suite's PYMOSH_FORKER=0 and private state directory (set after BASE_ENV was made)
    env.update((k, v) for k, v in os.environ.items() if k.startswith("PYMOSH_"))
    return dict(env, PYTHONPATH=SRC, PYMOSH_TEST_TAG=tag, **extra)


def _line(prog: PtyProgram) -> str:
    rows, _ = snapshot(prog.screen)
    return next((r for r in rows if r.startswith("$")), "")


def _wait_for(prog: PtyProgram, want: str, timeout_ms: float) -> float | None:
    """ms until the prompt line reads ``want`` (None if it never does within the timeout)."""
    start = time.monotonic()
    while (time.monotonic() - start) * 1000 < timeout_ms:
        if _line(prog) == want:
            return (time.monotonic() - start) * 1000
        prog.pump(5)
    return None


def _type_and_time(client_argv: list[str], mode: str, tag: str) -> list[float | None]:
    """Warm up (one echoed key confirms the epoch), then time three typed keys."""
    port, key = start_server(
        [
            sys.executable,
            "-m",
            "pymosh.frontend.server",
            "new",
            "-i",
            "127.0.0.1",
            "-l",
            "LANG=C.UTF-8",
            "--",
            "bash",
            "--norc",
            "--noprofile",
        ],
        _env(tag),
    )
    relay = UdpDelayRelay(port, DELAY, 0.0).start()
    argv = [*client_argv, "127.0.0.1", str(relay.port)]
    client = PtyProgram(argv, _env(tag, MOSH_KEY=key, MOSH_PREDICTION_DISPLAY=mode))
    try:
        assert _wait_for(client, "$", 10000) is not None, snapshot(client.screen)
        client.settle(quiet_ms=300, max_ms=1500)
        client.write(b"e")
        assert _wait_for(client, "$ e", 3 * RTT) is not None
        client.settle(quiet_ms=RTT, max_ms=2000)  # the echo ack of "e" has arrived too
        latencies = []
        for text in ("$ ec", "$ ech", "$ echo"):
            client.write(text[-1].encode())
            latencies.append(_wait_for(client, text, 3 * RTT))
            client.pump(60)  # a typist's gap
        return latencies
    finally:
        client.close()
        relay.stop()


def _need(program: str) -> None:
    if shutil.which(program) is None:
        pytest.fail(f"{program} is required for this test")


def test_pymosh_client_always_shows_keys_before_the_round_trip(tag):
    latencies = _type_and_time(PYMOSH_CLIENT, "always", tag)
    assert all(x is not None and x < RTT / 3 for x in latencies), latencies


def test_pymosh_client_never_waits_for_the_echo(tag):
    latencies = _type_and_time(PYMOSH_CLIENT, "never", tag)
    assert all(x is not None and x >= RTT - 20 for x in latencies), latencies


def test_stock_client_predictions_are_confirmed_by_pymosh_server_echo_acks(tag):
    _need("mosh-client")
    latencies = _type_and_time(STOCK_CLIENT, "always", tag)
    assert all(x is not None and x < RTT / 3 for x in latencies), latencies
