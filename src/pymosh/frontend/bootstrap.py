"""Sans-I/O parsing of what ``ssh host -- pymosh-server new ...`` prints (protocol.md §7.3 step 5).

The output mixes banners, motd text, ssh warnings and the server's own stderr; only three
kinds of line matter. Lines may end in ``\\r`` (ssh -tt gives the remote side a pty).
Matched with string methods, not ``re``: the wrapper imports this before it starts the
server, and ``re`` (with ``enum``) is milliseconds of every ``pymosh`` start.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

_IP_PREFIX = "MOSH IP "
_SSH_CONNECTION_PREFIX = "MOSH SSH_CONNECTION "
_CONNECT_PREFIX = "MOSH CONNECT "
NO_REGISTRY = "MOSH NO-REGISTRY"  # printed by session_commands.guarded()
CHOOSE_SESSION = "MOSH CHOOSE-SESSION"  # pymosh-server resume: several detached sessions
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+")
_DETACHED = ("[pymosh-server detached, pid = ", "[mosh-server detached, pid = ")


def _word(text: str) -> str | None:
    """``text`` without trailing whitespace if that is one word (no whitespace), else None."""
    word = text.rstrip()
    return word if word and not any(map(str.isspace, word)) else None


class BootstrapError(Exception):
    """The server's start-up output was malformed (the message is safe to show)."""


class Bootstrap:
    """Feed output lines; ``done`` once ``MOSH CONNECT`` was seen.

    Lines that are not for us accumulate in ``passthrough`` for the caller to show.
    The key is kept out of every message and ``repr``.
    """

    def __init__(self) -> None:
        self.ip: str | None = None
        self.port: int | None = None
        self.key: str | None = None
        self.saw_bad_port = False
        self.no_registry = False  # a list/kill/resume reached a server without a registry
        self.choose_session = False  # resume without ID found several detached sessions
        self.server_pid: int | None = None
        self.passthrough: list[str] = []
        # (pymosh's) what finishes a launcher beside the in-process client: run once the
        # client's first datagram is out
        self.finish: Callable[[], None] | None = None

    def __repr__(self) -> str:
        return f"Bootstrap(ip={self.ip!r}, port={self.port!r}, server_pid={self.server_pid!r})"

    @property
    def done(self) -> bool:
        return self.port is not None

    def feed_line(self, raw: str) -> None:
        line = raw.rstrip("\n")
        stripped = line.rstrip("\r")
        ip = _word(stripped[len(_IP_PREFIX) :]) if stripped.startswith(_IP_PREFIX) else None
        if ip is not None:
            if self.ip is not None:
                raise BootstrapError("Found more than one remote IP address (MOSH IP).")
            self.ip = ip
            return
        # (a line break only in the trailing whitespace, as the former regex allowed)
        if stripped.startswith(_SSH_CONNECTION_PREFIX) and "\n" not in stripped.rstrip():
            words = stripped[len(_SSH_CONNECTION_PREFIX) :].split()
            if len(words) != 4:
                raise BootstrapError("Bad MOSH SSH_CONNECTION string.")
            if self.ip is not None:
                raise BootstrapError("Found more than one remote IP address.")
            self.ip = words[2]
            return
        if stripped.startswith(_CONNECT_PREFIX):
            port_text, _, key = stripped[len(_CONNECT_PREFIX) :].partition(" ")
            key = key.rstrip()
            if not (port_text.isdecimal() and len(key) == 22 and _KEY_CHARS.issuperset(key)):
                raise BootstrapError("Bad MOSH CONNECT string.")
            port = int(port_text)
            if not 1 <= port <= 65535:
                raise BootstrapError("Bad MOSH CONNECT string (port out of range).")
            self.port, self.key = port, key
            return
        if stripped == NO_REGISTRY:
            self.no_registry = True
            return
        if stripped == CHOOSE_SESSION:
            self.choose_session = True
            return
        if "Bad UDP port" in stripped:
            self.saw_bad_port = True
        self.passthrough.append(stripped)

    def feed_trailer(self, raw: str) -> None:
        """A line after MOSH CONNECT: only the detached server's pid matters."""
        line = raw.strip()
        for prefix in _DETACHED:
            number = line[len(prefix) : -1]
            if line.startswith(prefix) and line.endswith("]") and number.isdecimal():
                self.server_pid = int(number)
