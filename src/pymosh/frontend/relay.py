"""A UDP relay on a bastion host, and the client-side tagger that speaks to it (issue #16).

    client --UDP--> tagger (on the client) ==tagged UDP==> relay (bastion) --UDP--> host

The relay forwards datagrams it cannot read: the session key stays between client and
server. What it can check is a separate *relay key* (16 random bytes the wrapper makes
and hands to both ends over ssh, never on a command line): the tagger appends to each of
the client's datagrams a sequence number and an HMAC-SHA256 tag (truncated to 16 bytes)
over both. The relay

* forwards a datagram towards the host only if its tag is genuine (garbage, forgeries and
  other keys cost one HMAC per relay route on the port, and get no answer);
* sends the host's datagrams only to the address of the newest genuine datagram (higher
  sequence number than any before), so neither a forgery nor a replay from elsewhere can
  redirect the return traffic, while roaming and NAT rebinding just work;
* forgets a route on a genuine "bye" (an empty tagged datagram, sent when the client
  exits) or after ``timeout`` seconds without a genuine datagram.

Stock and pymosh clients both talk to the tagger on the loopback interface (the wrapper
starts it), so both get the same rule; the relay never forwards an untagged datagram.
The host (stock mosh-server or pymosh-server) sees plain Mosh UDP from one stable
address of the relay.

Like part 1's shared port, all relays of a user on a bastion share one UDP port: one
per-user process (the hub) owns it, and relay routes register with it over
``ports/relay-<P>.sock`` in the user's private state directory (same uid only).

The bastion needs nothing but python3: this module (standard library only) and
``userdir.py`` are sent over the ssh connection and run from there (see ``LOADER``).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import json
import os
import select
import socket
import struct
import sys
import time
from typing import Any, Dict, List, Tuple

try:
    from pymosh.frontend import userdir
except ImportError:  # on a bastion: the loader provides it
    import _pymosh_userdir as userdir  # type: ignore[import-not-found,no-redef]

RELAY_VERSION = 1  # the hub's registration format and the tag format
SEQ_LEN = 8
TAG_LEN = 16
MAX_DATAGRAM = 2048 + SEQ_LEN + TAG_LEN
MAX_ROUTES = 256
MAX_HINTS = 4096
IDLE_CHECK = 1.0
HOP_AFTER = 10.0  # s the tagger sends without hearing back before a new port
_SEQ = struct.Struct("!Q")

Addr = Any


# ------------------------------------------------------------------ the tag


class Tagger:
    """Seals and opens tagged datagrams under one relay key."""

    def __init__(self, key: bytes) -> None:
        self._mac = hmac.new(key, digestmod=hashlib.sha256)

    def tag(self, seq_and_inner: bytes) -> bytes:
        mac = self._mac.copy()
        mac.update(seq_and_inner)
        return mac.digest()[:TAG_LEN]

    def seal(self, seq: int, inner: bytes) -> bytes:
        body = inner + _SEQ.pack(seq)
        return body + self.tag(body)

    def open(self, datagram: bytes) -> Tuple[int, bytes] | None:
        """(seq, inner) if the tag is genuine, else None."""
        if len(datagram) < SEQ_LEN + TAG_LEN:
            return None
        body, tag = datagram[:-TAG_LEN], datagram[-TAG_LEN:]
        if not hmac.compare_digest(self.tag(body), tag):
            return None
        return _SEQ.unpack(body[-SEQ_LEN:])[0], body[:-SEQ_LEN]


# ------------------------------------------------------------------ the routing core (sans-I/O)


class Route:
    __slots__ = (
        "rid",
        "tagger",
        "client",
        "max_seq",
        "last_heard",
        "timeout",
        "upstream",
        "up_seq",
    )

    def __init__(
        self, rid: Any, key: bytes, timeout: float, now: float, upstream_key: bytes | None = None
    ) -> None:
        self.rid = rid
        self.tagger = Tagger(key)
        # towards another relay (several hops): re-tag under that relay's key
        self.upstream = Tagger(upstream_key) if upstream_key else None
        self.up_seq = 0
        self.client: Addr | None = None  # where the host's datagrams go
        self.max_seq = -1
        self.last_heard = now
        self.timeout = timeout


class RelayTable:
    """Relay routes on one client-facing port: which route a datagram is for, and where
    each route's return traffic goes."""

    def __init__(self) -> None:
        self.routes: Dict[Any, Route] = {}
        self._hint: Dict[Addr, Any] = {}
        self.trials = 0

    def add(
        self, rid: Any, key: bytes, timeout: float, now: float, upstream_key: bytes | None = None
    ) -> None:
        self.routes[rid] = Route(rid, key, timeout, now, upstream_key)

    def remove(self, rid: Any) -> None:
        self.routes.pop(rid, None)
        for addr in [a for a, r in self._hint.items() if r == rid]:
            del self._hint[addr]

    def from_client(
        self, datagram: bytes, addr: Addr, now: float
    ) -> Tuple[Route | None, bytes | None]:
        """(route, inner datagram to forward) for a genuine datagram; (None, None) for
        anything else; (route, None) for a genuine bye (the route is removed)."""
        if not SEQ_LEN + TAG_LEN <= len(datagram) <= MAX_DATAGRAM:
            return None, None
        first = self._hint.get(addr)
        match = self._match(datagram, first)
        if match is not None:
            rid, route, opened = match
            seq, inner = opened
            if seq > route.max_seq:  # newest genuine datagram: follow its source
                route.max_seq = seq
                route.client = addr
                route.last_heard = now
                if rid != first:
                    if len(self._hint) >= MAX_HINTS:
                        self._hint.clear()
                    self._hint[addr] = rid
                if not inner:
                    self.remove(rid)
                    return route, None
            return route, (inner or None)
        return None, None

    def _match(self, datagram: bytes, first: Any) -> Tuple[Any, Route, Tuple[int, bytes]] | None:
        """The route whose key opens ``datagram``: the hinted one first (one trial for a
        known address), then the others."""
        hinted = self.routes.get(first) if first is not None else None
        if hinted is not None:
            opened = self._try(hinted, datagram)
            if opened is not None:
                return first, hinted, opened
        for rid, route in self.routes.items():
            if rid != first:
                opened = self._try(route, datagram)
                if opened is not None:
                    return rid, route, opened
        return None

    def _try(self, route: Route, datagram: bytes) -> Tuple[int, bytes] | None:
        self.trials += 1
        return route.tagger.open(datagram)

    def expired(self, now: float) -> List[Any]:
        return [rid for rid, r in self.routes.items() if now - r.last_heard > r.timeout]


# ------------------------------------------------------------------ the hub (bastion side)


def _paths(port: int) -> Tuple[str, str]:
    directory = userdir.subdir("ports")
    return (
        os.path.join(directory, f"relay-{port}.sock"),
        os.path.join(directory, f"relay-{port}.lock"),
    )


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


class Hub:
    """Owns the relay port; forwards for every registered route."""

    def __init__(
        self, udp: socket.socket, listener: socket.socket, lock_path: str, sock_path: str
    ) -> None:
        self.udp = udp
        self.listener = listener
        self.lock_path = lock_path
        self.sock_path = sock_path
        self.table = RelayTable()
        self.upstream: Dict[int, socket.socket] = {}  # route id = upstream fd
        self.conns: List[socket.socket] = []

    def run(self) -> None:
        lock = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            while True:
                readers: List[Any] = [self.udp, self.listener, *self.conns, *self.upstream.values()]
                ready, _, _ = select.select(readers, [], [], IDLE_CHECK)
                now = time.monotonic()
                for sock in ready:
                    if sock is self.udp:
                        self._from_clients(now)
                    elif sock is self.listener:
                        self._accept()
                    elif sock in self.conns:
                        self._register(sock, now)
                    else:
                        self._from_host(sock)
                for rid in self.table.expired(now):
                    self._drop(rid)
                if not self.table.routes and not self.conns:
                    try:
                        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue
                    return  # nobody registering (they hold the lock): close
        finally:
            self.udp.close()
            for sock in self.upstream.values():
                sock.close()
            try:
                os.unlink(self.sock_path)
            except OSError:
                pass
            self.listener.close()
            os.close(lock)

    def _accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        if _peer_uid(conn) != os.geteuid() or len(self.conns) > 16:
            conn.close()
            return
        conn.settimeout(5)
        self.conns.append(conn)

    def _register(self, conn: socket.socket, now: float) -> None:
        self.conns.remove(conn)
        try:
            request = json.loads(conn.recv(4096).decode())
            if request.get("version") != RELAY_VERSION:
                raise ValueError(
                    f"the relay on this port is version {RELAY_VERSION}, "
                    f"not {request.get('version')}: use another --relay-port"
                )
            key = base64.b64decode(request["key"])
            host, port = str(request["host"]), int(request["port"])
            timeout = float(request["timeout"])
            upstream_key = base64.b64decode(request.get("upstream_key") or "")
            if (
                len(key) != 16
                or len(upstream_key) not in (0, 16)
                or len(self.table.routes) >= MAX_ROUTES
            ):
                raise ValueError("refused")
            info = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0]
            upstream = socket.socket(info[0], socket.SOCK_DGRAM)
            upstream.connect(info[4])  # the host's datagrams only, from one address
            upstream.setblocking(False)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            try:
                conn.send(f"ERR {exc}".encode()[:200])
            except OSError:
                pass
            conn.close()
            return
        rid = upstream.fileno()
        self.upstream[rid] = upstream
        self.table.add(rid, key, timeout, now, upstream_key or None)
        try:
            conn.send(b"OK")
        except OSError:
            pass
        conn.close()

    def _drop(self, rid: int) -> None:
        self.table.remove(rid)
        sock = self.upstream.pop(rid, None)
        if sock is not None:
            sock.close()

    def _from_clients(self, now: float) -> None:
        for _ in range(64):
            try:
                datagram, addr = self.udp.recvfrom(MAX_DATAGRAM + 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            route, inner = self.table.from_client(datagram, addr, now)
            if route is None:
                continue
            if inner is None:
                if route.rid not in self.table.routes:  # a genuine bye
                    if route.upstream is not None:
                        self._forward(route, b"")  # the next relay's route goes too
                    self._drop(route.rid)
                continue
            self._forward(route, inner)

    def _forward(self, route: Route, inner: bytes) -> None:
        if route.upstream is not None:
            route.up_seq += 1
            inner = route.upstream.seal(route.up_seq, inner)
        sock = self.upstream.get(route.rid)
        if sock is not None:
            try:
                sock.send(inner)
            except OSError:
                pass  # host gone or unreachable: the client retransmits

    def _from_host(self, sock: socket.socket) -> None:
        route = self.table.routes.get(sock.fileno())
        for _ in range(64):
            try:
                datagram = sock.recv(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # e.g. ECONNREFUSED after an ICMP error
            if route is not None and route.client is not None:
                try:
                    self.udp.sendto(datagram, route.client)
                except OSError:
                    pass


def _bind_udp(port: int, family: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(("::", port))
        else:
            sock.bind(("0.0.0.0", port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _start_hub(port: int, sock_path: str, lock_path: str, lock_fd: int) -> None:
    """Bind the port and the hub's socket here, then serve from a detached grandchild."""
    try:
        udp = _bind_udp(port, socket.AF_INET6)
    except OSError:
        udp = _bind_udp(port, socket.AF_INET)
    # (a dead hub's socket goes: we hold the lock)
    listener = userdir.private_listener(sock_path, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the hub's own process
        code = 0
        try:
            os.close(lock_fd)  # the caller's lock: it must not outlive the caller
            os.setsid()
            if os.fork():
                os._exit(0)
            os.chdir("/")
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            keep = sorted((udp.fileno(), listener.fileno()))
            os.closerange(3, keep[0])  # nothing else of the caller's stays open
            os.closerange(keep[0] + 1, keep[1])
            os.closerange(keep[1] + 1, 65536)
            Hub(udp, listener, lock_path, sock_path).run()
        except BaseException:  # noqa: BLE001 - a daemon: nothing to report to
            code = 1
        finally:
            os._exit(code)
    os.waitpid(pid, 0)
    udp.close()
    listener.close()


def register(config: Dict[str, Any]) -> int:
    """On the bastion: make sure a hub owns the port, add this route; the port."""
    port = int(config["relay_port"])
    sock_path, lock_path = _paths(port)
    lock = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OSError(f"timed out waiting for {lock_path}") from None
                time.sleep(0.01)
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            conn.connect(sock_path)
        except (FileNotFoundError, ConnectionRefusedError):
            _start_hub(port, sock_path, lock_path, lock)
            conn.connect(sock_path)
        if _peer_uid(conn) != os.geteuid():
            raise OSError(f"{sock_path} belongs to another user")
        conn.settimeout(10)
        request = {k: config.get(k) for k in ("key", "host", "port", "timeout", "upstream_key")}
        conn.send(json.dumps(dict(request, version=RELAY_VERSION)).encode())
        answer = conn.recv(256).decode("utf-8", "replace")
        conn.close()
        if answer != "OK":
            raise OSError(f"the relay hub refused the route: {answer or 'no answer'}")
        return port
    finally:
        os.close(lock)


def remote_main(config: Dict[str, Any]) -> None:
    """What the loader runs on the bastion; prints ``MOSH RELAY <port> <address>``, the
    address being this bastion's own as the previous hop reached it (SSH_CONNECTION)."""
    try:
        port = register(config)
    except (OSError, ValueError, userdir.UserDirError) as exc:
        sys.stdout.write(f"pymosh relay: {exc}\n")
        sys.stdout.flush()
        sys.exit(1)
    words = os.environ.get("SSH_CONNECTION", "").split()
    here = words[2] if len(words) == 4 else "-"
    sys.stdout.write(f"MOSH RELAY {port} {here}\n")
    sys.stdout.flush()


def main() -> None:
    """``pymosh-relay``: an installed pymosh on the bastion, used instead of the sources the
    client sent when it speaks the same relay version (else those sources are run)."""
    line = sys.stdin.readline()
    data = json.loads(line)
    if data["config"].get("version") == RELAY_VERSION:
        remote_main(data["config"])
        return
    module = type(sys)("_pymosh_userdir")
    exec(data["userdir"], module.__dict__)
    sys.modules[module.__name__] = module
    shipped: Dict[str, Any] = {"__name__": "_pymosh_relay"}
    exec(data["relay"], shipped)
    shipped["remote_main"](data["config"])


# The remote command: python3 reads the two module sources and the route from stdin.
LOADER = (
    "import sys,json,types;d=json.loads(sys.stdin.readline());"
    "m=types.ModuleType('_pymosh_userdir');exec(d['userdir'],m.__dict__);"
    "sys.modules[m.__name__]=m;g={'__name__':'_pymosh_relay'};"
    "exec(d['relay'],g);g['remote_main'](d['config'])"
)


def loader_input(config: Dict[str, Any]) -> bytes:
    """The stdin line for ``python3 -c LOADER`` (or ``pymosh-relay``): this module,
    userdir.py, the route."""
    config = dict(config, version=RELAY_VERSION)
    sources = {}
    for name, module in (("relay", sys.modules[__name__]), ("userdir", userdir)):
        with open(module.__file__, encoding="utf-8") as f:  # type: ignore[arg-type]
            sources[name] = f.read()
    return (json.dumps(dict(sources, config=config)) + "\n").encode()


# ------------------------------------------------------------------ the tagger (client side)


class ClientTagger:
    """Between the local client (loopback) and the relay: tags what the client sends,
    passes back what the relay sends. Exits with its parent (the client)."""

    def __init__(self, relay: Addr, key: bytes, family: int) -> None:
        self.relay = relay
        self.family = family
        self.tagger = Tagger(key)
        self.seq = 0
        self.local = socket.socket(family, socket.SOCK_DGRAM)
        self.local.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        self.local.setblocking(False)
        self.client: Addr | None = None
        self.remote = self._new_remote()
        self.old: List[socket.socket] = []
        self.last_heard = self.last_hop = time.monotonic()

    @property
    def local_port(self) -> int:
        return self.local.getsockname()[1]

    def _new_remote(self) -> socket.socket:
        sock = socket.socket(self.family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind(("::" if self.family == socket.AF_INET6 else "0.0.0.0", 0))
        return sock

    def _send(self, inner: bytes) -> None:
        self.seq += 1
        try:
            self.remote.sendto(self.tagger.seal(self.seq, inner), self.relay)
        except OSError:
            pass  # no route right now (roaming): the client retransmits

    def run(self, parent: int) -> None:
        try:
            while os.getppid() == parent:
                socks = [self.local, self.remote, *self.old]
                ready, _, _ = select.select(socks, [], [], 1.0)
                now = time.monotonic()
                for sock in ready:
                    if sock is self.local:
                        self._from_client(now)
                    else:
                        self._from_relay(sock, now)
        finally:
            self._send(b"")  # bye: the relay forgets this route now
            self.close()

    def _from_client(self, now: float) -> None:
        for _ in range(64):
            try:
                datagram, addr = self.local.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            if not datagram:
                continue
            self.client = addr  # the client hops ports too: follow it (loopback only)
            self._send(datagram)
        if now - self.last_heard > HOP_AFTER and now - self.last_hop > HOP_AFTER:
            # like Mosh's client: a new source port escapes a stale NAT mapping
            self.old = (self.old + [self.remote])[-4:]
            self.remote = self._new_remote()
            self.last_hop = now

    def _from_relay(self, sock: socket.socket, now: float) -> None:
        for _ in range(64):
            try:
                datagram = sock.recv(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            if self.client is None:
                continue
            # from any source: a multi-homed bastion may answer from another of its
            # addresses, and the client authenticates every datagram anyway
            self.last_heard = now
            try:
                self.local.sendto(datagram, self.client)
            except OSError:
                pass

    def close(self) -> None:
        for sock in [self.local, self.remote, *self.old]:
            sock.close()


if __name__ == "__main__":
    main()
