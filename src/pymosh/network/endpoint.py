"""The one driver turn between a datagram channel and a `Transport` (protocol.md §3.3–3.6).

Every program (client, server, test driver, benchmark) moves datagrams through here:

* `receive(now)` feeds the transport everything the channel has;
* `send(now)` reads the peer address, then calls `tick(now)`, then sends what it returned
  to that address. The order matters: the send that finds the client silent for 40 s
  detaches the server (`Connection._after_send`, like mosh-server: send, then detach), so
  the address read after `tick()` would be None, yet that datagram still goes out;
* an EMSGSIZE from the channel drops the transport to Mosh's 500-byte MTU (the datagram
  is lost; the sender's retransmission re-fragments it);
* the client's port hop (§3.6) opens a new source port on a channel that can hop.

The channel is an interface, not a socket: `udp.ServerSocket`/`udp.ClientSocket` implement
it, and so can a channel fed by another process (a shared-port router handing a session
its authenticated datagrams over a unix socket, a relay) that sends through a passed fd.
"""

from __future__ import annotations

import errno

from pymosh.generics import Generic, Protocol, TypeVar
from pymosh.network.state import SyncState
from pymosh.network.transport import Transport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List

    from pymosh.network.connection import Addr, Received

L = TypeVar("L", bound=SyncState)
R = TypeVar("R", bound=SyncState)


class DatagramChannel(Protocol):
    """Where a session's datagrams come from and go to."""

    def recv_all(self, now: float) -> List[Received]:
        """Every datagram waiting now (bounded per call); never blocks."""
        ...

    def send(self, datagram: bytes, addr: Addr) -> OSError | None:
        """Send one datagram; the error (not raised: Mosh reports and carries on)."""
        ...

    def filenos(self) -> List[int]:
        """File descriptors that become readable when `recv_all` has something."""
        ...


class HoppingChannel(DatagramChannel, Protocol):
    def hop(self, now: float) -> None:
        """Send from a new source port from now on; keep receiving on the old ones."""
        ...


def can_hop(channel: DatagramChannel) -> bool:
    """Whether ``channel`` is a `HoppingChannel` (by its ``hop`` method: protocols are
    not checked at run time, see `pymosh.generics`)."""
    return callable(getattr(channel, "hop", None))


class Endpoint(Generic[L, R]):
    """A transport bound to its channel. `send_error` is the last send's error, kept until
    a send succeeds (the client shows it as a network-error notification, like Mosh)."""

    __slots__ = ("transport", "channel", "send_error", "held")

    def __init__(self, transport: Transport[L, R], channel: DatagramChannel) -> None:
        self.transport = transport
        self.channel = channel
        self.send_error: OSError | None = None
        self.held: List[Received] = []  # taken from the channel, for the next receive

    def hold(self, received: List[Received]) -> None:
        """Datagrams already taken from the channel (by pymosh-server's idle lane, which
        declined them): the next `receive` feeds these instead of asking the channel."""
        self.held = received

    def filenos(self) -> List[int]:
        return self.channel.filenos()

    def wait_time(self, now: float) -> float:
        return self.transport.wait_time(now)

    def receive(self, now: float) -> int:
        """Feed every waiting datagram to the transport; how many there were."""
        transport = self.transport
        received = self.held
        if received:
            self.held = []
        else:
            received = self.channel.recv_all(now)
        for datagram, addr, congestion in received:
            transport.receive(datagram, addr, now, congestion)
        return len(received)

    def send(self, now: float) -> int:
        """Send what is due; how many datagrams went to the channel."""
        transport = self.transport
        dest = transport.remote_addr  # before tick(): see the module docstring
        datagrams = transport.tick(now)
        sent = 0
        if dest is not None:
            channel = self.channel
            for datagram in datagrams:
                error = channel.send(datagram, dest)
                sent += 1
                if error is None:
                    self.send_error = None
                else:
                    self.failed(error)
        if transport.take_port_hop() and can_hop(self.channel):
            self.channel.hop(now)  # type: ignore[attr-defined]
        return sent

    def failed(self, error: OSError) -> None:
        """A send failed: keep the error; EMSGSIZE drops the transport to Mosh's 500-byte MTU
        (the datagram is lost; the sender's retransmission re-fragments it)."""
        self.send_error = error
        if error.errno == errno.EMSGSIZE:
            self.transport.emsgsize()

    def turn(self, now: float) -> None:
        """One whole turn for drivers with nothing to do between receiving and sending."""
        self.receive(now)
        self.send(now)
