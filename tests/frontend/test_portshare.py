"""One UDP port for all of a user's sessions (issue #16): real pymosh-server processes on
one port, driven by the test client; the port owner killed, sprayed and refused."""

from __future__ import annotations

import itertools
import os
import random
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

import pytest

from pymosh.crypto import TO_SERVER, Session
from pymosh.frontend import portshare
from tests.hostile.miniclient import LOOPBACK, MiniClient, connect, roundtrip
from tests.support.procs import children_of, pid_alive, read_proc, send_signal, terminate, wait_dead
from tests.support.servers import PYMOSH, cat_command, start_server, stop_server

pytestmark = [pytest.mark.e2e]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
        return True


def owner_pids(ports_dir: str) -> list[int]:
    """Live port owners serving ``ports_dir`` (found by argv, never by name alone)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = read_proc(int(entry), "cmdline").split(b"\0")
        except OSError:
            continue
        if (
            b"pymosh.frontend.portshare" in argv
            and ports_dir.encode() in argv
            and pid_alive(int(entry))
        ):
            found.append(int(entry))
    return found


def udp_inodes(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as f:
            for row in f.readlines()[1:]:
                fields = row.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    found.add(fields[9])
    return found


def socket_inodes(pid: int) -> set[str]:
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            found.add(link[8:-1])
    return found


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class Shared:
    """Sessions started on one shared port with a private state directory."""

    def __init__(self, tmp_path) -> None:
        self.tmp = tmp_path
        self.state = tmp_path / "state"
        self.state.mkdir(mode=0o700)
        self.ports_dir = str(self.state / "ports")
        self.port = free_udp_port()
        self.servers = []
        self.clients = []
        self._numbers = itertools.count()  # thread-safe: sessions may start at once

    def start(self, options=None):
        workdir = self.tmp / f"s{next(self._numbers)}"
        workdir.mkdir()
        server = start_server(
            PYMOSH,
            str(workdir),
            cat_command(str(workdir / "typed")),
            env_extra={"PYMOSH_STATE_DIR": str(self.state)},
            port=str(self.port),
            options=options,
        )
        self.servers.append(server)
        return server

    def connect_all(self) -> None:
        self.clients = [connect(server) for server in self.servers]

    def close(self) -> None:
        for client in self.clients:
            client.close()
        for server in self.servers:
            stop_server(server)
        terminate(owner_pids(self.ports_dir))


@pytest.fixture
def shared(tmp_path):
    s = Shared(tmp_path)
    yield s
    s.close()


def test_sessions_share_one_port_each_gets_its_own_keystrokes_once(shared):
    for _ in range(4):
        shared.start()
    assert {s.port for s in shared.servers} == {shared.port}
    assert len({s.key for s in shared.servers}) == 4
    shared.connect_all()
    for round_ in range(3):
        for i, (server, client) in enumerate(zip(shared.servers, shared.clients)):
            roundtrip(server, client, f"<{i}:{round_}>".encode())
    for i, server in enumerate(shared.servers):
        assert server.output() == b"".join(f"<{i}:{r}>".encode() for r in range(3))
    assert len(owner_pids(shared.ports_dir)) == 1
    # the sessions' shells hold no copy of the port's socket (it would outlive them)
    inodes = udp_inodes(shared.port)
    assert inodes
    for server in shared.servers:
        children = children_of(server.pid)
        assert children
        for child in children:
            assert not socket_inodes(child) & inodes
        assert socket_inodes(server.pid) & inodes
    # private: the owner's socket 0600 in a 0700 directory
    sock = os.path.join(shared.ports_dir, f"{shared.port}.sock")
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(shared.ports_dir).st_mode) == 0o700

    # the port is released (and the owner gone) when the last session ends
    for server in shared.servers:
        assert not port_free(shared.port)
        stop_server(server)
    assert wait_until(lambda: port_free(shared.port), 10)
    assert owner_pids(shared.ports_dir) == []
    assert not os.path.exists(sock)


def test_a_session_killed_or_ended_does_not_disturb_the_others(shared):
    for _ in range(3):
        shared.start()
    shared.connect_all()
    (a, b, c), cc = shared.servers, shared.clients[2]
    send_signal(a.pid, signal.SIGKILL)
    assert wait_dead(a.pid, 5)
    stop_server(b)  # a clean end (SIGTERM)
    roundtrip(c, cc, b"still here")
    # a new session joins the same owner after the others left
    d = shared.start()
    cd = connect(d)
    shared.clients.append(cd)
    roundtrip(d, cd, b"newcomer")
    roundtrip(c, cc, b"!")
    assert c.output() == b"still here!"
    assert len(owner_pids(shared.ports_dir)) == 1


def test_roaming_client_is_followed_by_its_own_session(shared):
    for _ in range(2):
        shared.start()
    shared.connect_all()
    a, ca = shared.servers[0], shared.clients[0]
    roundtrip(a, ca, b"home ")
    ca.sock.close()  # the client moves to a new source port
    ca.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ca.sock.bind((LOOPBACK, 0))
    roundtrip(a, ca, b"away")
    assert a.output() == b"home away"
    roundtrip(shared.servers[1], shared.clients[1], b"other")


def test_owner_killed_sessions_survive_and_the_port_is_taken_over(shared):
    for _ in range(3):
        shared.start()
    shared.connect_all()
    for i, (server, client) in enumerate(zip(shared.servers, shared.clients)):
        roundtrip(server, client, f"a{i} ".encode())
    [owner] = owner_pids(shared.ports_dir)
    send_signal(owner, signal.SIGKILL)
    assert wait_dead(owner, 5)
    # the port stays bound (the sessions hold dups of the socket) and a new owner serves it
    assert not port_free(shared.port)
    for i, (server, client) in enumerate(zip(shared.servers, shared.clients)):
        roundtrip(server, client, f"b{i}".encode(), timeout=20)
    assert all(server.alive() for server in shared.servers)
    owners = owner_pids(shared.ports_dir)
    assert len(owners) == 1 and owners != [owner]
    for i, server in enumerate(shared.servers):
        assert server.output() == f"a{i} b{i}".encode()
    # and the new owner also releases the port after the last session
    for server in shared.servers:
        stop_server(server)
    assert wait_until(lambda: port_free(shared.port), 10)
    assert owner_pids(shared.ports_dir) == []


def test_sprayed_garbage_replays_and_forgeries_disturb_nobody_and_get_no_reply(shared):
    for _ in range(3):
        shared.start()
    shared.connect_all()
    for i, (server, client) in enumerate(zip(shared.servers, shared.clients)):
        roundtrip(server, client, f"[{i}".encode())
    rng = random.Random(16)
    attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attacker.bind((LOOPBACK, 0))
    target = (LOOPBACK, shared.port)
    keys = [s.key for s in shared.servers]
    spray = []
    for client in shared.clients:
        spray += client.sent  # replays, from elsewhere
    for key in keys:  # bit flips of genuine ones
        fresh = Session(key).seal_datagram(TO_SERVER, 1 << 30, 0, 0xFFFF, b"\0" * 30)
        for _ in range(50):
            b = bytearray(fresh)
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
            spray.append(bytes(b))
    other = Session(os.urandom(16))  # another key
    spray += [other.seal_datagram(TO_SERVER, i, 0, 0xFFFF, b"x" * 20) for i in range(50)]
    spray += [rng.randbytes(rng.randrange(0, 1500)) for _ in range(2000)]
    try:
        for n, datagram in enumerate(spray):
            attacker.sendto(datagram, target)
            if n % 50 == 49:
                time.sleep(0.002)
        ready, _, _ = select.select([attacker], [], [], 1.0)
        assert not ready, "the shared port answered an attacker"
        for i, (server, client) in enumerate(zip(shared.servers, shared.clients)):
            roundtrip(server, client, b"]")
            assert server.output() == f"[{i}]".encode()
        assert all(server.alive() for server in shared.servers)
    finally:
        attacker.close()


def test_no_share_port_gives_moshs_exclusive_bind(shared):
    shared.start(["--no-share-port"])
    env = dict(os.environ, PYMOSH_STATE_DIR=str(shared.state))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pymosh.frontend.server",
            "new",
            "-p",
            str(shared.port),
            "--no-share-port",
            "--",
            "true",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "Address already in use" in result.stderr
    assert "MOSH CONNECT" not in result.stdout
    assert owner_pids(shared.ports_dir) == []
    # a sharing session cannot take the port from an exclusive one either
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pymosh.frontend.server",
            "new",
            "-p",
            str(shared.port),
            "--",
            "true",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1 and "in use" in result.stderr
    assert owner_pids(shared.ports_dir) == []


# ------------------------------------------------------------------ other users


def _as_nobody(fn) -> int:
    """Run ``fn`` in a child process as uid/gid 65534; its exit status."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            code = fn()
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@pytest.fixture
def open_dir():
    """A directory another uid can reach (unlike the 0700 ports/): only the SO_PEERCRED
    checks stand between that uid and the port."""
    if os.geteuid() != 0:
        pytest.fail("this test switches to uid 65534: it needs root")
    directory = tempfile.mkdtemp(prefix="pymosh-open-", dir="/tmp")
    os.chmod(directory, 0o777)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_a_foreign_uid_is_refused_by_the_owner(open_dir):
    directory = open_dir
    port = free_udp_port()
    key = os.urandom(16)
    channel = portshare.join(port, key, "127.0.0.1", str(directory))
    try:
        sock_path = os.path.join(directory, f"{port}.sock")
        os.chmod(sock_path, 0o666)

        def intrude() -> int:
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            conn.settimeout(5)
            conn.connect(sock_path)
            try:
                conn.send(b"K" + bytes(16))
                msg, anc, _, _ = conn.recvmsg(16, socket.CMSG_SPACE(4))
            except OSError:
                return 0
            return 0 if msg == b"" and not anc else 3  # closed without a socket

        assert _as_nobody(intrude) == 0
        # the session itself is undisturbed: a datagram with its key still reaches it
        client = MiniClient(port, key)
        client.send_state()
        assert wait_until(lambda: channel.recv_all(), 5)
        client.close()
    finally:
        channel.close()
    assert wait_until(lambda: port_free(port), 10)


def test_a_session_refuses_an_owner_of_another_uid(open_dir):
    directory = open_dir
    port = free_udp_port()
    sock_path = os.path.join(directory, f"{port}.sock")
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            listener.bind(sock_path)
            os.chmod(sock_path, 0o666)
            listener.listen(1)
            os.write(ready_w, b"R")
            listener.settimeout(10)
            conn, _ = listener.accept()
            conn.recv(64)
        finally:
            os._exit(0)
    os.close(ready_w)
    try:
        assert select.select([ready_r], [], [], 10)[0]
        with pytest.raises(portshare.PortShareError, match="another user"):
            portshare.join(port, os.urandom(16), "127.0.0.1", str(directory))
    finally:
        os.close(ready_r)
        send_signal(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


# ------------------------------------------------------------------ the channel itself


def _received(channel, client: MiniClient, timeout: float) -> list:
    """Send client states until the channel gets one; what it got ([] on timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client.send_state()
        select.select(channel.filenos(), [], [], 0.1)
        got = channel.recv_all(0)
        if got:
            return got
    return []


def test_rekey_routes_the_new_key_and_refuses_the_old(tmp_path):
    directory = tmp_path / "ports"
    directory.mkdir(mode=0o700)
    port = free_udp_port()
    old, new = os.urandom(16), os.urandom(16)
    channel = portshare.join(port, old, "127.0.0.1", str(directory))
    clients = [MiniClient(port, old), MiniClient(port, new)]
    try:
        [(datagram, addr, _ce)] = _received(channel, clients[0], 5)[:1]
        assert addr == clients[0].sock.getsockname() and datagram == clients[0].sent[-1]
        assert channel.send(b"reply", addr) is None  # sent on the shared socket
        assert clients[0].sock.recvfrom(100) == (b"reply", ("127.0.0.1", port))
        assert _received(channel, clients[1], 0.5) == []
        channel.rekey(new)
        assert _received(channel, clients[1], 5)
        assert _received(channel, clients[0], 0.5) == []
        # a re-key while the owner is dead is carried to the owner the session restarts
        [owner] = owner_pids(str(directory))
        send_signal(owner, signal.SIGKILL)
        assert wait_dead(owner, 5)
        newer = os.urandom(16)
        channel.rekey(newer)
        clients.append(MiniClient(port, newer))
        assert _received(channel, clients[2], 10)
        assert _received(channel, clients[1], 0.5) == []
        assert len(owner_pids(str(directory))) == 1
    finally:
        for client in clients:
            client.close()
        channel.close()
    assert wait_until(lambda: port_free(port), 10)


def test_ipv6_addresses_cross_the_owner_intact(tmp_path):
    directory = tmp_path / "ports"
    directory.mkdir(mode=0o700)
    port = free_udp_port()
    key = os.urandom(16)
    channel = portshare.join(port, key, "::1", str(directory))
    client = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    client.bind(("::1", 0))
    try:
        assert channel.family == socket.AF_INET6
        datagram = Session(key).seal_datagram(TO_SERVER, 7, 0, 0xFFFF, b"v6")
        got = []
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            client.sendto(datagram, ("::1", port))
            select.select(channel.filenos(), [], [], 0.1)
            got = channel.recv_all(0)
        assert got and got[0][0] == datagram
        addr = got[0][1]
        assert addr[:2] == client.getsockname()[:2]
        assert channel.send(b"back", addr) is None
        assert client.recvfrom(100)[0] == b"back"
    finally:
        client.close()
        channel.close()
    assert wait_until(lambda: owner_pids(str(directory)) == [], 10)


@pytest.mark.parametrize(
    "addr", [("192.0.2.7", 60001), ("2001:db8::1", 5, 0, 0), ("fe80::1%lo", 9, 3, 1)]
)
def test_address_encoding_round_trips(addr):
    decoded, used = portshare.decode_addr(portshare.encode_addr(addr) + b"rest")
    expected = addr if len(addr) == 2 else (addr[0].split("%")[0],) + addr[1:]
    assert decoded == expected and used == len(portshare.encode_addr(addr))


def test_sessions_started_at_once_find_one_owner(shared):
    # the lock orders them: exactly one binds and starts the owner, the rest join it
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda _: shared.start(), range(6)))
    assert {s.port for s in shared.servers} == {shared.port}
    assert len(owner_pids(shared.ports_dir)) == 1
    shared.connect_all()
    for i, (server, client) in enumerate(zip(shared.servers, shared.clients)):
        roundtrip(server, client, f"#{i}".encode())
    # all of them lose the owner at once: exactly one restarts it, all re-register
    [owner] = owner_pids(shared.ports_dir)
    send_signal(owner, signal.SIGKILL)
    assert wait_dead(owner, 5)
    for i, (server, client) in enumerate(zip(shared.servers, shared.clients)):
        roundtrip(server, client, b"+", timeout=20)
        assert server.output() == f"#{i}+".encode()
    assert len(owner_pids(shared.ports_dir)) == 1


def test_a_stale_socket_after_a_crash_does_not_block_the_port(shared):
    shared.start()
    [owner] = owner_pids(shared.ports_dir)
    # everything dies at once (a reboot, an OOM kill): the socket file stays behind
    send_signal(owner, signal.SIGSTOP)  # so it cannot tidy up when the session goes
    for server in shared.servers:
        send_signal(server.pid, signal.SIGKILL)
        assert wait_dead(server.pid, 5)
    send_signal(owner, signal.SIGKILL)
    assert wait_dead(owner, 5)
    sock = os.path.join(shared.ports_dir, f"{shared.port}.sock")
    assert os.path.exists(sock)
    assert wait_until(lambda: port_free(shared.port), 5)
    server = shared.start()
    client = connect(server)
    shared.clients.append(client)
    roundtrip(server, client, b"fresh")
