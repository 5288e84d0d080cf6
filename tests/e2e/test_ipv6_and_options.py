"""IPv6 sessions on ::1 (datagrams within the 1216-byte IPv6 MTU), pymosh-server's
``-p PORT`` / ``-p LOW:HIGH`` / ``-c COLORS`` against stock mosh-client, and the
wrapper's ``--local -p PORT`` and ``--local -6`` (protocol.md §3.3, §3.4, §7.1, §7.3)."""

from __future__ import annotations

import random
import shlex
import socket
import subprocess

import pytest

from tests.e2e.session import client_command, start_server
from tests.frontend.helpers import child_env, program, program_command
from tests.support.procs import wait_gone
from tests.support.relay import UdpRelay
from tests.support.servers import parse_connect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PY_SERVER = program("server")
CLIENTS = {"pymosh-client": program("client"), "stock-client": ["mosh-client"]}
IPV6_MTU = 1216  # 1280 - 40 - 16 - 8 (protocol.md §3.3)
SHELL_ENV = {"SHELL": "/bin/sh", "PS1": "$ ", "ENV": ""}


# ------------------------------------------------------------------ helpers


def _bind_v6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def ipv6_loopback():
    """::1 usable; if IPv6 is disabled on lo, enable it (CI runs as root) rather than skip."""
    if not socket.has_ipv6:
        pytest.fail("this Python has no IPv6 support")
    if not _bind_v6_loopback():
        for cmd in (
            ["sysctl", "-w", "net.ipv6.conf.lo.disable_ipv6=0"],
            ["ip", "-6", "addr", "add", "::1/128", "dev", "lo"],
        ):
            subprocess.run(cmd, capture_output=True, timeout=10, check=False)
        if not _bind_v6_loopback():
            shown = subprocess.run(
                ["ip", "-6", "addr", "show", "lo"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout
            pytest.fail(f"cannot bind ::1 even after enabling IPv6 on lo:\n{shown}")


class SizingRelay6(UdpRelay):
    """The UDP relay on ::1, recording the size of every datagram in each direction."""

    def __init__(self, server_port: int) -> None:
        self.sizes = {"up": [], "down": []}
        super().__init__(server_port, lifetime_s=60)
        self.server_addr = ("::1", server_port)

    @staticmethod
    def _socket() -> socket.socket:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::1", 0))
        s.setblocking(False)
        return s

    def _schedule(self, data, sock, dst, imp) -> None:
        self.sizes["down" if imp is self.down else "up"].append(len(data))
        super()._schedule(data, sock, dst, imp)


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive UDP ports free on 0.0.0.0 (below the
    ephemeral range, so the kernel does not hand them out meanwhile)."""
    rng = random.Random()
    for _ in range(100):
        base = rng.randrange(20000, 32000 - count)
        held = []
        try:
            for port in range(base, base + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(s)
                s.bind(("0.0.0.0", port))
            return base
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise AssertionError(f"no {count} consecutive free UDP ports")


def occupy(port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    return s


def udp_bound(ip: str, port: int) -> bool:
    """True if a UDP socket is bound to exactly ``ip``:``port`` (from /proc/net/udp{,6})."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    raw = socket.inet_pton(family, ip)
    # /proc prints each 32-bit word in host (little-endian) order
    want = "".join(raw[i : i + 4][::-1].hex().upper() for i in range(0, len(raw), 4))
    table = "/proc/net/udp6" if family == socket.AF_INET6 else "/proc/net/udp"
    with open(table) as f:
        rows = [line.split()[1] for line in f.readlines()[1:]]
    return f"{want}:{port:04X}" in rows


def finish(pane, tag) -> None:
    pane.send_line("exit")
    assert pane.wait_exit(timeout=15) == 0
    pane.kill()
    assert wait_gone(tag, timeout=10) == []


# ------------------------------------------------------------------ (1) IPv6


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_ipv6_session_keeps_datagrams_within_the_ipv6_mtu(
    ipv6_loopback, tmp_path, tag, pane_factory, client
):
    env = child_env(PYMOSH_TEST_TAG=tag, **SHELL_ENV)
    port, key = start_server(PY_SERVER + ["new", "-i", "::1", "-p", "0", "--", "/bin/sh"], env)
    assert udp_bound("::1", port), "pymosh-server -i ::1 did not bind [::1]"
    with SizingRelay6(port) as relay:
        pane = pane_factory(
            client_command(str(tmp_path), CLIENTS[client], relay.listen_port, key, host="::1"),
            160,
            50,
            **SHELL_ENV,
        )
        pane.wait_prompt(timeout=20)
        pane.send_line("echo v6-$((6*7))")
        pane.wait_for("v6-42")
        # a screenful of incompressible text: several full-size fragments per state
        pane.send_line("base64 -w 150 /dev/urandom | head -n 45; echo big-$((2+3))")
        pane.wait_for("big-5", timeout=15)
        finish(pane, tag)
    down, up = relay.sizes["down"], relay.sizes["up"]
    assert max(down) == IPV6_MTU, f"server datagram sizes (top): {sorted(down)[-10:]}"
    assert max(up) <= IPV6_MTU


# ------------------------------------------------------------------ (2) server options


@pytest.mark.interop
@pytest.mark.parametrize("colors,term", [("256", "xterm-256color"), ("8", "xterm")])
def test_stock_client_fixed_port_and_colors(tmp_path, tag, pane_factory, colors, term):
    want = free_ports(1)
    env = child_env(PYMOSH_TEST_TAG=tag, **SHELL_ENV)
    port, key = start_server(
        PY_SERVER + ["new", "-c", colors, "-p", str(want), "--", "/bin/sh"], env
    )
    assert port == want
    pane = pane_factory(client_command(str(tmp_path), ["mosh-client"], port, key), **SHELL_ENV)
    pane.wait_prompt(timeout=20)
    pane.send_line('echo "[$TERM]"')
    pane.wait_for(f"[{term}]")
    finish(pane, tag)


@pytest.mark.interop
def test_port_range_takes_the_first_free_port(tmp_path, tag, pane_factory):
    low = free_ports(3)
    with occupy(low):
        env = child_env(PYMOSH_TEST_TAG=tag, **SHELL_ENV)
        port, key = start_server(
            PY_SERVER + ["new", "-p", f"{low}:{low + 2}", "--", "/bin/sh"], env
        )
    assert port == low + 1
    pane = pane_factory(client_command(str(tmp_path), ["mosh-client"], port, key), **SHELL_ENV)
    pane.wait_prompt(timeout=20)
    pane.send_line("echo range-$((40+2))")
    pane.wait_for("range-42")
    finish(pane, tag)


def test_fully_occupied_port_range_fails_clearly(tag):
    low = free_ports(2)
    with occupy(low), occupy(low + 1):
        result = subprocess.run(
            PY_SERVER + ["new", "-p", f"{low}:{low + 1}", "--", "true"],
            env=child_env(PYMOSH_TEST_TAG=tag),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    assert result.returncode == 1
    assert parse_connect(result.stdout) is None
    assert f"{low}:{low + 1}" in result.stderr
    assert "Address already in use" in result.stderr


# ------------------------------------------------------------------ (3) the wrapper


@pytest.mark.parametrize(
    "family_args,host", [([], "127.0.0.1"), (["-6"], "::1")], ids=["inet", "inet6"]
)
def test_wrapper_local_with_port_and_family(ipv6_loopback, pane_factory, tag, family_args, host):
    port = free_ports(1)
    command = " ".join(
        [
            program_command("wrapper"),
            "--local",
            *family_args,
            "-p",
            str(port),
            shlex.quote(f"--server={program_command('server')}"),
            shlex.quote(f"--client={program_command('client')}"),
            shlex.quote(host),
            "--",
            "/bin/sh",
        ]
    )
    pane = pane_factory(command, **SHELL_ENV)
    pane.wait_prompt(timeout=20)
    pane.send_line("echo local-$((6*7))")
    pane.wait_for("local-42")
    assert udp_bound(host, port), f"no server socket on [{host}]:{port}"
    finish(pane, tag)


def test_wrapper_local_rejects_a_host_without_the_family(tag):
    result = subprocess.run(
        program("wrapper", "--local", "-6", "127.0.0.1"),
        env=child_env(PYMOSH_TEST_TAG=tag),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 255, result.stderr
    assert "127.0.0.1" in result.stderr
