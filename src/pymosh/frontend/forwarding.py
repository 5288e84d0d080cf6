"""Socket glue for agent (-A) and port (-L, -R) forwarding over the session's streams.

The frontends' loops call three things per turn: ``filenos()`` (add them to the readers),
``wait_time(now)`` (cap the wait) and ``turn(ready, now)`` (after the datagrams were
received, before ``transport.tick``). Everything stream-related is in the sans-I/O
``Mux`` and carriers; this module only accepts, connects, reads and writes sockets.

Who may open what (a peer cannot make us connect anywhere we did not ask for):

* client → server ``tcp:HOST:PORT`` (the client's -L): the server connects, like sshd;
* server → client ``agent`` (the server's agent socket): only with -A, to the local
  ``SSH_AUTH_SOCK``;
* server → client ``R:SPEC`` (the server's -R listener): only for an -R SPEC this client
  was given, to the host:port in it.
"""

from __future__ import annotations

import errno
import os
import select
import struct

# the stream core (and the protobuf module under it) is imported when a session starts,
# not before pymosh-server's MOSH CONNECT: option parsing and listeners need none of it
TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from typing import Callable, Dict, List, Sequence, Tuple

    from pymosh.network.transport import Transport
    from pymosh.statesync.complete import CompleteTerminal
    from pymosh.statesync.streams import Mux
    from pymosh.statesync.user_stream import UserStream

READ_SIZE = 65536
RETRY_WAIT = 5.0  # ms: re-try blocked writes / pending connects this often


class ForwardError(Exception):
    """A bad forwarding option or a port that cannot be used (one line for the user)."""


class Forward:
    """``[bind:]port:host:hostport``, as ssh's -L/-R. (Plain classes, not NamedTuple:
    this module is imported before MOSH CONNECT, where every millisecond shows.)"""

    __slots__ = ("bind", "port", "host", "hostport", "spec")

    def __init__(self, bind: str, port: int, host: str, hostport: int, spec: str) -> None:
        self.bind, self.port, self.host, self.hostport = bind, port, host, hostport
        self.spec = spec

    def parts(self) -> Tuple[str, int, str, int]:
        return self.bind, self.port, self.host, self.hostport

    @property
    def target(self) -> bytes:
        return f"{self.host}:{self.hostport}".encode()


def _split_spec(spec: str) -> List[str]:
    parts, word, i = [], "", 0
    while i < len(spec):
        ch = spec[i]
        if ch == "[" and not word:
            end = spec.find("]", i)
            if end < 0:
                raise ForwardError(f"bad forwarding specification {spec!r}")
            word, i = spec[i + 1 : end], end + 1
            continue
        if ch == ":":
            parts.append(word)
            word = ""
        else:
            word += ch
        i += 1
    parts.append(word)
    return parts


def _port(text: str, spec: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ForwardError(f"bad port {text!r} in forwarding specification {spec!r}")
    return int(text)


def parse_forward(spec: str) -> Forward:
    parts = _split_spec(spec)
    if len(parts) == 3:
        parts.insert(0, "localhost")
    if len(parts) != 4 or not parts[2]:
        raise ForwardError(
            f"bad forwarding specification {spec!r} (want [bind_address:]port:host:hostport)"
        )
    bind = parts[0] or "localhost"
    return Forward(
        "" if bind == "*" else bind, _port(parts[1], spec), parts[2], _port(parts[3], spec), spec
    )


class ForwardOptions:
    def __init__(self) -> None:
        self.agent = False
        self.local: List[Forward] = []
        self.remote: List[Forward] = []

    def __bool__(self) -> bool:
        return self.agent or bool(self.local) or bool(self.remote)

    def argv(self, local: bool = True) -> List[str]:
        """The options again, for the client (``local``) or the server."""
        words = ["-A"] if self.agent else []
        for fwd in self.local if local else []:
            words += ["-L", fwd.spec]
        for fwd in self.remote:
            words += ["-R", fwd.spec]
        return words


def split_args(argv: Sequence[str]) -> Tuple[ForwardOptions, List[str]]:
    """Take -A, -L SPEC, -R SPEC out of ``argv`` (before any ``--``)."""
    opts, rest = ForwardOptions(), []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            rest += args[i - 1 :]
            break
        if arg == "-A":
            opts.agent = True
        elif arg in ("-L", "-R") or (arg[:2] in ("-L", "-R") and len(arg) > 2):
            if len(arg) > 2:
                value = arg[2:]
            elif i < len(args):
                value, i = args[i], i + 1
            else:
                raise ForwardError(f"option {arg} needs a forwarding specification")
            (opts.local if arg[1] == "L" else opts.remote).append(parse_forward(value))
        else:
            rest.append(arg)
    return opts, rest


def listen_tcp(fwd: Forward, flag: str) -> socket.socket:
    """A listening socket for one forward; ForwardError (one line) if it cannot be had."""
    import socket  # (pymosh-client starts without it)

    try:
        infos = socket.getaddrinfo(
            fwd.bind or None, fwd.port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise ForwardError(f"{flag} {fwd.spec}: {fwd.bind}: {exc.strerror}") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(16)
    except OSError as exc:
        sock.close()
        why = "already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise ForwardError(
            f"{flag} {fwd.spec}: cannot listen on {addr[0]} port {fwd.port}: {why}"
        ) from None
    sock.setblocking(False)
    return sock


def make_agent_socket(directory: str) -> Tuple[socket.socket, str]:
    """A listening unix socket (0600) in the checked private ``directory``."""

    path = os.path.join(directory, f"agent.{os.urandom(6).hex()}.sock")
    if len(path.encode()) > 100:
        raise ForwardError(f"agent socket path too long for a unix socket: {path}")
    try:
        from pymosh.frontend.userdir import private_listener

        sock = private_listener(path, replace=False)
    except OSError as exc:
        raise ForwardError(f"cannot create agent socket {path}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock, path


def _peer_uid(sock: socket.socket) -> int | None:
    import socket  # (pymosh-client starts without it)

    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    return struct.unpack("3i", creds)[1]


class _Conn:
    __slots__ = ("sock", "connecting", "read_eof", "shut_wr")

    def __init__(self, sock: socket.socket, connecting: bool) -> None:
        self.sock = sock
        self.connecting = connecting
        self.read_eof = False
        self.shut_wr = False


class Listener:
    __slots__ = ("sock", "target", "unix")

    def __init__(self, sock: socket.socket, target: bytes, unix: bool = False) -> None:
        self.sock = sock
        self.target = target  # what an accepted connection's stream opens
        self.unix = unix  # check the peer's uid (the agent socket)


class Forwarding:
    """Local sockets <-> a Mux. ``pump(now)`` runs the carrier, ``enabled()`` says
    whether both hellos granted streams; ``connector(target)`` returns a connecting
    socket for a peer's open (or raises ForwardError with the refusal reason)."""

    def __init__(
        self,
        mux: Mux,
        pump: Callable[[float], None],
        enabled: Callable[[], bool],
        connector: Callable[[bytes], Tuple[socket.socket, bool]],
        listeners: Sequence[Listener] = (),
        on_refusal: Callable[[str], None] | None = None,
        receiver: Callable[[bytes], None] | None = None,
        carrier_idle: Callable[[], bool] | None = None,
    ) -> None:
        self.mux = mux
        self.receiver = receiver
        self.carrier_idle = carrier_idle
        self.pump = pump
        self.enabled = enabled
        self.connector = connector
        self.listeners = list(listeners)
        self.on_refusal = on_refusal
        self.conns: Dict[int, _Conn] = {}
        # peer-opened streams whose connect (name lookup included, which can take
        # seconds) runs in a thread: the loop never blocks on it
        self._opening: Dict[int, list] = {}
        self._busy = False

    # ---------------------------------------------------------------- the loop's calls
    def idle(self) -> bool:
        """Nothing open, opening, listening, queued or in flight (``carrier_idle``): the
        loop may skip ``filenos``, ``wait_time`` and ``turn`` (they would find nothing).
        Never idle without a ``carrier_idle``."""
        return (
            not self.conns
            and not self.listeners
            and not self._opening
            and not self._busy
            and self.mux.quiet()
            and self.carrier_idle is not None
            and self.carrier_idle()
        )

    def filenos(self) -> List[int]:
        if not self.listeners and not self.conns or not self.enabled():
            return []  # (nothing to watch: the idle session's turn asks nothing more)
        fds = [lst.sock.fileno() for lst in self.listeners]
        for sid, conn in self.conns.items():
            if not conn.connecting and not conn.read_eof and self.mux.room(sid) > 0:
                fds.append(conn.sock.fileno())
        return fds

    def wait_time(self, now: float) -> float:
        return RETRY_WAIT if self._busy else float("inf")

    def turn(self, ready: set, now: float) -> None:
        if not self.enabled():
            return
        self.pump(now)  # frames in
        if not self.conns and not self._opening and not self.listeners and self.mux.quiet():
            return  # nothing came in, nothing is open: the rest of the turn would do nothing
        self._events()
        self._opened()
        for lst in self.listeners:
            if lst.sock.fileno() in ready:
                self._accept(lst)
        for sid, conn in list(self.conns.items()):
            if conn.connecting:
                self._check_connect(sid, conn)
            elif conn.sock.fileno() in ready:
                self._read(sid, conn)
        self._busy = bool(self._opening)
        for sid, conn in list(self.conns.items()):
            if not conn.connecting:
                self._write(sid, conn)
            else:
                self._busy = True
        self.pump(now)  # frames out
        self._events()

    def receive_frame(self, frame: bytes) -> None:
        """Server: a client→server frame found in the user stream."""
        if self.receiver is not None:
            self.receiver(frame)

    def drop_listeners(self) -> None:
        for lst in self.listeners:
            lst.sock.close()
        self.listeners = []

    def close(self) -> None:
        for conn in self.conns.values():
            conn.sock.close()
        self.conns.clear()
        for box in self._opening.values():
            if box and not isinstance(box[0], ForwardError):
                box[0][0].close()
        self._opening.clear()
        self.drop_listeners()

    # ---------------------------------------------------------------- internals
    def _events(self) -> None:
        for ev in self.mux.take_events():
            if ev.kind == "open":
                box: list = []
                self._opening[ev.sid] = box
                import threading  # (pymosh-client starts faster without it)

                threading.Thread(target=self._connect, args=(ev.info, box), daemon=True).start()
            elif ev.kind in ("reset", "closed"):
                conn = self.conns.pop(ev.sid, None)
                if conn is not None:
                    conn.sock.close()

    def _connect(self, target: bytes, box: list) -> None:
        try:
            box.append(self.connector(target))
        except ForwardError as exc:
            box.append(exc)

    def _opened(self) -> None:
        for sid, box in list(self._opening.items()):
            if not box:
                continue
            del self._opening[sid]
            result = box[0]
            if isinstance(result, ForwardError):
                self.mux.reset(sid, str(result))
                if self.on_refusal is not None:
                    self.on_refusal(str(result))
            elif sid not in self.mux.streams:
                result[0].close()  # reset by the peer meanwhile
            else:
                self.conns[sid] = _Conn(*result)

    def _accept(self, lst: Listener) -> None:
        for _ in range(16):
            try:
                sock, _ = lst.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if lst.unix and _peer_uid(sock) != os.getuid():
                sock.close()  # only this user reaches the agent
                continue
            sid = self.mux.open(lst.target)
            if sid is None:
                sock.close()  # MAX_STREAMS: refuse, like a full backlog
                continue
            sock.setblocking(False)
            self.conns[sid] = _Conn(sock, False)

    def _check_connect(self, sid: int, conn: _Conn) -> None:
        import socket  # (pymosh-client starts without it)

        try:
            _, writable, _ = select.select([], [conn.sock], [], 0)
        except (OSError, ValueError):
            writable = [conn.sock]
        if not writable:
            return
        err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self._fail(sid, f"connect: {os.strerror(err)}")
        else:
            conn.connecting = False

    def _read(self, sid: int, conn: _Conn) -> None:
        room = self.mux.room(sid)
        if room <= 0:
            return
        try:
            data = conn.sock.recv(min(room, READ_SIZE))
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(sid, exc.strerror or "read error")
            return
        if data:
            self.mux.write(sid, data)
        else:
            conn.read_eof = True
            self.mux.finish(sid)

    def _write(self, sid: int, conn: _Conn) -> None:
        import socket  # (pymosh-client starts without it)

        pending = self.mux.pending(sid, READ_SIZE)
        if pending:
            try:
                # MSG_NOSIGNAL: a local peer gone away is this stream's reset, never a
                # SIGPIPE (the client treats that signal as a reason to end the session)
                sent = conn.sock.send(pending, socket.MSG_NOSIGNAL)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._fail(sid, exc.strerror or "write error")
                return
            self.mux.consume(sid, sent)
            if sent < len(pending):
                self._busy = True
        if self.mux.at_eof(sid) and not conn.shut_wr:
            conn.shut_wr = True
            try:
                conn.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _fail(self, sid: int, why: str) -> None:
        self.mux.reset(sid, why)
        conn = self.conns.pop(sid, None)
        if conn is not None:
            conn.sock.close()


def connect_tcp(host: str, port: int) -> Tuple[socket.socket, bool]:
    """A non-blocking TCP connect (the name lookup blocks: Forwarding runs it in a thread)."""
    import socket  # (pymosh-client starts without it)

    try:
        infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ForwardError(f"{host}: {exc.strerror}") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    err = sock.connect_ex(addr)
    if err not in (0, errno.EINPROGRESS):
        sock.close()
        raise ForwardError(f"connect to {host} port {port}: {os.strerror(err)}")
    return sock, err != 0


def connect_unix(path: str) -> Tuple[socket.socket, bool]:
    import socket  # (pymosh-client starts without it)

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise ForwardError(f"cannot reach the local agent: {exc.strerror}") from None
    sock.setblocking(False)
    return sock, False


def parse_tcp_target(target: bytes) -> Tuple[str, int]:
    text = target.decode("utf-8", "replace")
    host, _, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ForwardError(f"bad forwarding target {text!r}")
    return host, int(port)


# -------------------------------------------------------------------- the two sides


def client_forwarding(
    transport: Transport[UserStream, CompleteTerminal],
    opts: ForwardOptions,
    notify: Callable[[str], None],
) -> Forwarding:
    """The client's side: -L listeners (bound now: ForwardError if taken), the local
    agent for -A, the -R targets; ``notify`` says a refusal once (e.g. no agent)."""
    from pymosh.statesync.stream_carrier import ClientCarrier
    from pymosh.statesync.streams import Mux

    mux = Mux(True)
    carrier = ClientCarrier(mux)
    listeners = [Listener(listen_tcp(fwd, "-L"), b"tcp:" + fwd.target) for fwd in opts.local]
    remote = {b"R:" + fwd.spec.encode(): fwd for fwd in opts.remote}
    agent_path = os.environ.get("SSH_AUTH_SOCK") if opts.agent else None
    said: set = set()

    def connector(target: bytes) -> Tuple[socket.socket, bool]:
        if target == b"agent":
            if not opts.agent:
                raise ForwardError("agent forwarding was not requested (-A)")
            if not agent_path:
                raise ForwardError("agent forwarding: no local agent (SSH_AUTH_SOCK is unset)")
            return connect_unix(agent_path)
        fwd = remote.get(target)
        if fwd is None:
            raise ForwardError("refused a forwarding this client did not ask for")
        return connect_tcp(fwd.host, fwd.hostport)

    def once(message: str) -> None:
        if message not in said:
            said.add(message)
            notify(message)

    return Forwarding(
        mux,
        lambda now: carrier.pump(transport, now),
        lambda: carrier.enabled(transport),
        connector,
        listeners,
        once,
    )


class ServerSetup:
    """What pymosh-server prepares before the shell starts: -R listeners (a taken port is
    an error before MOSH CONNECT) and, with -A, the agent socket for SSH_AUTH_SOCK."""

    def __init__(self, opts: ForwardOptions) -> None:
        self.listeners: List[Listener] = []
        self.agent_path: str | None = None
        self.warnings: List[str] = []
        try:
            for fwd in opts.remote:
                self.listeners.append(Listener(listen_tcp(fwd, "-R"), b"R:" + fwd.spec.encode()))
        except ForwardError:
            self.close()
            raise
        if opts.agent:
            from pymosh.frontend.userdir import UserDirError, subdir

            try:
                sock, self.agent_path = make_agent_socket(subdir("agent"))
            except (UserDirError, ForwardError) as exc:
                self.warnings.append(f"agent forwarding disabled: {exc}")
            else:
                self.listeners.append(Listener(sock, b"agent", unix=True))

    def close(self) -> None:
        for lst in self.listeners:
            lst.sock.close()
        if self.agent_path is not None:
            try:
                os.unlink(self.agent_path)
            except OSError:
                pass


def server_forwarding(
    transport: Transport[CompleteTerminal, UserStream],
    terminal: CompleteTerminal,
    listeners: Sequence[Listener],
) -> Forwarding:
    """The server's side: connects the client's -L streams, accepts on ``listeners``.
    Frames from the user stream go to ``receive_frame``."""
    from pymosh.statesync.stream_carrier import ServerCarrier
    from pymosh.statesync.streams import Mux

    mux = Mux(False)
    carrier = ServerCarrier(mux)

    def connector(target: bytes) -> Tuple[socket.socket, bool]:
        if not target.startswith(b"tcp:"):
            raise ForwardError("refused: unknown stream target")
        return connect_tcp(*parse_tcp_target(target[4:]))

    return Forwarding(
        mux,
        lambda now: carrier.pump(terminal, transport, now),
        lambda: carrier.enabled(terminal),
        connector,
        listeners,
        receiver=lambda frame: carrier.receive(terminal, frame),
        carrier_idle=lambda: carrier.idle(terminal),
    )
