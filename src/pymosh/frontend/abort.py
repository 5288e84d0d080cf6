"""Tell a server that its client is not coming, as a client quitting would.

When the wrapper has started a server but cannot run the client, the server would wait
60 s for a client that never comes. With the session key it holds, the wrapper sends the
authenticated shutdown a quitting client sends and waits (briefly) for the server's
acknowledgement; the server then ends the session (protocol.md §5.7). Works the same for
a remote server over ssh and a stock mosh-server.
"""

from __future__ import annotations

import select

from pymosh.frontend.loop import now_ms

ABORT_TIMEOUT = 2000  # ms: a server that does not answer is left to its own timeout


def abort_server(ip: str, port: int, key_text: str, timeout: float = ABORT_TIMEOUT) -> bool:
    """True once the server acknowledged the shutdown."""
    from pymosh.crypto import parse_key
    from pymosh.network.connection import Connection
    from pymosh.network.endpoint import Endpoint
    from pymosh.network.transport import Transport
    from pymosh.network.udp import ClientSocket
    from pymosh.statesync.complete import CompleteTerminal
    from pymosh.statesync.user_stream import UserStream

    now = now_ms()
    try:
        sock = ClientSocket((ip, port), now)
    except (OSError, ValueError):
        return False
    try:
        connection = Connection(
            parse_key(key_text), False, remote_addr=sock.server_addr, now=now, family=sock.family
        )
        transport: Transport = Transport(UserStream(), CompleteTerminal(80, 24), connection, now)
        transport.start_shutdown(now)
        endpoint = Endpoint(transport, sock)
        deadline = now + timeout
        while now < deadline:
            endpoint.send(now)
            wait = max(min(transport.wait_time(now), deadline - now), 0)
            select.select(endpoint.filenos(), [], [], wait / 1000.0)
            now = now_ms()
            endpoint.receive(now)
            if transport.shutdown_acknowledged():
                return True
        return False
    except Exception:  # noqa: BLE001 - best effort on the way out; the server times out
        return False
    finally:
        sock.close()
