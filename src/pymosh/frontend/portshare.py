"""One UDP port for every session of a user (issue #16): the port owner and the session's
channel to it.

The owner is a small per-user process listening on ``ports/<P>.sock`` (a SOCK_SEQPACKET
unix socket in the private state directory). It alone reads UDP port P and hands each
datagram to the session whose key authenticates it (:class:`pymosh.network.portroute.
Router`), together with the source address. Sessions stay separate pymosh-server
processes with their own ptys; each registers over the unix socket (same uid only,
SO_PEERCRED, checked both ways) and receives a dup of the UDP socket (SCM_RIGHTS) on
which it sends directly. So the socket outlives the owner: if the owner dies, a session
(whichever takes ``ports/<P>.lock`` first) starts a new owner on its own dup, and the
others register again. The owner exits, closing the port, once no session is left.

Messages (one per seqpacket): session -> owner ``K`` + 16-byte key (the first registers,
later ones re-key: the old key is refused from then on); owner -> session ``F`` with the
UDP fd (the answer to registration), ``D`` + ECN-CE byte + address + datagram.
"""

from __future__ import annotations

import array
import fcntl
import os
import select
import selectors
import socket
import struct
import sys
import time
from typing import Any, Dict, List

from pymosh.frontend.userdir import private_listener
from pymosh.network.portroute import Router
from pymosh.network.udp import RECEIVE_MTU, ServerSocket, _recv_some, _send

JOIN_TIMEOUT = 10.0  # s to take the lock, start an owner and register
RECOVER_TIMEOUT = 5.0  # s a session spends re-registering after its owner died
RETRY_DEGRADED = 1.0  # s between recovery attempts once degraded
BIND_RETRY = 1.5  # s a joiner retries a port a leaving session still holds
IDLE_CHECK = 0.2  # s between the owner's "anyone left?" checks
MAX_SESSIONS = 1024  # per port owner: bounded memory
MSG_MAX = RECEIVE_MTU + 64
_CREDS = struct.Struct("3i")
_V4 = struct.Struct("!4sH")
_V6 = struct.Struct("!16sHII")


class PortShareError(OSError):
    """Sharing the port failed; the message is one line for the user."""


# ------------------------------------------------------------------ wire helpers


def encode_addr(addr: Any) -> bytes:
    host = addr[0].split("%", 1)[0]
    if len(addr) == 2:
        return b"4" + _V4.pack(socket.inet_pton(socket.AF_INET, host), addr[1])
    return b"6" + _V6.pack(socket.inet_pton(socket.AF_INET6, host), addr[1], addr[2], addr[3])


def decode_addr(data: bytes) -> tuple[Any, int]:
    """(address, bytes used); ValueError on a malformed address."""
    if data[:1] == b"4":
        ip, port = _V4.unpack_from(data, 1)
        return (socket.inet_ntop(socket.AF_INET, ip), port), 1 + _V4.size
    if data[:1] == b"6":
        ip, port, flow, scope = _V6.unpack_from(data, 1)
        return (socket.inet_ntop(socket.AF_INET6, ip), port, flow, scope), 1 + _V6.size
    raise ValueError("bad address tag")


def peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDS.size)
    return _CREDS.unpack(creds)[1]


def paths(directory: str, port: int) -> tuple[str, str]:
    return os.path.join(directory, f"{port}.sock"), os.path.join(directory, f"{port}.lock")


class _Lock:
    """``ports/<P>.lock``: whoever holds it may start an owner or join one."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)

    def try_acquire(self) -> bool:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def acquire(self, deadline: float) -> bool:
        while not self.try_acquire():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        os.close(self.fd)  # also releases the lock


# ------------------------------------------------------------------ the owner


class PortOwner:
    """The owner's loop: accept sessions, route datagrams, exit when the last one left."""

    def __init__(self, directory: str, port: int, udp: socket.socket) -> None:
        self.sock_path, lock_path = paths(directory, port)
        self.lock = _Lock(lock_path)
        self.udp = udp
        udp.setblocking(False)
        self.router = Router()
        self.conns: Dict[int, socket.socket] = {}
        self.uid = os.geteuid()
        # (a dead owner's socket goes: we are started under the lock)
        self.listener = private_listener(self.sock_path, socket.SOCK_SEQPACKET, backlog=64)
        self.listener.setblocking(False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.listener, selectors.EVENT_READ, "accept")
        self.sel.register(udp, selectors.EVENT_READ, "udp")

    def run(self) -> None:
        try:
            while True:
                idle = not self.conns
                for key, _ in self.sel.select(IDLE_CHECK if idle else None):
                    if key.data == "udp":
                        self._route_datagrams()
                    elif key.data == "accept":
                        self._accept()
                    else:
                        self._from_session(key.data)
                if not self.conns and self.lock.try_acquire():
                    # nobody is joining (joiners hold the lock until registered): close
                    # the port before letting the next joiner bind it
                    return
        finally:
            self.udp.close()
            try:
                os.unlink(self.sock_path)
            except OSError:
                pass
            self.listener.close()
            self.lock.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if peer_uid(conn) != self.uid or len(self.conns) >= MAX_SESSIONS:
                conn.close()
                continue
            conn.setblocking(False)
            self.conns[conn.fileno()] = conn
            self.sel.register(conn, selectors.EVENT_READ, conn.fileno())

    def _drop(self, fd: int) -> None:
        conn = self.conns.pop(fd, None)
        if conn is not None:
            self.sel.unregister(conn)
            conn.close()
        self.router.remove(fd)

    def _from_session(self, fd: int) -> None:
        conn = self.conns[fd]
        try:
            msg = conn.recv(64)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            msg = b""
        if len(msg) != 17 or msg[:1] != b"K":
            self._drop(fd)  # gone, or not speaking our protocol
            return
        fresh = fd not in self.router
        self.router.add(fd, msg[1:])
        if fresh:
            fds = array.array("i", [self.udp.fileno()])
            try:
                conn.sendmsg([b"F"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
            except OSError:
                self._drop(fd)

    def _route_datagrams(self) -> None:
        router, conns = self.router, self.conns
        for datagram, addr, congested in _recv_some(self.udp):
            sid = router.route(datagram, addr)
            if not isinstance(sid, int):  # None: nobody's (session ids are conn fds)
                continue
            try:
                conns[sid].send(
                    b"D" + (b"\1" if congested else b"\0") + encode_addr(addr) + datagram,
                    socket.MSG_DONTWAIT,
                )
            except (BlockingIOError, InterruptedError):
                pass  # that session is not reading: drop, like a full socket
            except OSError:
                self._drop(sid)


def spawn_owner(directory: str, port: int, udp_fd: int, timeout: float) -> None:
    """Start a detached owner on ``udp_fd`` (a double fork, so nobody has to reap it) and
    wait until it listens. The caller holds the port's lock."""
    import pymosh

    package_root = os.path.dirname(os.path.dirname(os.path.abspath(pymosh.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only execs
        try:
            os.setsid()
            os.chdir("/")
            if os.fork():
                os._exit(0)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.set_inheritable(udp_fd, True)
            os.set_inheritable(ready_w, True)
            os.execve(
                sys.executable,
                [
                    sys.executable,
                    "-m",
                    "pymosh.frontend.portshare",
                    "owner",
                    directory,
                    str(port),
                    str(udp_fd),
                    str(ready_w),
                ],
                env,
            )
        finally:
            os._exit(127)
    os.close(ready_w)
    try:
        os.waitpid(pid, 0)
        readable, _, _ = select.select([ready_r], [], [], timeout)
        if not readable or os.read(ready_r, 1) != b"R":
            raise PortShareError(f"the owner of UDP port {port} did not start")
    finally:
        os.close(ready_r)


def owner_main(argv: List[str]) -> int:
    directory, port, udp_fd, ready_fd = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_SESSIONS + 64 if hard == resource.RLIM_INFINITY else min(hard, MAX_SESSIONS + 64)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))  # one fd per session
    udp = socket.socket(fileno=udp_fd)
    owner = PortOwner(directory, port, udp)
    os.write(ready_fd, b"R")
    os.close(ready_fd)
    owner.run()
    return 0


# ------------------------------------------------------------------ the session's side


class SharedPortChannel:
    """A session's datagram channel on a shared port: receives what the owner routes to
    it, sends on its own dup of the UDP socket."""

    def __init__(
        self, directory: str, port: int, key: bytes, conn: socket.socket, udp: socket.socket
    ) -> None:
        self.directory = directory
        self.port = port
        self._key = key
        self.conn: socket.socket | None = conn
        self.udp = udp
        self.family = udp.family
        self.address = udp.getsockname()
        self.messages: List[str] = []
        self._retry_at = 0.0

    # the channel interface (network/endpoint.py)

    def filenos(self) -> List[int]:
        # degraded (no owner could be restarted): read the UDP socket ourselves
        return [self.conn.fileno()] if self.conn is not None else [self.udp.fileno()]

    def send(self, datagram: bytes, addr: Any) -> OSError | None:
        return _send(self.udp, datagram, addr)

    def recv_all(self, now: float = 0) -> List[tuple[bytes, Any, bool]]:
        if self.conn is None:
            if time.monotonic() >= self._retry_at and self._recover(0.0):
                return []
            self._retry_at = time.monotonic() + RETRY_DEGRADED
            return _recv_some(self.udp)
        out = []
        for _ in range(64):
            try:
                msg = self.conn.recv(MSG_MAX)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                msg = b""
            if not msg:  # the owner died: take the port over, or rejoin
                self._owner_lost()
                break
            if msg[:1] != b"D":
                continue
            try:
                addr, used = decode_addr(msg[2:])
            except (ValueError, struct.error, OSError):
                continue
            out.append((msg[2 + used :], addr, msg[1] == 1))
        return out

    def rekey(self, key: bytes) -> None:
        """The session has a new key (a resume): the owner routes it and refuses the old."""
        self._key = key
        if self.conn is not None:
            try:
                self.conn.send(b"K" + key)
            except OSError:
                pass  # the owner is gone; re-registration sends the new key

    def close(self) -> None:
        # the UDP dup first: once the owner sees us gone, the port must be free of us
        self.udp.close()
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # recovery

    def _owner_lost(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if not self._recover(RECOVER_TIMEOUT):
            self._retry_at = time.monotonic() + RETRY_DEGRADED

    def _recover(self, timeout: float) -> bool:
        sock_path, lock_path = paths(self.directory, self.port)
        lock = _Lock(lock_path)
        try:
            if not lock.acquire(time.monotonic() + timeout):
                return False
            conn = _connect(sock_path)
            if conn is None:
                spawn_owner(self.directory, self.port, self.udp.fileno(), RECOVER_TIMEOUT)
                conn = _connect(sock_path)
                if conn is None:
                    return False
            udp = _register(conn, self._key)
            udp.close()  # the same socket as ours
            self.conn = conn
            return True
        except OSError:
            return False
        finally:
            lock.close()


def _connect(path: str) -> socket.socket | None:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        conn.connect(path)
    except (FileNotFoundError, ConnectionRefusedError):
        conn.close()
        return None
    except OSError:
        conn.close()
        raise
    if peer_uid(conn) != os.geteuid():
        conn.close()
        raise PortShareError(f"{path} belongs to another user")
    return conn


def _register(conn: socket.socket, key: bytes, timeout: float = 5.0) -> socket.socket:
    """Send our key; return the owner's UDP socket (a dup). The conn is left non-blocking."""
    conn.settimeout(timeout)
    try:
        conn.send(b"K" + key)
        msg, ancdata, _, _ = conn.recvmsg(16, socket.CMSG_SPACE(4))
    except OSError as exc:
        raise PortShareError(f"the port owner did not answer ({exc})") from None
    fds = array.array("i")
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    if msg != b"F" or len(fds) != 1:
        for fd in fds:
            os.close(fd)
        raise PortShareError("the port owner refused the session")
    conn.setblocking(False)
    os.set_inheritable(fds[0], False)  # the session's shell must not keep the port open
    udp = socket.socket(fileno=fds[0])
    udp.setblocking(False)
    return udp


def join(
    port: int, key: bytes, ip: str | None = None, directory: str | None = None
) -> SharedPortChannel:
    """Join UDP ``port``'s owner, starting one (bound to ``ip``/any) if there is none."""
    if directory is None:
        from pymosh.frontend.userdir import UserDirError, subdir

        try:
            directory = subdir("ports")
        except UserDirError as exc:
            raise PortShareError(str(exc)) from None
    sock_path, lock_path = paths(directory, port)
    deadline = time.monotonic() + JOIN_TIMEOUT
    lock = _Lock(lock_path)
    try:
        if not lock.acquire(deadline):
            raise PortShareError(f"UDP port {port}: timed out waiting for {lock_path}")
        conn = _connect(sock_path)
        if conn is None:
            bound = _bind(ip, port, min(deadline, time.monotonic() + BIND_RETRY))
            try:
                spawn_owner(
                    directory, port, bound.sock.fileno(), max(deadline - time.monotonic(), 1)
                )
            finally:
                bound.close()
            conn = _connect(sock_path)
            if conn is None:
                raise PortShareError(f"the owner of UDP port {port} is not listening")
        try:
            udp = _register(conn, key)
        except OSError:
            conn.close()
            raise
        channel = SharedPortChannel(directory, port, key, conn, udp)
        return channel
    finally:
        lock.close()


def _bind(ip: str | None, port: int, deadline: float) -> ServerSocket:
    """Bind the port; a session that just left may hold it a moment longer (retry)."""
    while True:
        try:
            return ServerSocket(ip, str(port))
        except OSError as exc:
            if "in use" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "owner":
        sys.exit(owner_main(sys.argv[2:]))
    sys.stderr.write("pymosh-portshare: internal program, started by pymosh-server\n")
    sys.exit(2)


if __name__ == "__main__":
    main()
