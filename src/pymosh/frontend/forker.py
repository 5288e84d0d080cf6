"""The per-user session forker: ``python -m pymosh.frontend.forker`` (started by a session).

One process per user (``<state dir>/forker.lock`` held for its lifetime) that has already
paid for CPython's start-up and the session's imports. It listens on
``<state dir>/forker.sock`` (0600, peers of another uid refused by SO_PEERCRED) for requests
from ``pymosh-server new`` (`handoff.py`, or the C launcher that sends the same bytes). One
process per request, forked before the request comes (the spare, waiting on the listener,
so that no fork is in the asker's wait), becomes the asker — its stdin/stdout/stderr,
environment, working directory, umask and resource limits — and then runs the ordinary
start-up, `server.run(argv)`: options, the ``-l`` locale, the UDP socket, a key generated
there and then (after the request), ``MOSH CONNECT``, and the detach fork, after which the
session is exactly a directly started one.
Mosh's process model holds: every session is its own process (a crash ends that session
only), each shell on its own pty as the user; forked sessions share the forker's pages.

A session that was started without a forker starts one for next time (`spawn`).
"""

from __future__ import annotations

import codecs
import errno
import fcntl
import gc
import os
import resource
import select
import signal
import socket
import struct
import sys
import time
from typing import Mapping

from pymosh.frontend import procenv
from pymosh.frontend.handoff import FALLBACK, MAX_REQUEST, SOCKET_NAME, parse_request, peer_uid
from pymosh.frontend.userdir import UserDirError, private_listener, state_dir

LOCK_NAME = "forker.lock"
REQUEST_TIMEOUT = 5.0  # s a connected asker has to send its request
CHECK_INTERVAL = 60.0  # s between checks that our socket is still the one in place
IDLE_EXIT = 3600.0  # s without a request after which the forker leaves (the next
# session starts in-process and starts a new one)


class VersionMismatch(Exception):
    """The asker is another pymosh version: it starts in-process, we make way."""


class Request:
    def __init__(self, body: dict, fds: list[int]) -> None:
        self.argv: list[str] = [str(a) for a in body["argv"]]
        self.env: dict[str, str] = {str(k): str(v) for k, v in body["env"].items()}
        self.cwd: str | None = body.get("cwd")
        self.umask = int(body["umask"]) & 0o777
        self.rlimits = [(int(n), int(s), int(h)) for n, s, h in body["rlimits"]]
        self.fds = fds


def preload() -> None:
    """Import what a session imports, so that forked sessions share it and skip it (and
    the launcher knows before ``MOSH CONNECT`` that everything can be imported)."""
    import pymosh.frontend.forwarding  # noqa: F401
    import pymosh.frontend.portshare  # noqa: F401
    import pymosh.frontend.resume  # noqa: F401
    import pymosh.frontend.server  # noqa: F401
    import pymosh.network.connection  # noqa: F401
    import pymosh.network.endpoint  # noqa: F401
    import pymosh.network.transport  # noqa: F401
    import pymosh.statesync.complete  # noqa: F401
    import pymosh.statesync.hello  # noqa: F401
    import pymosh.statesync.stream_carrier  # noqa: F401
    import pymosh.statesync.streams  # noqa: F401
    import pymosh.statesync.user_stream  # noqa: F401
    import pymosh.wire.protobuf  # noqa: F401
    from pymosh.crypto import Session  # noqa: F401  (the fast path or its twin)

    # socket.getaddrinfo() encodes a host name with the idna codec, whose first use imports
    # encodings.idna, stringprep and unicodedata: ~3 ms of every session's start-up
    codecs.lookup("idna")


# ------------------------------------------------------------------------ receiving


def read_request(conn: socket.socket) -> Request | None:
    """The asker's request and its three fds; None (fds closed) if it is malformed."""
    conn.settimeout(REQUEST_TIMEOUT)
    fds: list[int] = []
    data = b""
    try:
        fd_size = socket.CMSG_SPACE(3 * 4)
        while len(data) < 4 or len(data) < 4 + struct.unpack("!I", data[:4])[0]:
            if len(data) >= 4 and struct.unpack("!I", data[:4])[0] > MAX_REQUEST:
                raise ValueError("request too large")
            chunk, ancdata, _, _ = conn.recvmsg(65536, fd_size)
            for level, kind, cdata in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    usable = len(cdata) - len(cdata) % 4
                    fds += list(struct.unpack(f"{usable // 4}i", cdata[:usable]))
            if not chunk:
                raise ValueError("request cut short")
            data += chunk
        if len(fds) != 3:
            raise ValueError("expected three fds")
        body = parse_request(data[4:])
        if body is None:
            for fd in fds:
                os.close(fd)
            raise VersionMismatch()
        return Request(body, fds)
    except (OSError, ValueError, IndexError, struct.error):
        for fd in fds:
            os.close(fd)
        return None


# ------------------------------------------------------------------------ the session


def become(req: Request) -> bool:
    """Turn this (freshly forked) process into the asker; False if a resource limit
    cannot be matched (then nothing was started and the asker starts in-process)."""
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as CPython starts
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    for number, soft, hard in req.rlimits:
        try:
            if resource.getrlimit(number) != (soft, hard):
                resource.setrlimit(number, (soft, hard))
        except (OSError, ValueError):
            return False
    for target, fd in enumerate(req.fds):
        os.dup2(fd, target)
    for fd in req.fds:
        if fd > 2:
            os.close(fd)
    os.environ.clear()
    os.environ.update(req.env)
    procenv.adopt(req.env)
    os.umask(req.umask)
    try:
        os.chdir(req.cwd or "/")
    except OSError:
        os.chdir("/")
    sys.argv = ["pymosh-server", *req.argv]
    return True


def run_session(req: Request, conn: socket.socket) -> None:
    """In the forked child: become the asker, run the start-up, report, exit."""
    status = FALLBACK
    try:
        if become(req):
            from pymosh.frontend import server

            # the detach fork's parent reports 0 on conn; the detached child closes conn
            status = server.run(req.argv, handoff=conn)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        status = 1
    finally:
        if conn.fileno() >= 0:  # still the start-up process: tell the asker
            _send_status(conn, status & 0xFF)
        os._exit(0 if status == FALLBACK else status & 0xFF)


# ------------------------------------------------------------------------ the forker


def _reap() -> list[int]:
    """The children that have exited (reaped)."""
    pids: list[int] = []
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return pids
        if pid == 0:
            return pids
        pids.append(pid)


def _send_status(conn: socket.socket, status: int) -> None:
    try:
        conn.sendall(bytes([status]))
    except OSError:
        pass


def _unlink_if_ours(path: str, ino: int) -> None:
    try:
        if os.stat(path).st_ino == ino:  # still ours: leave no stale socket
            os.unlink(path)
    except OSError:
        pass


STEP_ASIDE = b"x"  # spare -> forker: the asker is another installation, we make way
CLAIMED = b"c"  # spare -> forker: a request is taken, fork the next spare
CLAIM_GRACE = 0.05  # s the next spare waits for the claimed one's start-up to end (so that
# the fork does not compete with it for the CPU); no longer: a start-up that hangs (a stuck
# stdout) must not hold up the user's next sessions


def _spare(listener: socket.socket, path: str, ino: int, pipes: tuple[int, int, int]) -> None:
    """The forked spare: wait for a request on the forker's listener, take it, become the
    asker's session. It leaves when the forker is gone (EOF on ``alive``) and it has no
    request in hand; it never returns."""
    alive, events, wakeup = pipes
    status = 0
    try:
        signal.set_wakeup_fd(-1)
        os.close(wakeup)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        listener.setblocking(False)
        while True:
            ready, _, _ = select.select([listener.fileno(), alive], [], [])
            if listener.fileno() not in ready:
                return  # the forker left
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                continue
            try:
                conn.setblocking(True)
                if peer_uid(conn) != os.getuid():
                    conn.close()  # unanswered: not a request we may look at
                    continue
                req = read_request(conn)
            except VersionMismatch:
                # gone before the answer: the asker's fallback (the launcher's Python
                # entry script) asks again and must find no socket rather than ours closing
                _unlink_if_ours(path, ino)
                os.write(events, STEP_ASIDE)
                _send_status(conn, FALLBACK)
                return
            except OSError:
                conn.close()
                continue
            if req is None:
                _send_status(conn, FALLBACK)  # nothing started: the asker starts it
                conn.close()
                continue
            break
        # this request is ours: the session keeps none of the forker's descriptors
        os.write(events, CLAIMED)
        listener.close()
        for fd in (alive, events):
            os.close(fd)
        conn.settimeout(None)
        run_session(req, conn)
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def serve(listener: socket.socket, path: str, lock: int) -> None:
    """Serve requests until our socket file is removed or replaced, or IDLE_EXIT passes
    without one. One forked spare waits for the next request (the fork is not in the
    asker's wait); when it has taken one, the next spare is forked once the claimed one's
    start-up process has exited, or after CLAIM_GRACE. A session keeps neither the listener
    nor the lock (else a dead forker's sessions would keep the lock from its successor)."""
    ino = os.stat(path).st_ino
    alive_r, alive_w = os.pipe()  # EOF: the forker has gone (a spare then leaves)
    events_r, events_w = os.pipe()  # CLAIMED or STEP_ASIDE from the spare
    wakeup_r, wakeup_w = os.pipe()  # SIGCHLD: a spare's start-up process has exited
    os.set_blocking(wakeup_r, False)
    os.set_blocking(wakeup_w, False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    old_wakeup = signal.set_wakeup_fd(wakeup_w)
    last_request = time.monotonic()
    spare = 0
    claimed: float | None = None  # when the spare took a request
    try:
        while True:
            if not spare:
                claimed = None
                spare = os.fork()
                if spare == 0:
                    for fd in (lock, alive_w, events_r, wakeup_r):
                        if fd >= 0:
                            os.close(fd)
                    _spare(listener, path, ino, (alive_r, events_w, wakeup_w))
            if claimed is None:
                timeout = CHECK_INTERVAL
            else:
                timeout = max(0.0, claimed + CLAIM_GRACE - time.monotonic())
            ready, _, _ = select.select([events_r, wakeup_r], [], [], timeout)
            if events_r in ready:
                if os.read(events_r, 1) == STEP_ASIDE:
                    return  # (our socket is already gone)
                claimed = last_request = time.monotonic()
            if wakeup_r in ready:
                try:
                    os.read(wakeup_r, 4096)
                except BlockingIOError:
                    pass
                if spare in _reap():
                    spare = 0
            if claimed is not None and time.monotonic() >= claimed + CLAIM_GRACE:
                spare = 0  # (its start-up goes on; reaped whenever it ends)
            if ready or claimed is not None:
                continue
            if time.monotonic() - last_request >= IDLE_EXIT:
                _unlink_if_ours(path, ino)
                return
            try:
                if os.stat(path).st_ino != ino:
                    return
            except OSError:
                return
    finally:
        signal.set_wakeup_fd(old_wakeup)
        for fd in (alive_r, alive_w, events_r, events_w, wakeup_r, wakeup_w):
            os.close(fd)  # (alive_w: a waiting spare leaves)
        end = time.monotonic() + 1.0
        while spare and spare not in _reap() and time.monotonic() < end:
            time.sleep(0.01)


def main() -> int:
    try:
        directory = state_dir()
    except UserDirError as exc:
        sys.stderr.write(f"pymosh-forker: {exc}\n")
        return 1
    lock = os.open(os.path.join(directory, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return 0  # another forker serves this user
        raise
    path = os.path.join(directory, SOCKET_NAME)
    listener = private_listener(path, backlog=64)  # (a dead forker's goes: we hold the lock)
    os.chdir("/")
    preload()
    gc.freeze()  # keep the collector off the shared pages
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        serve(listener, path, lock)
    finally:
        listener.close()
    return 0


KEEP_ENV = (
    "HOME",
    "PATH",
    "USER",
    "LOGNAME",
    "XDG_STATE_HOME",
    "PYMOSH_STATE_DIR",
    "PYMOSH_NO_EXTENSIONS",
)


def forker_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """The forker outlives the session that starts it and serves others, each of which
    brings its own environment: it keeps only what finds Python, pymosh and the state
    directory, none of one session's (SSH_*, DISPLAY, PYMOSH_SCROLLBACK, a benchmark's
    PYMOSH_BENCH_TAG, by which the bench ends what a session left behind...)."""
    return {k: v for k, v in environ.items() if k in KEEP_ENV or k.startswith("PYTHON")}


def spawn() -> None:
    """Start a forker for this user's next sessions, detached (no-op if one runs)."""
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, 1 << 16)
        os.execve(
            sys.executable,
            [sys.executable, "-m", "pymosh.frontend.forker"],
            forker_environ(os.environ),
        )
    finally:
        os._exit(127)


if __name__ == "__main__":
    sys.exit(main())
