"""``[user@]host[:PORT]`` and ``[user@][IPv6]:PORT``: the ssh port written after the host.

Blink's Mosh guide reaches a tunnelled ssh with ``mosh localhost:1234``; ssh itself takes
no port in the host name, so the wrapper splits it off and passes it as ``-p``. A bare
IPv6 address (``::1``, ``fe80::1%eth0``) has no port: only the bracketed form takes one.
"""

from __future__ import annotations


class HostSpecError(ValueError):
    """A host argument that cannot be meant (the message names it)."""


def split_host_port(spec: str) -> tuple[str, str | None]:
    """(``[user@]host`` for ssh, port text or None)."""
    user, at, rest = spec.rpartition("@")
    prefix = user + at
    if rest.startswith("["):
        inner, close, tail = rest[1:].partition("]")
        if not close or not inner:
            raise HostSpecError(f"{spec}: unbalanced [ ] around the host")
        if not tail:
            return prefix + inner, None
        if not tail.startswith(":"):
            raise HostSpecError(f"{spec}: expected :PORT after ]")
        return prefix + inner, _port(spec, tail[1:])
    if rest.count(":") != 1:
        return spec, None  # no port, or a bare IPv6 address
    host, _, port = rest.partition(":")
    if not host:
        raise HostSpecError(f"{spec}: no host before :PORT")
    return prefix + host, _port(spec, port)


def _port(spec: str, text: str) -> str:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise HostSpecError(f"{spec}: bad ssh port {text!r} (want 1-65535)")
    return str(int(text))
