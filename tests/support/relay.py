"""A UDP impairment relay on 127.0.0.1 for live tests (runs in a thread).

    client ──► relay.listen_port ──[impair]──► upstream socket ──► server
    client ◄──[impair]── relay ◄────────────── upstream socket ◄── server

The server sees the relay's upstream socket as the client; `switch_port()` replaces
that socket (NAT rebinding: replies to the old port are lost until the server roams).
Bounded: at most `max_queue` datagrams held, and the thread stops by itself after
`lifetime_s` seconds (or on `stop()`).
"""

from __future__ import annotations

import heapq
import random
import selectors
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, List, Tuple

LOCALHOST = "127.0.0.1"


@dataclass
class RelayImpairment:
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0  # probability of an extra 0..50 ms hold


class UdpRelay:
    def __init__(
        self,
        server_port: int,
        up: RelayImpairment | None = None,
        down: RelayImpairment | None = None,
        seed: int = 0,
        lifetime_s: float = 120.0,
        max_queue: int = 10_000,
    ) -> None:
        self.server_addr = (LOCALHOST, server_port)
        self.up = up or RelayImpairment()
        self.down = down or RelayImpairment()
        self.rng = random.Random(seed)
        self.lifetime_s = lifetime_s
        self.max_queue = max_queue
        self.listen = self._socket()
        self.listen_port: int = self.listen.getsockname()[1]
        self.upstream = self._socket()
        self.client_addr: Tuple[str, int] | None = None
        self.dark_until = 0.0
        self.stats = {"up": 0, "down": 0, "dropped": 0}
        self._queue: List[Tuple[float, int, bytes, Any, Any]] = []
        self._order = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._thread = threading.Thread(target=self._run, name="udp-relay", daemon=True)

    @staticmethod
    def _socket() -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((LOCALHOST, 0))
        s.setblocking(False)
        return s

    # -- control (any thread)
    def start(self) -> UdpRelay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._poke()
        self._thread.join(timeout=5)

    def __enter__(self) -> UdpRelay:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def blackout(self, seconds: float) -> None:
        """Drop everything in both directions for `seconds` from now."""
        self.dark_until = time.monotonic() + seconds

    def switch_port(self) -> int:
        """The server now sees the client at a new source port; returns it."""
        with self._lock:
            self.upstream = self._socket()  # the relay thread closes the old one
        self._poke()
        return self.upstream.getsockname()[1]

    def _poke(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    # -- relay thread
    def _schedule(self, data: bytes, sock: Any, dst: Any, imp: RelayImpairment) -> None:
        now = time.monotonic()
        if (
            now < self.dark_until
            or self.rng.random() < imp.loss
            or len(self._queue) >= self.max_queue
        ):
            self.stats["dropped"] += 1
            return
        for _ in range(2 if self.rng.random() < imp.duplicate else 1):
            hold = imp.delay_ms + self.rng.uniform(0, imp.jitter_ms)
            if self.rng.random() < imp.reorder:
                hold += self.rng.uniform(0, 50)
            self._order += 1
            heapq.heappush(self._queue, (now + hold / 1000, self._order, data, sock, dst))

    def _run(self) -> None:
        end = time.monotonic() + self.lifetime_s
        sel = selectors.DefaultSelector()
        sel.register(self.listen, selectors.EVENT_READ, "listen")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        current_up = self.upstream
        sel.register(current_up, selectors.EVENT_READ, "upstream")
        try:
            while not self._stop.is_set() and time.monotonic() < end:
                if self.upstream is not current_up:
                    sel.unregister(current_up)
                    current_up.close()
                    current_up = self.upstream
                    sel.register(current_up, selectors.EVENT_READ, "upstream")
                timeout = 0.1
                if self._queue:
                    timeout = max(0.0, min(timeout, self._queue[0][0] - time.monotonic()))
                for key, _ in sel.select(timeout):
                    self._drain(key.fileobj, key.data)
                now = time.monotonic()
                while self._queue and self._queue[0][0] <= now:
                    _, _, data, sock, dst = heapq.heappop(self._queue)
                    try:
                        sock.sendto(data, dst)
                    except OSError:
                        pass
        finally:
            sel.close()
            for s in (self.listen, current_up, self._wake_r, self._wake_w):
                s.close()

    def _drain(self, sock: Any, role: str) -> None:
        for _ in range(256):
            try:
                data, addr = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            if role == "wake":
                continue
            if role == "listen":
                self.client_addr = addr
                self.stats["up"] += 1
                self._schedule(data, self.upstream, self.server_addr, self.up)
            elif self.client_addr is not None:
                self.stats["down"] += 1
                self._schedule(data, self.listen, self.client_addr, self.down)
