"""A point-in-time snapshot of one SSP transport, for the statistics overlay and logs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TransportStats:
    """`Transport.stats()`. Times in ms; counters since the transport was created.

    * `srtt`, `rttvar`, `rto`: the RTT estimate and retransmission timeout (§3.2);
    * `datagrams_*`, `bytes_*`: datagrams the transport sealed for sending / was fed
      (sent = handed to the driver; received = every datagram, authentic or not);
    * `retransmits`: instructions sent again under a state number already sent (the
      sender's timeout re-send of an unacknowledged state, repeated shutdowns);
    * `dropped`: datagrams that failed authentication or decoding, arrived behind the
      newest (late or replayed), or carried an undecodable instruction;
    * `last_heard`: when the last in-order authentic datagram arrived (None: never);
    * `remote_addr`: where the transport sends (None: no peer yet, or detached).
    """

    srtt: float
    rttvar: float
    rto: int
    datagrams_sent: int
    datagrams_received: int
    bytes_sent: int
    bytes_received: int
    retransmits: int
    dropped: int
    last_heard: float | None
    remote_addr: Any
