"""Our client stack (Connection + Transport + UserStream) against the real mosh-server 1.4.0."""

from __future__ import annotations

import shutil
import time

import pytest

from pymosh.network.connection import Connection
from pymosh.network.transport import Transport
from pymosh.network.udp import ClientSocket
from pymosh.statesync.user_stream import UserStream
from tests.support.drive import drive, monotonic_ms
from tests.support.host_state import RawHostState
from tests.support.procs import pid_alive
from tests.support.relay import RelayImpairment, UdpRelay
from tests.support.servers import STOCK, start_server, stop_server

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("mosh-server") is None, reason="mosh-server not installed"),
]


@pytest.fixture
def mosh_server(tmp_path):
    """Start `mosh-server new -p 0 -- sh -c 'cat > FILE'`; yield (port, key, pid, FILE)."""
    out_file = tmp_path / "typed"
    server = start_server(STOCK, str(tmp_path), ["sh", "-c", f"cat > {out_file}"], timeout=20)
    try:
        yield server.port, server.key_text, server.pid, out_file
    finally:
        stop_server(server, timeout=5)


def _client(crypto, key: str, port: int):
    sock = ClientSocket(("127.0.0.1", port), monotonic_ms())
    conn = Connection(
        key, False, sock.server_addr, session_class=crypto.Session, now=monotonic_ms()
    )
    transport = Transport(UserStream(), RawHostState(), conn, monotonic_ms())
    transport.current_state.push_resize(80, 24)  # state 1, as mosh-client does
    return sock, transport


def _text() -> bytes:
    # printable lines; the pty is in cooked mode (ICRNL turns \r into \n for cat)
    lines = [b"%04d the quick brown fox jumps over the lazy dog" % i for i in range(40)]
    return b"".join(line[:48] + b"\r" for line in lines)


def _type_and_check(crypto, key, port, out_file, timeout=30):
    sock, client = _client(crypto, key, port)
    text = _text()
    assert len(text) >= 1960
    expected = text.replace(b"\r", b"\n")
    pos = [0]
    last = [0.0]

    def typist(now):
        # type in chunks of 100 bytes every 30 ms once the server has answered
        if client.remote_state_num and pos[0] < len(text) and now - last[0] >= 30:
            client.current_state.push_keystroke(text[pos[0] : pos[0] + 100])
            pos[0] += 100
            last[0] = now

    def file_done():
        return out_file.exists() and out_file.stat().st_size >= len(expected)

    try:
        assert drive(
            client,
            sock,
            lambda: pos[0] >= len(text) and client.all_acked() and file_done(),
            timeout,
            on_turn=typist,
        ), (pos[0], client.sent_state_acked, client.sent_state_last)
        assert out_file.read_bytes() == expected
        # the server echoed our input (cooked mode) and acknowledged it with echo acks
        assert client.latest_remote_state().echo_ack > 0
        assert client.connection.rtt_hit and client.connection.dropped == 0
        return sock, client
    except BaseException:
        sock.close()
        raise


def test_keystrokes_reach_real_mosh_server(crypto_impl, mosh_server):
    port, key, pid, out_file = mosh_server
    sock, _ = _type_and_check(crypto_impl, key, port, out_file)
    sock.close()


def test_keystrokes_reach_real_mosh_server_through_lossy_relay(crypto_impl, mosh_server):
    port, key, pid, out_file = mosh_server
    imp = RelayImpairment(delay_ms=10, jitter_ms=10, loss=0.2, duplicate=0.05, reorder=0.1)
    with UdpRelay(port, imp, imp, seed=11, lifetime_s=60) as relay:
        sock, client = _type_and_check(crypto_impl, key, relay.listen_port, out_file, timeout=45)
        assert relay.stats["dropped"] > 0
        sock.close()


def test_client_shutdown_ends_real_mosh_server(crypto_impl, mosh_server):
    port, key, pid, out_file = mosh_server
    sock, client = _client(crypto_impl, key, port)
    try:
        assert drive(client, sock, lambda: client.remote_state_num > 0, 10)
        client.start_shutdown(monotonic_ms())
        assert drive(
            client,
            sock,
            lambda: client.shutdown_acknowledged() or client.shutdown_ack_timed_out(monotonic_ms()),
            10,
        )
        assert client.shutdown_acknowledged()
    finally:
        sock.close()
    end = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < end:
        time.sleep(0.05)
    assert not pid_alive(pid), "mosh-server did not exit after our shutdown"
