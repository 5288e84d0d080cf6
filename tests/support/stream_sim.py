"""Byte streams over a simulated session: the real carriers (user stream up, host state
down) and transports on the in-memory ``LossyLink`` with a fake clock, plus a small
test application (``Peer``) on each side's ``Mux``."""

from __future__ import annotations

import random
from typing import Any, Dict, List, Set

import pymosh.crypto as crypto
from pymosh.network.connection import Connection
from pymosh.network.transport import Transport
from pymosh.statesync.complete import CompleteTerminal
from pymosh.statesync.hello import answer, client_hello
from pymosh.statesync.stream_carrier import ClientCarrier, ServerCarrier
from pymosh.statesync.streams import Mux
from pymosh.statesync.user_stream import UserStream
from pymosh.wire.protobuf import FEATURE_STREAMS, Hello, StreamFrame
from tests.support.lossy import SERVER_ADDR, Impairment, LossyLink, Simulation

KEY = bytes(range(16))


class Peer:
    """One side's application: sends payloads, reads (optionally slowly), records."""

    def __init__(self, mux: Mux) -> None:
        self.mux = mux
        self.outgoing: Dict[int, List[Any]] = {}  # sid -> [data, pos, finish]
        self.got: Dict[int, bytearray] = {}
        self.opened: Dict[int, bytes] = {}  # streams the peer opened
        self.eof: Set[int] = set()
        self.closed: Set[int] = set()
        self.resets: Dict[int, bytes] = {}
        self.read_limit: int | None = None  # bytes consumed per step
        self.echo_finish = True  # answer the peer's FIN with ours

    def send(self, target: bytes, data: bytes, finish: bool = True) -> int:
        sid = self.mux.open(target)
        assert sid is not None
        self.outgoing[sid] = [data, 0, finish]
        self.got[sid] = bytearray()
        return sid

    def reply(self, sid: int, data: bytes, finish: bool = True) -> None:
        self.outgoing[sid] = [data, 0, finish]

    def step(self) -> None:
        mux = self.mux
        for ev in mux.take_events():
            if ev.kind == "open":
                self.opened[ev.sid] = ev.info
                self.got[ev.sid] = bytearray()
            elif ev.kind == "eof":
                self.eof.add(ev.sid)
            elif ev.kind == "closed":
                self.closed.add(ev.sid)
            elif ev.kind == "reset":
                self.resets[ev.sid] = ev.info
        for sid, item in self.outgoing.items():
            data, pos, finish = item
            if pos < len(data):
                item[1] = pos = pos + mux.write(sid, data[pos : pos + 65536])
            if pos == len(data) and finish:
                mux.finish(sid)
        for sid, buf in self.got.items():
            pending = mux.pending(sid)
            if self.read_limit is not None:
                pending = pending[: self.read_limit]
            if pending:
                buf += pending
                mux.consume(sid, len(pending))
            if self.echo_finish and mux.at_eof(sid) and sid not in self.outgoing:
                mux.finish(sid)


class StreamSim(Simulation):
    """``Simulation`` with the pymosh states: UserStream up, CompleteTerminal down."""

    def __init__(
        self,
        link: LossyLink,
        client_features: int = FEATURE_STREAMS,
        server_features: int = FEATURE_STREAMS,
        hello: bool = True,
    ) -> None:
        super().__init__(crypto, link, key=KEY)
        now = self.now
        self.terminal = CompleteTerminal(80, 24)
        server_conn = Connection(KEY, True, session_class=crypto.Session, now=now)
        client_conn = Connection(KEY, False, SERVER_ADDR, session_class=crypto.Session, now=now)
        self.server = Transport(self.terminal, UserStream(), server_conn, now)
        self.server.current_state = self.terminal
        self.client = Transport(UserStream(), CompleteTerminal(80, 24), client_conn, now)
        if hello:
            self.client.current_state.push_hello(client_hello(client_features))
        self.server_features = server_features
        self.cmux, self.smux = Mux(True), Mux(False)
        self.ccarrier, self.scarrier = ClientCarrier(self.cmux), ServerCarrier(self.smux)
        self.cpeer, self.speer = Peer(self.cmux), Peer(self.smux)
        self.on_turn = StreamSim._apps
        self.extra: Any = None  # a test's own per-turn hook

    def server_events(self, events: List[Any]) -> None:
        keys = [e for e in events if isinstance(e, int)]
        self.server_received += bytes(keys)
        for event in events:
            if isinstance(event, Hello):
                self.terminal.hello = answer(event, self.server_features)
            elif isinstance(event, StreamFrame):
                self.scarrier.receive(self.terminal, event.data)

    def _apps(self) -> None:
        self.ccarrier.pump(self.client, self.now)
        if self.extra is not None:
            self.extra(self)
        self.cpeer.step()
        self.speer.step()
        self.ccarrier.pump(self.client, self.now)
        self.scarrier.pump(self.terminal, self.server, self.now)

    def streams_idle(self) -> bool:
        return not self.cmux.streams and not self.smux.streams


def make(seed: int, **impairment: Any) -> StreamSim:
    imp = Impairment(**impairment)
    return StreamSim(LossyLink(random.Random(seed), imp, Impairment(**impairment)))
