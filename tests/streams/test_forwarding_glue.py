"""frontend/forwarding.py: option parsing, listeners, the agent socket's protections,
and the socket glue moving real TCP bytes through two Muxes wired back to back."""

from __future__ import annotations

import errno
import os
import socket
import stat
import threading
import time

import pytest

from pymosh.frontend import wrapper
from pymosh.frontend.forwarding import (
    ForwardError,
    Forwarding,
    Listener,
    connect_tcp,
    listen_tcp,
    make_agent_socket,
    parse_forward,
    parse_tcp_target,
    split_args,
)
from pymosh.statesync.streams import Mux


def test_parse_forward_like_ssh():
    assert parse_forward("8080:db:5432").parts() == ("localhost", 8080, "db", 5432)
    assert parse_forward("0.0.0.0:1:h:2").parts() == ("0.0.0.0", 1, "h", 2)
    assert parse_forward("*:1:h:2").bind == ""
    assert parse_forward("[::1]:8080:[fe80::1]:80").parts() == ("::1", 8080, "fe80::1", 80)
    for bad in ("8080", "8080:h", "x:h:1", "1:h:0", "1:h:70000", "1::2", "a:b:c:d:e", "[::1:1:h:2"):
        with pytest.raises(ForwardError):
            parse_forward(bad)


def test_split_args_takes_only_forwarding_options():
    opts, rest = split_args(
        ["-A", "-L", "1:h:2", "-R3:h:4", "new", "-c", "8", "--", "ssh", "-A", "-L", "x"]
    )
    assert opts.agent and [f.spec for f in opts.local] == ["1:h:2"]
    assert [f.spec for f in opts.remote] == ["3:h:4"]
    assert rest == ["new", "-c", "8", "--", "ssh", "-A", "-L", "x"]
    assert opts.argv() == ["-A", "-L", "1:h:2", "-R", "3:h:4"]
    assert opts.argv(local=False) == ["-A", "-R", "3:h:4"]
    with pytest.raises(ForwardError):
        split_args(["-L"])


def test_wrapper_passes_forwarding_to_each_side():
    args = wrapper.build_parser().parse_args(
        ["-A", "-L", "8080:h:80", "-R", "9000:localhost:22", "-R", "9001:h:1", "host"]
    )
    words = wrapper.server_arguments(args, 8, None, {})
    assert words[:9] == ["new", "-c", "8", "-A", "-R", "9000:localhost:22", "-R", "9001:h:1", "-s"]
    assert "-L" not in words
    stock = wrapper.build_parser().parse_args(["--server=mosh-server", "-A", "host"])
    with pytest.raises(wrapper.WrapperError, match="need pymosh-server and pymosh-client"):
        wrapper.check_forwarding(stock)
    plain = wrapper.build_parser().parse_args(["host"])
    assert not wrapper.check_forwarding(plain)


def test_taken_port_is_a_one_line_error():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(ForwardError) as err:
            listen_tcp(parse_forward(f"127.0.0.1:{port}:h:1"), "-L")
    assert str(err.value) == (
        f"-L 127.0.0.1:{port}:h:1: cannot listen on 127.0.0.1 port {port}: already in use"
    )


def test_targets():
    assert parse_tcp_target(b"[::1]:22") == ("::1", 22)
    for bad in (b"nohost", b":22", b"h:0", b"h:x"):
        with pytest.raises(ForwardError):
            parse_tcp_target(bad)
    with socket.create_server(("127.0.0.1", 0)) as free:
        port = free.getsockname()[1]
    try:
        sock, _ = connect_tcp("127.0.0.1", port)
    except ForwardError as exc:  # a loopback refusal may be immediate ...
        assert "refused" in str(exc)
    else:  # ... or reported by the pending connect
        time.sleep(0.1)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ECONNREFUSED
        sock.close()


def test_agent_socket_is_private_and_refuses_other_users(tmp_path):
    directory = tmp_path / "agent"
    directory.mkdir(mode=0o700)
    sock, path = make_agent_socket(str(directory))
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        if os.geteuid() != 0:
            return
        # a world-reachable copy of the listener, so another uid can even try
        os.chmod(directory, 0o755)
        os.chmod(path, 0o777)
        mux = Mux(False)
        fw = Forwarding(
            mux, lambda now: None, lambda: True, _no_connect, [Listener(sock, b"agent", unix=True)]
        )
        pid = os.fork()
        if pid == 0:  # the other user
            try:
                os.setgid(65534)
                os.setuid(65534)
                other = socket.socket(socket.AF_UNIX)
                other.connect(path)
                other.recv(1)
            finally:
                os._exit(0)
        time.sleep(0.3)
        fw.turn({sock.fileno()}, 0)
        os.waitpid(pid, 0)
        assert not mux.streams and not fw.conns  # closed, no stream opened
        mine = socket.socket(socket.AF_UNIX)
        mine.connect(path)
        fw.turn({sock.fileno()}, 0)
        assert len(mux.streams) == 1  # the user's own connection goes on
        mine.close()
        fw.close()
    finally:
        sock.close()


def _no_connect(target: bytes):
    raise ForwardError("no")


class Pair:
    """A client and a server Forwarding whose muxes exchange frames directly."""

    def __init__(self, local_spec: str) -> None:
        self.cmux, self.smux = Mux(True), Mux(False)
        fwd = parse_forward(local_spec)
        self.listener = listen_tcp(fwd, "-L")

        def shuttle(now: float) -> None:
            for frame in self.cmux.take_frames(1 << 20):
                self.smux.receive(frame)
            for frame in self.smux.take_frames(1 << 20):
                self.cmux.receive(frame)

        def server_connect(target: bytes):
            return connect_tcp(*parse_tcp_target(target[4:]))

        self.client = Forwarding(
            self.cmux,
            shuttle,
            lambda: True,
            _no_connect,
            [Listener(self.listener, b"tcp:" + fwd.target)],
        )
        self.server = Forwarding(self.smux, shuttle, lambda: True, server_connect)

    def spin(self, seconds: float) -> None:
        import selectors

        end = time.monotonic() + seconds
        with selectors.DefaultSelector() as sel:
            while time.monotonic() < end:
                fds = {fd: side for side in (self.client, self.server) for fd in side.filenos()}
                for fd in fds:
                    sel.register(fd, selectors.EVENT_READ)
                ready = {key.fd for key, _ in sel.select(0.005)}
                for fd in fds:
                    sel.unregister(fd)
                self.client.turn(ready, 0)
                self.server.turn(ready, 0)


def test_local_forward_glue_moves_bytes_both_ways_and_closes():
    service = socket.create_server(("127.0.0.1", 0))
    got = bytearray()
    up = os.urandom(700_000)

    def serve() -> None:
        conn, _ = service.accept()
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                got.extend(data)
            conn.sendall(b"thanks:" + str(len(got)).encode())

    threading.Thread(target=serve, daemon=True).start()
    lport = socket.create_server(("127.0.0.1", 0))
    port = lport.getsockname()[1]
    lport.close()
    pair = Pair(f"{port}:127.0.0.1:{service.getsockname()[1]}")
    user = socket.create_connection(("127.0.0.1", port))
    answer = bytearray()

    def talk() -> None:
        user.sendall(up)
        user.shutdown(socket.SHUT_WR)
        while True:
            data = user.recv(65536)
            if not data:
                break
            answer.extend(data)

    thread = threading.Thread(target=talk, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while thread.is_alive() and time.monotonic() < deadline:
        pair.spin(0.05)
    assert bytes(got) == up
    assert bytes(answer) == b"thanks:700000"
    pair.spin(0.1)
    assert not pair.cmux.streams and not pair.smux.streams  # both halves closed
    assert not pair.client.conns and not pair.server.conns
    user.close()
    pair.client.close()
    pair.server.close()
    service.close()


def test_refused_target_resets_the_local_connection():
    with socket.create_server(("127.0.0.1", 0)) as free:
        dead = free.getsockname()[1]
    lport = socket.create_server(("127.0.0.1", 0))
    port = lport.getsockname()[1]
    lport.close()
    pair = Pair(f"{port}:127.0.0.1:{dead}")
    user = socket.create_connection(("127.0.0.1", port))
    user.settimeout(5)
    pair.spin(0.3)
    assert user.recv(10) == b""  # closed, not hanging
    assert not pair.cmux.streams and not pair.smux.streams
    user.close()
    pair.client.close()
    pair.server.close()


def test_local_peer_gone_is_a_reset_not_sigpipe():
    """The client watches SIGPIPE (it ends the session): writing to a forwarded socket
    whose peer went away must reset that stream only."""
    import signal

    from pymosh.frontend.forwarding import _Conn
    from pymosh.statesync.streams import DATA, OPEN, _frame

    mux = Mux(True)
    fw = Forwarding(mux, lambda now: None, lambda: True, _no_connect)
    mux.receive(_frame(OPEN, 1, b"agent"))
    mux.take_events()
    mux.receive(_frame(DATA, 1, b"for a reader that left"))
    ours, theirs = socket.socketpair()
    theirs.close()
    fw.conns[1] = _Conn(ours, False)
    pipes: list[int] = []
    previous = signal.signal(signal.SIGPIPE, lambda signum, frame: pipes.append(signum))
    try:
        fw.turn(set(), 0)
    finally:
        signal.signal(signal.SIGPIPE, previous)
    assert pipes == []
    assert not mux.streams and not fw.conns
    assert mux.take_frames(1000)[0][0] == 5  # RESET to the peer


def test_a_slow_connect_never_blocks_the_loop():
    """A peer's open whose connect takes long (a name lookup) runs beside the loop."""
    from pymosh.statesync.streams import DATA, OPEN, _frame

    release = threading.Event()
    ours, theirs = socket.socketpair()

    def slow(target: bytes):
        release.wait(10)
        return ours, False

    mux = Mux(True)
    fw = Forwarding(mux, lambda now: None, lambda: True, slow)
    mux.receive(_frame(OPEN, 1, b"tcp:somewhere.example:22"))
    mux.receive(_frame(DATA, 1, b"early bytes"))
    t0 = time.monotonic()
    fw.turn(set(), 0)
    assert time.monotonic() - t0 < 0.5 and not fw.conns
    assert fw.wait_time(0) < 10  # the loop comes back to look
    release.set()
    deadline = time.monotonic() + 5
    while not fw.conns and time.monotonic() < deadline:
        fw.turn(set(), 0)
        time.sleep(0.01)
    assert theirs.recv(100) == b"early bytes"
    fw.close()
    theirs.close()
