"""The server's and the client's UDP sockets (protocol.md §3.3–3.6): datagram channels.

No event loop and no protocol logic here: both implement
`pymosh.network.endpoint.DatagramChannel` (and the client `HoppingChannel`); the
`Endpoint` feeds what `recv_all()` returns to the transport and sends what it ticks.
Errors from `sendto` are returned (not raised): Mosh does not retry, it shows the text
as a network-error notification; EMSGSIZE means "use the 500-byte MTU".
"""

from __future__ import annotations

import fcntl
import sys
import termios

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from typing import Callable, List, Tuple

    from pymosh.network.connection import Addr, Received
else:
    # what socket.py wraps: its sockets, functions and constants without the enum classes
    # (enum, selectors) that cost pymosh-client start-up; only datagram sockets here
    import _socket as socket

PORT_RANGE_LOW = 60001
PORT_RANGE_HIGH = 60999
RECEIVE_MTU = 2048
MAX_PORTS_OPEN = 10
MAX_OLD_SOCKET_AGE = 60000
RECV_BATCH = 64  # datagrams taken per socket per call (bounded work)

ECT0 = 0x02
ECN_MASK = 0x03
ECN_CE = 0x03


class PortRangeError(ValueError):
    """A port specification that is not PORT or LOW:HIGH within 0..65535."""


def parse_port_range(spec: str) -> Tuple[int, int]:
    """`-p` values (§3.4): ``"60001"`` -> (60001, 60001); ``"60001:60010"`` -> (60001, 60010).

    ``"0"`` alone means "let the OS choose"; in a range the low end must be at least 1
    and not above the high end. Raises :class:`PortRangeError` saying what is wrong.
    """
    import re  # (not on pymosh-client's start-up path)

    match = re.match(r"^(\d+)(?::(\d+))?$", spec)
    if not match:
        raise PortRangeError(f"Bad UDP port range ({spec!r}): expected PORT or LOW:HIGH")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) is not None else low
    if low > 65535 or high > 65535:
        raise PortRangeError(f"Bad UDP port range ({spec!r}): ports go up to 65535")
    if match.group(2) is not None and (low < 1 or low > high):
        raise PortRangeError(f"Bad UDP port range ({spec!r}): need 1 <= LOW <= HIGH")
    return low, high


def _configure(sock: socket.socket, family: int) -> None:
    sock.setblocking(False)
    if family == socket.AF_INET:
        if sys.platform.startswith("linux"):
            # IP_MTU_DISCOVER = IP_PMTUDISC_DONT: let the kernel fragment, no DF bit
            sock.setsockopt(
                socket.IPPROTO_IP,
                getattr(socket, "IP_MTU_DISCOVER", 10),
                getattr(socket, "IP_PMTUDISC_DONT", 0),
            )
        _try(sock.setsockopt, socket.IPPROTO_IP, socket.IP_TOS, ECT0)
        _try(sock.setsockopt, socket.IPPROTO_IP, getattr(socket, "IP_RECVTOS", 13), 1)
    elif family == socket.AF_INET6:
        _try(sock.setsockopt, socket.IPPROTO_IPV6, getattr(socket, "IPV6_TCLASS", 67), ECT0)
        _try(sock.setsockopt, socket.IPPROTO_IPV6, getattr(socket, "IPV6_RECVTCLASS", 66), 1)


def _try(fn: Callable[..., object], *args: object) -> None:
    try:
        fn(*args)
    except OSError:
        pass


_CMSG_SPACE = socket.CMSG_SPACE(4)


def _congested(ancdata: list) -> bool:
    for level, kind, data in ancdata:
        if data and (
            (level == socket.IPPROTO_IP and kind == socket.IP_TOS)
            or (level == socket.IPPROTO_IPV6 and kind == getattr(socket, "IPV6_TCLASS", 67))
        ):
            return (data[0] & ECN_MASK) == ECN_CE
    return False


def _recv_some(sock: socket.socket, limit: int = RECV_BATCH) -> List[Received]:
    out: List[Received] = []
    for _ in range(limit):
        try:
            data, ancdata, flags, addr = sock.recvmsg(RECEIVE_MTU + 1, _CMSG_SPACE)
        except (BlockingIOError, InterruptedError):
            break
        except OSError:
            # e.g. ECONNREFUSED from an earlier ICMP error: skip it, keep reading
            continue
        # a datagram over RECEIVE_MTU is truncated (MSG_TRUNC): hand it on at its
        # oversize length so the datagram layer drops and counts it
        out.append((data, addr, _congested(ancdata)))
        if len(out) == 1 and not _more_waiting(sock):
            break  # the usual single datagram; a burst is read until EAGAIN
    return out


_NOTHING = bytes(4)


def _more_waiting(sock: socket.socket) -> bool:
    """Whether another datagram is queued (FIONREAD: the next one's size), asked after the
    first datagram instead of a recvmsg that fails with EAGAIN: raising that error costs
    an idle session's wake-up more than the rest of its receive. A zero-length datagram
    reads as none: the still readable socket wakes the next turn for it."""
    try:
        return fcntl.ioctl(sock.fileno(), termios.FIONREAD, _NOTHING) != _NOTHING
    except OSError:
        return True  # ask recvmsg


def _send(sock: socket.socket, datagram: bytes, addr: Addr) -> OSError | None:
    try:
        sock.sendto(datagram, socket.MSG_DONTWAIT, addr)
    except OSError as exc:
        return exc
    return None


class ServerSocket:
    """The server's one socket, bound per §3.4 (first free port of the range, upwards)."""

    def __init__(self, ip: str | None = None, port_spec: str | None = None) -> None:
        low, high = (
            (PORT_RANGE_LOW, PORT_RANGE_HIGH) if port_spec is None else parse_port_range(port_spec)
        )
        self.messages: List[str] = []  # bind failures worth showing (Mosh prints them)
        self._last_error: OSError | None = None
        sock = None
        if ip is not None:
            if ip.startswith("::ffff:"):
                ip = ip[len("::ffff:") :]
            sock = self._bind_range(ip, low, high)
            if sock is None:
                self.messages.append(f"Error binding to IP {ip}: falling back to any address")
        if sock is None:
            sock = self._bind_range(None, low, high)
        if sock is None:
            why = self._last_error.strerror if self._last_error is not None else None
            raise OSError(
                f"could not bind a UDP port in {low}:{high}" + (f" ({why})" if why else "")
            )
        self.sock = sock
        self.family = sock.family
        self.address = sock.getsockname()
        self.port: int = self.address[1]

    def _bind_range(self, ip: str | None, low: int, high: int) -> socket.socket | None:
        try:
            infos = socket.getaddrinfo(
                ip,
                0,
                socket.AF_UNSPEC,
                socket.SOCK_DGRAM,
                0,
                socket.AI_PASSIVE | (socket.AI_NUMERICHOST if ip else 0),
            )
        except socket.gaierror as exc:
            self.messages.append(f"Bad IP address ({ip}): {exc}")
            return None
        family, _, _, _, sockaddr = infos[0]
        for port in range(low, high + 1):
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                if family == socket.AF_INET6:
                    _try(sock.setsockopt, socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                _configure(sock, family)
                sock.bind((sockaddr[0], port) + tuple(sockaddr[2:]))
                return sock
            except OSError as exc:
                sock.close()
                self._last_error = exc
                if low == high:
                    self.messages.append(f"Failed binding to {sockaddr[0]}:{port}: {exc}")
        return None

    def filenos(self) -> List[int]:
        return [self.sock.fileno()]

    def send(self, datagram: bytes, addr: Addr) -> OSError | None:
        # (_send's body: one Python call less on an idle server's every wake-up)
        try:
            self.sock.sendto(datagram, socket.MSG_DONTWAIT, addr)
        except OSError as exc:
            return exc
        return None

    def recv_all(self, now: float = 0) -> List[Received]:
        """One datagram (or none): the server's socket is watched level-triggered, so the
        event loop wakes again at once for the next one. Client datagrams rarely come in
        bursts, and asking whether another is queued (a syscall) cost an idle server's
        every wake-up more than the extra turn of a burst's every datagram. (`_recv_some`
        for one datagram, without its loop: one Python call less per wake-up.)"""
        try:
            data, ancdata, _, addr = self.sock.recvmsg(RECEIVE_MTU + 1, _CMSG_SPACE)
        except OSError:  # none waiting, or e.g. ECONNREFUSED from an earlier ICMP error
            return []
        return [(data, addr, _congested(ancdata))]

    def close(self) -> None:
        self.sock.close()


class ClientSocket:
    """The client's sockets: sends from the newest, receives on all (port hopping, §3.6)."""

    def __init__(self, server_addr: Addr, now: float = 0) -> None:
        host = server_addr[0]
        infos = socket.getaddrinfo(
            # as bytes: a str host loads the idna codec (~1 ms of the client's start-up)
            host.encode() if isinstance(host, str) and host.isascii() else host,
            server_addr[1],
            socket.AF_UNSPEC,
            socket.SOCK_DGRAM,
            0,
            socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
        )
        self.family = infos[0][0]
        self.server_addr = infos[0][4]
        self.sockets: List[Tuple[socket.socket, float]] = []
        self._open(now)

    def _open(self, now: float) -> None:
        sock = socket.socket(self.family, socket.SOCK_DGRAM)
        try:
            _configure(sock, self.family)
            # bind now so the new source port exists (and receives) before the first send
            sock.bind(("::" if self.family == socket.AF_INET6 else "0.0.0.0", 0))
        except OSError:
            sock.close()
            raise
        self.sockets.append((sock, now))

    @property
    def local_port(self) -> int:
        return self.sockets[-1][0].getsockname()[1]

    def hop(self, now: float) -> None:
        """Open a new source port for later sends; keep the old ones for receiving."""
        self._open(now)
        self.prune(now)

    def prune(self, now: float) -> None:
        if len(self.sockets) > 1 and now - self.sockets[-1][1] > MAX_OLD_SOCKET_AGE:
            for sock, _ in self.sockets[:-1]:
                sock.close()
            del self.sockets[:-1]
        while len(self.sockets) > MAX_PORTS_OPEN:
            self.sockets.pop(0)[0].close()

    def filenos(self) -> List[int]:
        return [s.fileno() for s, _ in self.sockets]

    def send(self, datagram: bytes, addr: Addr) -> OSError | None:
        return _send(self.sockets[-1][0], datagram, addr)

    def recv_all(self, now: float = 0) -> List[Received]:
        out: List[Received] = []
        for sock, _ in self.sockets:
            out.extend(_recv_some(sock))
        if out:
            self.prune(now)
        return out

    def close(self) -> None:
        for sock, _ in self.sockets:
            sock.close()
        self.sockets.clear()
