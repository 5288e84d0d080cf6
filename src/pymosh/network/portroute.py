"""Which session a datagram on a shared UDP port belongs to (sans-I/O; issue #16).

Several sessions of one user share one UDP port. The port's owner cannot route by source
address (clients roam, NATs rebind), so it routes by authentication: a datagram belongs to
the session whose key opens it. Trials are ordered so the common case costs one: the
session last seen at the datagram's source address is tried first, then the others.

Cost per datagram (N live sessions, one trial = one AES-OCB open of the datagram):
an authentic datagram from a known address: 1 trial; from a new address (a roam): at most
N; an unauthenticated one (garbage, forgery, wrong direction): at most N, and zero when
the nonce's direction bit or the length already rule it out. Replays authenticate (the
session's own transport drops them, as a lone mosh-server would); they only move the
address hint, never the routing of genuine datagrams.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Hashable, Iterator

from pymosh.errors import DecodeError

TO_SERVER = 0
MIN_DATAGRAM = 8 + 16 + 4  # nonce, tag, timestamps
MAX_DATAGRAM = 2048  # Mosh's receive MTU: larger ones are dropped anyway
MAX_HINTS = 4096  # bound on remembered source addresses

Sid = Hashable


def _default_session(key: bytes) -> Any:
    from pymosh.crypto import Session

    return Session(key)


class Router:
    """Sessions keyed by an opaque id; ``route`` names the one a datagram authenticates for."""

    def __init__(self, session_class: Callable[[bytes], Any] | None = None) -> None:
        self._make = session_class or _default_session
        self._ciphers: Dict[Sid, Any] = {}
        self._hint: Dict[Any, Sid] = {}  # source address -> session last seen there
        self.trials = 0  # decryptions attempted (for the bench/tests)

    def __len__(self) -> int:
        return len(self._ciphers)

    def __contains__(self, sid: Sid) -> bool:
        return sid in self._ciphers

    def sessions(self) -> Iterator[Sid]:
        return iter(self._ciphers)

    def add(self, sid: Sid, key: bytes) -> None:
        """Register ``sid`` with ``key``, or give it a new key (a resume): the old one is
        refused from now on."""
        self._ciphers[sid] = self._make(key)

    rekey = add

    def remove(self, sid: Sid) -> None:
        self._ciphers.pop(sid, None)
        stale = [addr for addr, owner in self._hint.items() if owner == sid]
        for addr in stale:
            del self._hint[addr]

    def route(self, datagram: bytes, addr: Any) -> Sid | None:
        """The session ``datagram`` authenticates for, or None (drop it)."""
        if not MIN_DATAGRAM <= len(datagram) <= MAX_DATAGRAM or datagram[0] & 0x80:
            return None  # too short/long, or sent towards a client: no trial
        first = self._hint.get(addr)
        if first is not None and self._opens(first, datagram):
            return first
        for sid in self._ciphers:
            if sid != first and self._opens(sid, datagram):
                if len(self._hint) >= MAX_HINTS:
                    self._hint.clear()
                self._hint[addr] = sid
                return sid
        return None

    def _opens(self, sid: Sid, datagram: bytes) -> bool:
        cipher = self._ciphers.get(sid)
        if cipher is None:
            return False
        self.trials += 1
        try:
            cipher.open_datagram(datagram, TO_SERVER)
        except DecodeError:
            return False
        return True
