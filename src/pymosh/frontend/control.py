"""A session's control socket: ``sessions/<id>.sock``, one JSON line each way.

The server listens (non-blocking, inside its event loop); ``pymosh-server list|kill|resume``
connect. Requests: ``{"op": "status"|"kill"|"resume", ...}``; replies ``{"ok": true, ...}``
or ``{"ok": false, "error": "one line"}``. Both ends check with SO_PEERCRED that the other
end runs as the same user (the 0700 directory already keeps others out; this is the second
lock). Requests are bounded (size, time, number of open connections), so a stuck or
hostile peer cannot stall or grow the session.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from contextlib import contextmanager
from typing import Any, Iterator

MAX_REQUEST = 1024
MAX_REPLY = 4096
MAX_CONNECTIONS = 8
REQUEST_DEADLINE = 2000  # ms a connection gets to send its request
_UNIX_PATH_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin


class ControlError(Exception):
    """A failed exchange; the message is one line for the user."""


def peer_uid(sock: socket.socket) -> int | None:
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (OSError, AttributeError):
        return None
    return struct.unpack("3i", creds)[1]


@contextmanager
def _reachable(path: str) -> Iterator[str]:
    """A name for ``path`` that fits in sun_path: via /proc/self/fd/N of its directory."""
    if len(os.fsencode(path)) <= _UNIX_PATH_MAX:
        yield path
        return
    fd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{os.path.basename(path)}"
    finally:
        os.close(fd)


def _encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def _decode(line: bytes) -> dict[str, Any] | None:
    try:
        message = json.loads(line.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return message if isinstance(message, dict) else None


# ------------------------------------------------------------------ the server's end


class Pending:
    __slots__ = ("sock", "buffer", "deadline")

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.deadline = deadline


class ControlListener:
    """The listening socket and the connections waiting to send their request."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        old = os.umask(0o177)
        try:
            with _reachable(path) as name:
                self.sock.bind(name)
        except OSError:
            self.sock.close()
            raise
        finally:
            os.umask(old)
        self.sock.listen(MAX_CONNECTIONS)
        self.sock.setblocking(False)
        self.pending: dict[int, Pending] = {}

    def filenos(self) -> list[int]:
        return [self.sock.fileno(), *self.pending]

    def wait_time(self, now: float) -> float:
        if not self.pending:
            return float("inf")
        return max(min(p.deadline for p in self.pending.values()) - now, 0)

    def poll(self, ready: set[int], now: float) -> list[tuple[socket.socket, dict[str, Any]]]:
        """Accept, read; return the complete requests (the caller replies and closes)."""
        if self.sock.fileno() in ready:
            self._accept(now)
        requests = []
        for fd, pending in list(self.pending.items()):
            if fd in ready:
                try:
                    data = pending.sock.recv(MAX_REQUEST + 1 - len(pending.buffer))
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                pending.buffer += data
                if b"\n" in pending.buffer:
                    del self.pending[fd]
                    request = _decode(bytes(pending.buffer.split(b"\n", 1)[0]))
                    if request is None or not isinstance(request.get("op"), str):
                        reply(pending.sock, {"ok": False, "error": "malformed request"})
                    else:
                        requests.append((pending.sock, request))
                    continue
                if not data or len(pending.buffer) > MAX_REQUEST:
                    self._drop(fd)
                    continue
            if now >= pending.deadline:
                self._drop(fd)
        return requests

    def _accept(self, now: float) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if peer_uid(conn) != os.geteuid() or len(self.pending) >= MAX_CONNECTIONS:
                conn.close()
                continue
            conn.setblocking(False)
            self.pending[conn.fileno()] = Pending(conn, now + REQUEST_DEADLINE)

    def _drop(self, fd: int) -> None:
        pending = self.pending.pop(fd, None)
        if pending is not None:
            pending.sock.close()

    def close(self) -> None:
        for fd in list(self.pending):
            self._drop(fd)
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def reply(sock: socket.socket, message: dict[str, Any]) -> None:
    """Send one reply line and close (replies are small: the socket buffer takes them)."""
    try:
        sock.setblocking(True)
        sock.settimeout(1.0)
        sock.sendall(_encode(message))
    except OSError:
        pass
    finally:
        sock.close()


# ------------------------------------------------------------------ the commands' end


def request(path: str, message: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """One exchange with a session; ControlError if it does not answer properly."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            with _reachable(path) as name:
                sock.connect(name)
        except OSError as exc:
            raise ControlError(f"session not answering ({exc.strerror or exc})") from None
        if peer_uid(sock) != os.geteuid():
            raise ControlError("session socket belongs to another user")
        try:
            sock.sendall(_encode(message))
            data = bytearray()
            while b"\n" not in data and len(data) <= MAX_REPLY:
                chunk = sock.recv(MAX_REPLY + 1 - len(data))
                if not chunk:
                    break
                data += chunk
        except OSError as exc:
            raise ControlError(f"session not answering ({exc.strerror or exc})") from None
    finally:
        sock.close()
    answer = _decode(bytes(data).split(b"\n", 1)[0]) if b"\n" in data else None
    if answer is None or not isinstance(answer.get("ok"), bool):
        raise ControlError("session gave no valid answer")
    return answer
