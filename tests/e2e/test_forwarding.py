"""Agent (-A) and port (-L, -R) forwarding end to end: real pymosh-server and
pymosh-client (in tmux), a real ssh-agent and sshd, real TCP services on loopback, and
the UDP impairment relay between client and server (loss, a roam, a 10 s blackout)."""

from __future__ import annotations

import hashlib
import os
import random
import re
import socket
import subprocess
import threading
import time

import pytest

from tests.e2e import session
from tests.e2e.session import client_command, local_command, run
from tests.e2e.sshd import free_tcp_port
from tests.frontend.helpers import child_env, program
from tests.support.relay import RelayImpairment, UdpRelay

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

UP_BYTES = 2 * 1024 * 1024
DOWN_BYTES = 2 * 1024 * 1024


def start_server(extra: list[str], env: dict[str, str], command: list[str]) -> tuple[int, str]:
    return session.start_server(program("server") + ["new", "-p", "0", *extra, "--", *command], env)


class Service:
    """A TCP service on loopback: reads to EOF, answers the SHA-256 of what it read, then
    DOWN_BYTES of seeded data, then closes."""

    def __init__(self, down_bytes: int = DOWN_BYTES) -> None:
        self.down_bytes = down_bytes
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(120)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(120)
            digest = hashlib.sha256()
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                digest.update(data)
            conn.sendall(digest.hexdigest().encode() + b"\n" + payload(2, self.down_bytes))

    def close(self) -> None:
        self.sock.close()


def payload(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def exchange(
    port: int,
    relay: UdpRelay | None,
    up_bytes: int = UP_BYTES,
    down_bytes: int = DOWN_BYTES,
    timeout: float = 150,
) -> None:
    """Upload ``up_bytes`` through the forward, half-close, check the echoed hash and the
    ``down_bytes`` download, while the relay (if any) roams and blacks out for 10 s."""
    up = payload(1, up_bytes)
    deadline = time.monotonic() + 20
    while True:  # the forward exists once the session negotiated streams
        try:
            conn = socket.create_connection(("127.0.0.1", port), timeout=5)
            break
        except OSError:
            assert time.monotonic() < deadline, "forwarded port never listened"
            time.sleep(0.2)
    got = bytearray()
    with conn:
        conn.settimeout(timeout)

        def sender() -> None:
            view = memoryview(up)
            for i in range(0, len(view), 65536):
                conn.sendall(view[i : i + 65536])
            conn.shutdown(socket.SHUT_WR)

        thread = threading.Thread(target=sender, daemon=True)
        thread.start()
        events: list[int] = []  # bytes downloaded at the roam and the blackout

        def network() -> None:  # mid-transfer: a roam, then a 10 s blackout
            time.sleep(2)
            relay.switch_port()
            events.append(len(got))
            time.sleep(2)
            relay.blackout(10.0)
            events.append(len(got))

        if relay is not None:
            threading.Thread(target=network, daemon=True).start()
        while True:
            try:
                data = conn.recv(65536)
            except socket.timeout:
                raise AssertionError(f"stalled after {len(got)} bytes") from None
            if not data:
                break
            got += data
        thread.join(timeout=5)
    head, _, body = bytes(got).partition(b"\n")
    assert head.decode() == hashlib.sha256(up).hexdigest(), "upload corrupted"
    assert len(body) == down_bytes and body == payload(2, down_bytes), "download corrupted"
    if relay is not None:
        assert len(events) == 2 and relay.stats["dropped"] > 0, (events, relay.stats)
        assert events[1] < len(got), "the blackout came after the transfer"


IMPAIR = RelayImpairment(delay_ms=2, loss=0.01, duplicate=0.01, reorder=0.01)


def test_local_forward_through_loss_roam_and_blackout(tmp_path, tag, pane_factory):
    service = Service()
    env = child_env(PYMOSH_TEST_TAG=tag, PYMOSH_STATE_DIR=str(tmp_path / "state"))
    port, key = start_server([], env, ["sh", "-c", "echo READY; sleep 600"])
    lport = free_tcp_port()
    with UdpRelay(
        port, up=IMPAIR, down=RelayImpairment(**vars(IMPAIR)), seed=3, lifetime_s=240
    ) as relay:
        client = program("client") + ["-L", f"{lport}:127.0.0.1:{service.port}"]
        pane = pane_factory(client_command(str(tmp_path), client, relay.listen_port, key))
        pane.wait_for("READY", timeout=20)
        exchange(lport, relay)
    service.close()


def test_remote_forward_through_loss_roam_and_blackout(tmp_path, tag, pane_factory):
    service = Service()
    env = child_env(PYMOSH_TEST_TAG=tag, PYMOSH_STATE_DIR=str(tmp_path / "state"))
    rport = free_tcp_port()
    spec = f"{rport}:127.0.0.1:{service.port}"
    port, key = start_server(["-R", spec], env, ["sh", "-c", "echo READY; sleep 600"])
    with UdpRelay(
        port, up=IMPAIR, down=RelayImpairment(**vars(IMPAIR)), seed=4, lifetime_s=240
    ) as relay:
        client = program("client") + ["-R", spec]
        pane = pane_factory(client_command(str(tmp_path), client, relay.listen_port, key))
        pane.wait_for("READY", timeout=20)
        exchange(rport, relay)
    service.close()


def test_taken_ports_are_clear_errors(tmp_path, tag, pane_factory):
    env = child_env(PYMOSH_TEST_TAG=tag, PYMOSH_STATE_DIR=str(tmp_path / "state"))
    with socket.create_server(("127.0.0.1", 0)) as taken:
        busy = taken.getsockname()[1]
        result = run(program("server") + ["new", "-R", f"{busy}:127.0.0.1:22"], env)
        assert result.returncode == 1 and "MOSH CONNECT" not in result.stdout
        assert (
            f"-R {busy}:127.0.0.1:22: cannot listen on 127.0.0.1 port {busy}: "
            "already in use" in result.stderr
        )
        assert "Traceback" not in result.stderr
        client = program("client") + ["-L", f"{busy}:h:1"]
        pane = pane_factory(client_command(str(tmp_path), client, 9, "A" * 22) + "; sleep 30")
        message = (
            f"pymosh-client: -L {busy}:h:1: cannot listen on 127.0.0.1 port {busy}: already in use"
        )
        screen = pane.wait_until(
            lambda text: message in text.replace("\n", ""), 20, "the one-line error"
        )
        assert "Traceback" not in screen


# ------------------------------------------------------------------------ agent


@pytest.fixture
def agent(tmp_path):
    """A real ssh-agent holding one fresh key; yields (socket path, key file)."""
    sock = str(tmp_path / "agent.sock")
    proc = subprocess.Popen(
        ["ssh-agent", "-D", "-a", sock],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while not os.path.exists(sock):
        assert time.monotonic() < deadline, "ssh-agent did not start"
        time.sleep(0.05)
    yield sock
    proc.terminate()
    proc.wait(timeout=5)


def add_key(agent_sock: str, key_file: str) -> str:
    env = dict(os.environ, SSH_AUTH_SOCK=agent_sock)
    subprocess.run(["ssh-add", key_file], env=env, check=True, capture_output=True, timeout=30)
    listing = subprocess.run(
        ["ssh-add", "-l"], env=env, check=True, capture_output=True, text=True, timeout=30
    ).stdout
    return listing.split()[1]  # the fingerprint


def test_agent_forwarding_lists_keys_and_logs_in_to_sshd(tmp_path, tag, pane_factory, agent, sshd):
    fingerprint = add_key(agent, sshd.user_key)
    state = tmp_path / "state"
    env = child_env(PYMOSH_TEST_TAG=tag, PYMOSH_STATE_DIR=str(state))
    port, key = start_server(["-A"], env, ["sh"])
    client = program("client") + ["-A"]
    relay = UdpRelay(port, seed=5, lifetime_s=120).start()
    pane = pane_factory(
        client_command(str(tmp_path), client, relay.listen_port, key, SSH_AUTH_SOCK=agent), 200, 40
    )
    pane.send_line("echo SOCK=$SSH_AUTH_SOCK; ssh-add -l; echo DONE-$((6*7))")
    screen = pane.wait_for("DONE-42", timeout=30)
    assert fingerprint in screen, screen
    found = re.search(r"SOCK=(/\S+)", screen)
    assert found, screen
    sock_path = found.group(1)
    relay.switch_port()  # the client roams, then sleeps 3 s
    relay.blackout(3.0)
    pane.send_line("clear; ssh-add -l; echo AGAIN-$((6*7))")
    screen = pane.wait_for("AGAIN-42", timeout=30)
    assert fingerprint in screen, screen
    assert sock_path.startswith(str(state / "agent") + "/")
    assert oct(os.stat(state / "agent").st_mode & 0o777) == "0o700"
    ssh = sshd.ssh_command("127.0.0.1", "echo", "LOGIN-$((3*5))", key=False)
    pane.send_line(ssh)
    pane.wait_for("LOGIN-15", timeout=30)
    pane.send_line("exit")
    pane.wait_exit(timeout=20)
    relay.stop()
    deadline = time.monotonic() + 10
    while os.path.exists(sock_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(sock_path), "the agent socket outlived the session"


def test_agent_without_local_agent_says_so(tmp_path, tag, pane_factory):
    env = child_env(PYMOSH_TEST_TAG=tag, PYMOSH_STATE_DIR=str(tmp_path / "state"))
    port, key = start_server(["-A"], env, ["sh"])
    client = program("client") + ["-A"]
    command = "unset SSH_AUTH_SOCK; " + client_command(str(tmp_path), client, port, key)
    pane = pane_factory(command)
    pane.send_line("ssh-add -l; ssh-add -l; echo DONE-$((6*7))")
    pane.wait_for("DONE-42", timeout=30)
    pane.wait_for("no local agent", timeout=10)


@pytest.mark.parametrize("mode, owner", [(0o777, None), (0o755, None), (0o700, 65534)])
def test_agent_socket_dir_refuses_unsafe_places(tmp_path, tag, mode, owner):
    state = tmp_path / "state"
    state.mkdir()
    os.chmod(state, mode)
    if owner is not None:
        os.chown(state, owner, owner)
    env = child_env(PYMOSH_TEST_TAG=tag, PYMOSH_STATE_DIR=str(state))
    result = run(program("server") + ["new", "-A", "--", "true"], env)
    assert "agent forwarding disabled: refusing" in result.stderr, result.stderr
    assert ("owned by uid 65534" if owner else "lets others in") in result.stderr
    assert not (state / "agent").exists()


def test_wrapper_forwards_the_agent_and_a_port(tmp_path, tag, pane_factory, agent):
    """``pymosh --local -A -L ...``: the options reach both programs."""
    key_file = str(tmp_path / "key")
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key_file],
        check=True,
        capture_output=True,
        timeout=30,
    )
    fingerprint = add_key(agent, key_file)
    service = Service(100_000)
    lport = free_tcp_port()
    command = local_command(
        "-A",
        "-L",
        f"{lport}:127.0.0.1:{service.port}",
        "127.0.0.1",
        "--",
        "sh",
        "-c",
        "ssh-add -l; echo WRAPPED-$((6*7)); sleep 60",
    )
    pane = pane_factory(
        command, 200, 30, SSH_AUTH_SOCK=agent, PYMOSH_STATE_DIR=str(tmp_path / "state")
    )
    screen = pane.wait_for("WRAPPED-42", timeout=30)
    assert fingerprint in screen, screen
    exchange(lport, None, 100_000, 100_000)
    service.close()


@pytest.mark.interop
def test_stock_client_gets_a_refusal_not_a_hang(tmp_path, tag, pane_factory, agent):
    """pymosh-server -A with a stock mosh-client: nothing new on the wire, and the shell's
    agent socket goes away once the client showed it is not pymosh."""
    env = child_env(PYMOSH_TEST_TAG=tag, PYMOSH_STATE_DIR=str(tmp_path / "state"))
    port, key = start_server(["-A"], env, ["sh"])
    pane = pane_factory(
        client_command(str(tmp_path), ["mosh-client"], port, key, SSH_AUTH_SOCK=agent), 200, 30
    )
    pane.send_line("ssh-add -l; echo STATUS-$?")
    screen = pane.wait_for("STATUS-2", timeout=20)  # 2: no agent to talk to
    assert "Error connecting to agent" in screen, screen
    assert os.listdir(tmp_path / "state" / "agent") == []
