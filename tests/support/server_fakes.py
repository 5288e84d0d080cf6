"""Stand-ins for pymosh-server's socket and pty, to run the real `Server` loop in-process
on a fake clock (the test replaces `Server.loop.wait` and plays the client there)."""

from __future__ import annotations

import errno
import os
import socket


class FakeSock:
    family = socket.AF_INET

    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self.inbox: list = []  # (datagram, source address) for the server
        self.outbox: list = []  # (datagram, destination) from the server
        self.link_mtu: int | None = None  # larger datagrams fail with EMSGSIZE
        self.refused = 0

    def filenos(self) -> list[int]:
        return [self._r.fileno()]

    def recv_all(self, now: float = 0) -> list:
        got, self.inbox = self.inbox, []
        return [(d, a, False) for d, a in got]

    def send(self, datagram: bytes, addr) -> OSError | None:
        if addr is None:  # what socket.sendto does with None
            raise TypeError("sendto(): AF_INET address must be tuple, not NoneType")
        if self.link_mtu is not None and len(datagram) > self.link_mtu:
            self.refused += 1  # what sendto on a path with a small MTU returns
            return OSError(errno.EMSGSIZE, os.strerror(errno.EMSGSIZE))
        self.outbox.append((datagram, addr))
        return None

    def close(self) -> None:
        self._r.close()
        self._w.close()


class FakePty:
    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self.fd = self._r.fileno()
        self.written = bytearray()
        self.output = bytearray()  # what the "shell" prints next (read() drains it)

    def write(self, data: bytes) -> None:
        self.written += data

    def read(self) -> bytes:
        data, self.output = bytes(self.output), bytearray()
        return data

    def resize(self, width: int, height: int) -> None:
        pass

    def release(self) -> None:
        pass

    def close(self) -> None:
        self._r.close()
        self._w.close()
