"""A deliberately small, test-only Mosh client for hostile-network tests.

Built on the layers below the transport (crypto.Session, wire.protobuf,
network.fragment) so a test controls every datagram: it can capture what it sent,
replay it, forge, flip bits and truncate.  State model (enough for a live server):
client state N is "Resize(80x24) then every byte typed so far", always sent as a diff
from state 0 with throwaway 0, so every state extends the previous ones (protocol.md
§5.6 prefix property).  It acks the newest host state it assembled and answers a
server shutdown (new_num = 2^64 - 1) with ack 2^64 - 1 once.  Servers are started and
ended with ``tests.support.servers``.
"""

from __future__ import annotations

import os
import select
import socket
import time
from typing import List

from pymosh.crypto import TO_CLIENT, TO_SERVER, Session
from pymosh.errors import DecodeError
from pymosh.network.fragment import Fragment, FragmentAssembly, Fragmenter
from pymosh.wire.protobuf import (
    HostBytes,
    Instruction,
    Keystroke,
    Resize,
    decode_host_message,
    encode_user_message,
)
from tests.support.servers import Server

SHUTDOWN = (1 << 64) - 1
LOOPBACK = "127.0.0.1"


class MiniClient:
    def __init__(self, port: int, key: bytes, width: int = 80, height: int = 24) -> None:
        self.server = (LOOPBACK, port)
        self.session = Session(key)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.seq = 0
        self.state_num = 0
        self.keys = b""
        self.size = (width, height)
        self.fragmenter = Fragmenter()
        self.assembly = FragmentAssembly()
        self.sent: List[bytes] = []  # every datagram we sent, in order
        self.received: List[bytes] = []  # every datagram the server sent us
        self.host_states: List[int] = []  # new_num of each assembled host instruction
        self.host_bytes = b""  # concatenated HostBytes (for debugging)
        self.ack = 0
        self.shutdown_seen = False
        self.t0 = time.monotonic()

    # ------------------------------------------------------------ sending
    def _timestamp(self) -> int:
        ts = int((time.monotonic() - self.t0) * 1000) & 0xFFFF
        return 0 if ts == 0xFFFF else ts

    def _send_instruction(self, ins: Instruction) -> None:
        for frag in self.fragmenter.make_fragments(ins, 1252):
            datagram = self.session.seal_datagram(
                TO_SERVER, self.seq, self._timestamp(), 0xFFFF, frag.to_bytes()
            )
            self.seq += 1
            self.sock.sendto(datagram, self.server)
            self.sent.append(datagram)

    def send_state(self, ack: int | None = None) -> None:
        """A new client state: all events so far, as a diff from state 0."""
        self.state_num += 1
        events = [Resize(*self.size)]
        if self.keys:
            events.append(Keystroke(self.keys))
        self._send_instruction(
            Instruction(
                old_num=0,
                new_num=self.state_num,
                ack_num=self.ack if ack is None else ack,
                throwaway_num=0,
                diff=encode_user_message(events),
                chaff=b"",
            )
        )

    def type(self, keys: bytes) -> None:
        self.keys += keys
        self.send_state()

    # ------------------------------------------------------------ receiving
    def pump(self, seconds: float, until=None) -> bool:
        """Receive for up to `seconds`; True as soon as until(self) holds."""
        deadline = time.monotonic() + seconds
        while True:
            if until is not None and until(self):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return until is None
            ready, _, _ = select.select([self.sock], [], [], min(left, 0.05))
            if ready:
                datagram, _addr = self.sock.recvfrom(4096)
                self._receive(datagram)

    def _receive(self, datagram: bytes) -> None:
        self.received.append(datagram)
        try:
            _seq, _ts, _reply, payload = self.session.open_datagram(datagram, TO_CLIENT)
            ins = self.assembly.add(Fragment.parse(payload))
        except DecodeError as exc:  # a real server never sends these
            raise AssertionError(f"server sent an undecodable datagram: {exc}") from None
        if ins is None:
            return
        assert ins.protocol_version == 2
        for ev in decode_host_message(ins.diff):
            if isinstance(ev, HostBytes):
                self.host_bytes += ev.data
        self.host_states.append(ins.new_num)
        if ins.new_num == SHUTDOWN:
            if not self.shutdown_seen:
                self.shutdown_seen = True
                self.ack = SHUTDOWN
                self.send_state(ack=SHUTDOWN)
        elif ins.new_num > self.ack and self.ack != SHUTDOWN:
            self.ack = ins.new_num

    def close(self) -> None:
        self.sock.close()


# ---------------------------------------------------------------- sessions


def connect(server: Server, timeout: float = 10.0) -> MiniClient:
    """A client that has exchanged state with the server and whose shell is running."""
    client = MiniClient(server.port, server.key)
    client.send_state()  # state 1 = Resize 80x24
    deadline = time.monotonic() + timeout
    # resend until the server answers (first packets can race the daemon start)
    while not client.pump(0.5, lambda c: c.host_states):
        if time.monotonic() > deadline:
            raise AssertionError("server never answered")
        client.send_state()
    # the program creates its output file only after `stty raw -echo` has run
    while not os.path.exists(server.output_path):
        if time.monotonic() > deadline:
            raise AssertionError("the remote program never started")
        client.pump(0.05)
    return client


def roundtrip(server: Server, client: MiniClient, keys: bytes, timeout: float = 10.0) -> None:
    """Type `keys` and wait until the remote program wrote them (resending meanwhile)."""
    expected = server.output() + keys
    client.type(keys)
    deadline = time.monotonic() + timeout
    while server.output() != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"typed {keys!r}; remote got {server.output()!r}")
        client.pump(0.1)
        if not server.output().startswith(expected[: len(server.output())]):
            raise AssertionError(f"remote got {server.output()!r}, expected {expected!r}")
        client.send_state()
