"""The asking side of the session forker (`forker.py`): hand a ``pymosh-server`` request to it.

``pymosh-server new ...`` connects to ``<state dir>/forker.sock``, checks that the process
listening there is the same user (SO_PEERCRED), and sends its command line, environment,
working directory, umask and resource limits, with its stdin/stdout/stderr (SCM_RIGHTS).
The forker forks a session that becomes this process (those fds, that environment, ...)
and runs the ordinary server start-up: it prints ``MOSH CONNECT`` on our stdout itself.
We wait for one status byte and exit with it.

Standard library only and nothing heavy (no json, typing, enum: ``_socket`` rather than
``socket``): the Python entry script (``scripts/pymosh-server``) imports this under
``python -I -S`` before anything else, and every millisecond here is start-up time. The
installed ``pymosh-server`` is usually the C launcher (``launcher/pymosh-server.c``), which
sends the same request without starting CPython and runs that script when there is no
usable forker.

The request (the C launcher builds the same bytes; tests/frontend/test_launcher.py checks):
a 4-byte big-endian length, then NUL-separated fields (none can hold a NUL: they are C
strings for the kernel), each number in decimal:

- the magic (`MAGIC`), pymosh's version, the installation (`INSTALL`);
- the working directory (empty if it cannot be read), the umask;
- a count, then that many argv words (those after the program name);
- a count, then ``NAME=VALUE`` environment entries: the block this process was started
  with (``/proc/self/environ``), entries without ``=`` or with an empty name left out,
  each name once, at its first place, with its last value (a dict of it);
- a count, then ``RESOURCE:SOFT:HARD`` for each resource number from 0 up to the libc's
  RLIM_NLIMITS that getrlimit() answers, in that order (RLIM_INFINITY is -1).

Sent with stdin, stdout and stderr (SCM_RIGHTS, with the first bytes). The answer is one
status byte: the session's start-up status, or `FALLBACK` (nothing was started).
"""

from __future__ import annotations

import _socket
import os
import resource
import struct

from pymosh import __version__
from pymosh.frontend.procenv import original_environ
from pymosh.frontend.userdir import UserDirError, check_private, state_dir_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Sequence

# the installation the asker runs from: this very file (device, inode, modification time,
# whatever path spells it), which the C launcher finds with one stat(); a forker serves
# only its own (another version, copy or reinstall of pymosh makes it step aside, forker.py)
_me = os.stat(__file__)
INSTALL = f"{_me.st_dev}:{_me.st_ino}:{_me.st_mtime_ns}"
SOCKET_NAME = "forker.sock"
MAGIC = "pymosh-forker/1"
MAX_REQUEST = 1 << 20  # bytes (environment included)
FALLBACK = 255  # status: nothing was started, start in-process instead
DISABLE_ENV = "PYMOSH_FORKER"  # "0": neither use nor start a forker


def enabled(environ: os._Environ | dict[str, str] = os.environ) -> bool:
    return environ.get(DISABLE_ENV, "1") != "0"


def socket_path(environ: os._Environ | dict[str, str] = os.environ) -> str:
    return os.path.join(state_dir_path(environ), SOCKET_NAME)


def peer_uid(sock: _socket.socket) -> int:
    creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


def current_limits() -> list[tuple[int, int, int]]:
    """(resource, soft, hard) for resources 0, 1, ... up to the libc's RLIM_NLIMITS
    (where CPython's getrlimit() says ValueError)."""
    limits = []
    number = 0
    while True:
        try:
            soft, hard = resource.getrlimit(number)
            limits.append((number, soft, hard))
        except OSError:
            pass
        except ValueError:
            return limits
        number += 1


def build_request(argv: Sequence[str]) -> bytes:
    """What the forked session must become, as this process is now."""
    mask = os.umask(0o077)
    os.umask(mask)
    try:
        cwd: str | None = os.getcwd()
    except OSError:
        cwd = None
    # as this process was started: the session makes its own locale decision from it
    env = [f"{name}={value}" for name, value in original_environ().items()]
    limits = [f"{n}:{soft}:{hard}" for n, soft, hard in current_limits()]
    fields = [
        MAGIC,
        __version__,
        INSTALL,
        cwd or "",
        str(mask),
        str(len(argv)),
        *argv,
        str(len(env)),
        *env,
        str(len(limits)),
        *limits,
    ]
    data = b"\0".join(os.fsencode(field) for field in fields)
    return struct.pack("!I", len(data)) + data


def parse_request(data: bytes) -> dict | None:
    """The fields of `build_request`'s body; None if it is not this installation's."""
    fields = [os.fsdecode(field) for field in data.split(b"\0")]
    if fields[:3] != [MAGIC, __version__, INSTALL]:
        return None
    cwd, umask = fields[3] or None, int(fields[4])
    rest = fields[5:]
    lists = []
    for _ in range(3):
        count = int(rest[0])
        if count < 0 or count > len(rest) - 1:
            raise ValueError("bad count")
        lists.append(rest[1 : 1 + count])
        rest = rest[1 + count :]
    if rest:
        raise ValueError("trailing fields")
    argv, env, limits = lists
    return {
        "cwd": cwd,
        "umask": umask,
        "argv": argv,
        "env": dict(entry.split("=", 1) for entry in env),
        "rlimits": [tuple(int(x) for x in item.split(":")) for item in limits],
    }


def request(argv: Sequence[str]) -> int | None:
    """Start the session through the forker; its exit status, or None when there is no
    usable forker (nothing was started: the caller starts the session itself)."""
    if not enabled() or (argv and argv[0] in ("list", "kill", "resume")):
        return None  # (server.SESSION_COMMANDS: not a new session)
    try:
        path = socket_path()
        check_private(os.path.dirname(path))
    except UserDirError:
        return None
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        try:
            sock.connect(path)
            if peer_uid(sock) != os.getuid():
                return None
            payload = build_request(argv)
            sent = sock.sendmsg(
                [payload], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack("3i", 0, 1, 2))]
            )
            # (not a send of nothing: to a peer that answered and closed, that is EPIPE)
            if sent < len(payload):
                sock.sendall(payload[sent:])
        except (OSError, ValueError, TypeError):
            return None  # the forker never got the request: start in-process
        try:
            status = sock.recv(1)
        except OSError:
            status = b""
        if not status:
            # the request was delivered: a session may have started, so no second one
            os.write(2, b"pymosh-server: the session forker failed\n")
            return 1
        return None if status[0] == FALLBACK else status[0]
    finally:
        sock.close()
