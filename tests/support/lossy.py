"""An in-process impaired link and a fake-clock simulation of a client/server pair.

Everything is deterministic for a given `random.Random` seed: the link decides loss,
duplication, delay/jitter/reordering and blackouts; `Simulation` runs both transports
as event loops on one fake clock (ms), jumping from deadline to deadline, each through
the shipped `Endpoint` with the link as its datagram channel.
"""

from __future__ import annotations

import heapq
import os
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, List, Tuple

from pymosh.network.connection import Connection
from pymosh.network.endpoint import Endpoint
from pymosh.network.transport import Transport
from pymosh.statesync.user_stream import UserStream

if TYPE_CHECKING:
    from pymosh.network.connection import Received

SERVER_ADDR = ("192.0.2.1", 60001)
CLIENT_ADDR = ("198.51.100.7", 40000)


@dataclass
class Impairment:
    delay: float = 20.0  # one-way, ms
    jitter: float = 0.0  # uniform extra 0..jitter ms (reorders when > spacing)
    loss: float = 0.0  # probability a datagram is dropped
    duplicate: float = 0.0  # probability a datagram is delivered twice
    reorder: float = 0.0  # probability a datagram is held back an extra 0..4·delay


@dataclass(order=True)
class _InFlight:
    due: float
    order: int
    datagram: bytes = field(compare=False)
    src: Any = field(compare=False)
    dst: Any = field(compare=False)


class LossyLink:
    """Datagrams in flight between addresses, impaired in both directions."""

    MAX_IN_FLIGHT = 100_000  # bounded: beyond this, datagrams are dropped

    def __init__(
        self, rng: random.Random, up: Impairment | None = None, down: Impairment | None = None
    ) -> None:
        self.rng = rng
        self.up = up or Impairment()  # client → server
        self.down = down or Impairment()  # server → client
        self.blackouts: List[Tuple[float, float]] = []
        self._queue: List[_InFlight] = []
        self._order = 0
        self.sent = 0
        self.dropped = 0

    def blackout(self, start: float, end: float) -> None:
        """Drop everything sent in [start, end)."""
        self.blackouts.append((start, end))

    def _dark(self, now: float) -> bool:
        return any(a <= now < b for a, b in self.blackouts)

    def send(self, datagram: bytes, src: Any, dst: Any, now: float, upstream: bool) -> None:
        imp = self.up if upstream else self.down
        self.sent += 1
        if (
            self._dark(now)
            or self.rng.random() < imp.loss
            or len(self._queue) >= self.MAX_IN_FLIGHT
        ):
            self.dropped += 1
            return
        copies = 2 if self.rng.random() < imp.duplicate else 1
        for _ in range(copies):
            due = now + imp.delay + self.rng.uniform(0, imp.jitter)
            if self.rng.random() < imp.reorder:
                due += self.rng.uniform(0, 4 * imp.delay)
            self._order += 1
            heapq.heappush(self._queue, _InFlight(due, self._order, datagram, src, dst))

    def next_due(self) -> float:
        return self._queue[0].due if self._queue else float("inf")

    def pop_due(self, now: float) -> List[_InFlight]:
        out = []
        while self._queue and self._queue[0].due <= now:
            out.append(heapq.heappop(self._queue))
        return out


class _LinkEnd:
    """One side of the simulated link as a datagram channel (the client's can hop)."""

    def __init__(self, sim: Simulation, side: str) -> None:
        self.sim, self.side = sim, side
        self.inbox: List[Received] = []

    def recv_all(self, now: float) -> List[Received]:
        got, self.inbox = self.inbox, []
        return got

    def send(self, datagram: bytes, addr: Any) -> OSError | None:
        sim = self.sim
        sim.log.append((sim.now, self.side, datagram))
        upstream = self.side == "c"
        sim.link.send(
            datagram, sim.client_addr if upstream else SERVER_ADDR, addr, sim.now, upstream=upstream
        )
        return None

    def filenos(self) -> List[int]:
        return []


class _ClientLinkEnd(_LinkEnd):
    def hop(self, now: float) -> None:
        self.sim.hop()


class Simulation:
    """A client Transport and a server Transport (UserStream both ways) on a LossyLink.

    The server application consumes user input with `get_remote_diff()` (as
    mosh-server does) and records it in `server_received`; the client's copy of the
    server's stream is `client.latest_remote_state()`.
    """

    def __init__(
        self, crypto: Any, link: LossyLink, now: float = 0.0, key: bytes | None = None
    ) -> None:
        key = key or os.urandom(16)
        self.key = key
        self.now = now
        self.link = link
        self.client_addr = CLIENT_ADDR
        self.client_ports = [CLIENT_ADDR[1]]  # open client sockets (port hopping)
        server_conn = Connection(key, True, session_class=crypto.Session, now=now)
        client_conn = Connection(key, False, SERVER_ADDR, session_class=crypto.Session, now=now)
        self.server: Transport = Transport(UserStream(), UserStream(), server_conn, now)
        self.client: Transport = Transport(UserStream(), UserStream(), client_conn, now)
        self.server_received = bytearray()
        self.server_resizes: List[Tuple[int, int]] = []
        self._server_num = 0
        # (time, "c"|"s", datagram) of every datagram handed to the link
        self.log: List[Tuple[float, str, bytes]] = []
        self.on_turn: Callable[[Simulation], None] | None = None
        # like the real programs, a side quits once it has acked the peer's shutdown
        # or its own shutdown was acked
        self.quit: set = set()
        self._client_end = _ClientLinkEnd(self, "c")
        self._server_end = _LinkEnd(self, "s")

    # -- one event-loop turn for both ends at self.now
    def _turn(self) -> bool:
        now = self.now
        busy = False
        for item in self.link.pop_due(now):
            busy = True
            if item.dst == SERVER_ADDR:
                self._server_end.inbox.append((item.datagram, item.src, False))
            elif item.dst[0] == self.client_addr[0] and item.dst[1] in self.client_ports:
                self._client_end.inbox.append((item.datagram, SERVER_ADDR, False))
        # (bound per turn: tests swap in transports built with other knobs)
        endpoints = (
            ("c", Endpoint(self.client, self._client_end)),
            ("s", Endpoint(self.server, self._server_end)),
        )
        for side, endpoint in endpoints:
            if side in self.quit:
                endpoint.channel.recv_all(now)  # a program that quit reads nothing
            else:
                endpoint.receive(now)
        if self.server.remote_state_num != self._server_num:
            self._server_num = self.server.remote_state_num
            diff = self.server.get_remote_diff()
            if diff:
                stream = UserStream()
                stream.apply_string(diff)
                self.server_events(stream.events)
        if self.on_turn is not None:
            self.on_turn(self)
        for side, t in (("c", self.client), ("s", self.server)):
            if t.counterparty_shutdown_ack_sent() or t.shutdown_acknowledged():
                self.quit.add(side)
        for side, endpoint in endpoints:
            if side not in self.quit and endpoint.send(now):
                busy = True
        for side, t in (("c", self.client), ("s", self.server)):
            if t.counterparty_shutdown_ack_sent():
                self.quit.add(side)
        return busy

    def server_events(self, events: List[Any]) -> None:
        """The server application's share of new user events (subclasses add kinds)."""
        for event in events:
            if isinstance(event, int):
                self.server_received.append(event)
            else:
                self.server_resizes.append((event.width, event.height))

    def hop(self) -> None:
        """The client opens a new source port; old ones keep receiving (max 10)."""
        port = self.client_ports[-1] + 1
        self.client_ports = (self.client_ports + [port])[-10:]
        self.client_addr = (self.client_addr[0], port)

    def change_client_address(self, addr: Tuple[str, int]) -> None:
        """NAT rebinding: the client's packets now come from `addr`, old one is dead."""
        self.client_addr = addr
        self.client_ports = [addr[1]]

    def next_event(self) -> float:
        now = self.now
        return min(
            self.link.next_due(),
            now + ("c" in self.quit and float("inf") or self.client.wait_time(now)),
            now + ("s" in self.quit and float("inf") or self.server.wait_time(now)),
        )

    def run_until(self, done: Callable[[], bool], limit: float, step_cap: float = 1000.0) -> bool:
        """Run turns until `done()` or the clock passes `limit` (absolute ms)."""
        idle_turns = 0
        while not done():
            if self.now > limit:
                return False
            nxt = min(self.next_event(), self.now + step_cap, limit + 1)
            if nxt > self.now:
                self.now = nxt
                idle_turns = 0
            else:
                idle_turns += 1
                if idle_turns > 1000:
                    raise RuntimeError(f"simulation stuck at {self.now}")
            self._turn()
        return True

    def run_for(self, duration: float) -> None:
        end = self.now + duration
        self.run_until(lambda: False, end)
