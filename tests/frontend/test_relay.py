"""The bastion relay's rules (issue #16 part 2): the routing core, then a real hub on
loopback sprayed with garbage, replays and forgeries, and a host that disappears."""

from __future__ import annotations

import base64
import json
import os
import random
import select
import socket
import subprocess
import sys
import time

import pytest

from pymosh.frontend import relay
from pymosh.frontend.jump import JumpError, parse_jump, parse_jumps
from tests.frontend.test_portshare import free_udp_port, wait_until

A = ("198.51.100.1", 1000)
B = ("198.51.100.2", 2000)
EVIL = ("203.0.113.66", 6666)


# ------------------------------------------------------------------ sans-I/O


def test_tag_round_trip_and_forgeries():
    key = os.urandom(16)
    t = relay.Tagger(key)
    sealed = t.seal(5, b"inner")
    assert t.open(sealed) == (5, b"inner")
    assert relay.Tagger(os.urandom(16)).open(sealed) is None
    for i in range(len(sealed)):
        flipped = bytearray(sealed)
        flipped[i] ^= 1
        assert t.open(bytes(flipped)) is None
    assert t.open(sealed[:-1]) is None and t.open(b"") is None


def test_return_path_follows_only_the_newest_genuine_datagram():
    table = relay.RelayTable()
    keys = [os.urandom(16) for _ in range(3)]
    for i, key in enumerate(keys):
        table.add(i, key, 60, 0)
    t = relay.Tagger(keys[1])
    first = t.seal(1, b"one")
    route, inner = table.from_client(first, A, 0)
    assert route.rid == 1 and inner == b"one" and route.client == A
    # a replay from elsewhere is forwarded (the host drops it) but moves nothing
    route, inner = table.from_client(first, EVIL, 1)
    assert inner == b"one" and table.routes[1].client == A
    # forgeries and garbage: nothing, at most one trial per route
    table.trials = 0
    assert table.from_client(relay.Tagger(os.urandom(16)).seal(99, b"x"), EVIL, 1) == (None, None)
    assert table.trials == 3
    assert table.from_client(os.urandom(80), EVIL, 1) == (None, None)
    assert table.from_client(b"short", EVIL, 1) == (None, None)
    assert table.routes[1].client == A
    # a genuine newer datagram from a new address: a roam, followed
    route, inner = table.from_client(t.seal(2, b"two"), B, 2)
    assert route.client == B and inner == b"two"
    # the hint makes the known address cost one trial
    table.trials = 0
    table.from_client(t.seal(3, b"three"), B, 3)
    assert table.trials == 1


def test_bye_removes_the_route_and_routes_expire():
    table = relay.RelayTable()
    key = os.urandom(16)
    table.add("r", key, 10, 0)
    t = relay.Tagger(key)
    table.from_client(t.seal(1, b"x"), A, 0)
    stale_bye = t.seal(1, b"")  # not newer than what was seen: ignored
    assert table.from_client(stale_bye, EVIL, 1)[1] is None and "r" in table.routes
    route, inner = table.from_client(t.seal(2, b""), A, 1)
    assert route.rid == "r" and inner is None and "r" not in table.routes
    table.add("s", key, 10, 0)
    assert table.expired(5) == [] and table.expired(11) == ["s"]


@pytest.mark.parametrize(
    "spec,expected",
    [
        ("bastion", ("bastion", None)),
        ("me@bastion:2200", ("me@bastion", "2200")),
        ("ssh://me@b:22", ("me@b", "22")),
        ("[2001:db8::1]:2222", ("2001:db8::1", "2222")),
        ("me@2001:db8::1", ("me@2001:db8::1", None)),
    ],
)
def test_jump_specs(spec, expected):
    assert parse_jump(spec) == expected


@pytest.mark.parametrize("spec", ["b:port", "@:22", ""])
def test_bad_jump_specs(spec):
    with pytest.raises(JumpError):
        parse_jump(spec)


def test_several_hops():
    assert parse_jumps("a,me@b:22,ssh://c") == ["a", "me@b:22", "ssh://c"]
    with pytest.raises(JumpError):
        parse_jumps("a,,b")


# ------------------------------------------------------------------ a real hub


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A hub on loopback with one route to a fake host; yields (relay port, key, host)."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    monkeypatch.setenv("PYMOSH_STATE_DIR", str(state))
    host = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    host.bind(("127.0.0.1", 0))
    key = os.urandom(16)
    port = free_udp_port()
    config = {
        "relay_port": port,
        "key": base64.b64encode(key).decode(),
        "host": "127.0.0.1",
        "port": host.getsockname()[1],
        "timeout": 60,
    }
    assert relay.register(config) == port
    yield port, key, host, config
    host.close()
    # ending every route ends the hub: say bye on each test's behalf
    bye = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bye.sendto(relay.Tagger(key).seal(1 << 40, b""), ("127.0.0.1", port))
    bye.close()
    assert wait_until(lambda: _port_free(port), 10)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("::", port))
        except OSError:
            return False
        return True


def _recv(sock: socket.socket, timeout: float) -> bytes | None:
    if select.select([sock], [], [], timeout)[0]:
        return sock.recvfrom(4096)[0]
    return None


def _udp() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


def test_hub_forwards_genuine_traffic_and_nothing_else(hub):
    port, key, host, _ = hub
    target = ("127.0.0.1", port)
    client, attacker = _udp(), _udp()
    t = relay.Tagger(key)
    try:
        # before any genuine datagram the host's traffic goes nowhere
        client.sendto(t.seal(1, b"hello"), target)
        assert _recv(host, 5) == b"hello"
        # find the relay's upstream address by the datagram's source
        client.sendto(t.seal(2, b"again"), target)
        data, relay_addr = host.recvfrom(4096)
        assert data == b"again"
        host.sendto(b"reply", relay_addr)
        assert _recv(client, 5) == b"reply"
        # spray: garbage, forgeries under other keys, replays of genuine datagrams
        rng = random.Random(2)
        captured = [t.seal(1, b"hello"), t.seal(2, b"again")]
        spray = captured * 20
        spray += [relay.Tagger(os.urandom(16)).seal(1000 + i, b"x" * 40) for i in range(200)]
        spray += [rng.randbytes(rng.randrange(0, 1500)) for _ in range(2000)]
        for i, datagram in enumerate(spray):
            attacker.sendto(datagram, target)
            if i % 50 == 49:
                time.sleep(0.001)
        time.sleep(0.3)
        # only the replays reached the host (it drops them, as a session would)
        forwarded = []
        while (got := _recv(host, 0.2)) is not None:
            forwarded.append(got)
        assert set(forwarded) <= {b"hello", b"again"}
        # the return path did not move: replies still reach the client, never the attacker
        host.sendto(b"still yours", relay_addr)
        assert _recv(client, 5) == b"still yours"
        assert _recv(attacker, 0.5) is None
        # a roam (a newer genuine datagram from a new address) is followed
        roamed = _udp()
        roamed.sendto(t.seal(3, b"moved"), target)
        assert _recv(host, 5) == b"moved"
        host.sendto(b"found you", relay_addr)
        assert _recv(roamed, 5) == b"found you"
        # only the host may speak on the host side: a stranger there is not relayed
        stranger = _udp()
        stranger.sendto(b"not the host", relay_addr)
        assert _recv(roamed, 0.3) is None
        stranger.close()
        roamed.close()
    finally:
        client.close()
        attacker.close()


def test_hub_survives_a_host_that_disappears_and_serves_other_routes(hub, tmp_path):
    port, key, host, config = hub
    target = ("127.0.0.1", port)
    host.close()  # the host side is gone: ICMP port unreachable
    client = _udp()
    t = relay.Tagger(key)
    try:
        for i in range(20):
            client.sendto(t.seal(i + 1, b"anyone?"), target)
        time.sleep(0.3)
        # a second route on the same relay port still works
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        other.bind(("127.0.0.1", 0))
        key2 = os.urandom(16)
        assert (
            relay.register(
                dict(config, key=base64.b64encode(key2).decode(), port=other.getsockname()[1])
            )
            == port
        )
        client.sendto(relay.Tagger(key2).seal(1, b"second"), target)
        assert _recv(other, 5) == b"second"
        client.sendto(relay.Tagger(key2).seal(2, b""), target)  # its bye
        other.close()
    finally:
        client.close()


def test_a_silent_route_expires_and_the_hub_with_it(tmp_path, monkeypatch):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    monkeypatch.setenv("PYMOSH_STATE_DIR", str(state))
    port = free_udp_port()
    config = {
        "relay_port": port,
        "key": base64.b64encode(os.urandom(16)).decode(),
        "host": "127.0.0.1",
        "port": 9,
        "timeout": 1,
    }
    assert relay.register(config) == port
    assert not _port_free(port)
    # no genuine datagram for a second: the route goes, and the hub closes the port
    assert wait_until(lambda: _port_free(port), 10)
    assert not os.path.exists(state / "ports" / f"relay-{port}.sock")


def test_an_installed_relay_of_another_version_runs_the_sources_sent(tmp_path):
    line = json.dumps(
        {
            "userdir": "",
            "config": {"version": relay.RELAY_VERSION + 1},
            "relay": "def remote_main(c):\n    print('SHIPPED', c['version'])\n",
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "pymosh.frontend.relay"],
        input=line + "\n",
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    assert result.stdout == f"SHIPPED {relay.RELAY_VERSION + 1}\n", result.stderr


def test_a_hub_of_another_version_refuses_with_a_clear_message(hub):
    port, _key, _host, config = hub
    sock_path = os.path.join(os.environ["PYMOSH_STATE_DIR"], "ports", f"relay-{port}.sock")
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    conn.connect(sock_path)
    conn.settimeout(5)
    conn.send(b'{"version": 99, "key": "", "host": "127.0.0.1", "port": 1, "timeout": 1}')
    answer = conn.recv(256).decode()
    conn.close()
    assert answer.startswith("ERR the relay on this port is version 1, not 99")
