"""A client asked for a million lines of scrollback and stopped listening; the remote program
prints endless unique lines, 1 MB lines and lines of combining marks. The server's memory
stays within its history budgets (statesync/history.py: BYTE_BUDGET, 32 MiB of rendered
lines, and ROW_BUDGET, 8 MiB of rows not yet rendered, in an arena of at most twice that)
plus its usual size."""

from __future__ import annotations

import time

import pytest

from pymosh.statesync.history import BYTE_BUDGET, ROW_BUDGET
from pymosh.wire.protobuf import (
    FEATURE_SCROLLBACK,
    Hello,
    Instruction,
    Resize,
    decode_host_message,
    encode_user_message,
)
from tests.hostile.miniclient import MiniClient
from tests.support.servers import PYMOSH, start_server, stop_server

GENERATOR = r"""
import os, sys
out = sys.stdout.buffer
open(os.environ["READY"], "wb").close()
i = 0
while True:
    i += 1
    if i % 50 == 0:
        out.write(b"%d " % i + os.urandom(1 << 19).hex().encode() + b"\n")    # a 1 MB line
    elif i % 50 == 1:
        out.write(b"e" + "\u0301".encode() * 20000 + b"x" * 79 + b"\n")     # combining marks
    else:
        out.write(b"%d unique line %s\n" % (i, os.urandom(30).hex().encode()))
"""


class ScrollbackClient(MiniClient):
    """Says hello asking for the most history there is, then never acknowledges."""

    def __init__(self, port: int, key: bytes) -> None:
        super().__init__(port, key)
        self.hellos: list = []
        assemble = self.assembly.add

        def add(fragment):
            ins = assemble(fragment)
            if ins is not None:
                self.hellos += [e for e in decode_host_message(ins.diff) if isinstance(e, Hello)]
            return ins

        self.assembly.add = add  # type: ignore[method-assign]

    def send_state(self, ack: int | None = None) -> None:
        self.state_num += 1
        events = [Hello(1, FEATURE_SCROLLBACK, 10**9), Resize(*self.size)]
        self._send_instruction(
            Instruction(
                old_num=0,
                new_num=self.state_num,
                ack_num=0,
                throwaway_num=0,
                diff=encode_user_message(events),
                chaff=b"",
            )
        )


@pytest.mark.e2e
@pytest.mark.slow
def test_history_of_a_silent_client_keeps_the_server_bounded(tmp_path):
    script = tmp_path / "gen.py"
    script.write_text(GENERATOR)
    ready = tmp_path / "ready"
    server = start_server(
        PYMOSH, str(tmp_path), ["python3", str(script)], env_extra={"READY": str(ready)}
    )
    client = None
    try:
        rss0 = server.rss_kb()
        client = ScrollbackClient(server.port, server.key)
        deadline = time.monotonic() + 10
        while not client.pump(0.3, lambda c: c.host_states):
            assert time.monotonic() < deadline, "server never answered"
            client.send_state()
        client.pump(1.0, lambda c: c.hellos)
        assert client.hellos and client.hellos[0].features & FEATURE_SCROLLBACK
        peak = rss0
        end = time.monotonic() + 25
        while time.monotonic() < end:  # the program prints; the client is silent
            assert server.alive()
            peak = max(peak, server.rss_kb())
            time.sleep(0.25)
        assert ready.exists()
        assert server.alive()
        print(f"server RSS {rss0} KiB -> peak {peak} KiB")
        assert peak - rss0 < ((BYTE_BUDGET + 2 * ROW_BUDGET) >> 10) + 48 * 1024, (rss0, peak)
    finally:
        if client is not None:
            client.close()
        stop_server(server)
