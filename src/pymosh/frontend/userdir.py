"""The per-user private directory on the server that outlives logins.

Durable sessions (the registry), the shared UDP port and forwarded agent sockets all keep
per-user state here. Not ``/run/user/UID``: systemd-logind removes that when the user's
last login (often the bootstrap ssh itself) ends. The place is ``$PYMOSH_STATE_DIR`` if set,
else ``${XDG_STATE_HOME:-$HOME/.local/state}/pymosh``.

Every directory here is 0700 and must belong to the user: anything else (a symlink,
another owner, group or other permission bits) is refused with a one-line error rather
than used, because sockets and secrets live inside.
"""

from __future__ import annotations

import os
import socket
import stat

TYPE_CHECKING = False  # typing costs ms on pymosh-server's start-up (handoff.py)
if TYPE_CHECKING:
    from typing import Mapping

SUBDIRS = ("sessions", "ports", "agent")


class UserDirError(Exception):
    """The state directory cannot be used safely; the message is one line for the user."""


def state_dir_path(environ: Mapping[str, str] = os.environ) -> str:
    explicit = environ.get("PYMOSH_STATE_DIR")
    if explicit:
        return os.path.abspath(explicit)
    base = environ.get("XDG_STATE_HOME")
    if not base or not os.path.isabs(base):
        home = environ.get("HOME") or os.path.expanduser("~")
        base = os.path.join(home, ".local", "state")
    return os.path.join(base, "pymosh")


def check_private(path: str) -> None:
    """Raise UserDirError unless ``path`` is a real directory, ours, mode 0700 or stricter."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise UserDirError(f"cannot use {path}: {exc.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        raise UserDirError(f"refusing {path}: it is a symbolic link")
    if not stat.S_ISDIR(info.st_mode):
        raise UserDirError(f"refusing {path}: not a directory")
    if info.st_uid != os.geteuid():
        raise UserDirError(f"refusing {path}: owned by uid {info.st_uid}, not {os.geteuid()}")
    if info.st_mode & 0o077:
        raise UserDirError(
            f"refusing {path}: mode {stat.S_IMODE(info.st_mode):04o} lets others in "
            f"(fix: chmod 700 {path})"
        )


def _make_private(path: str) -> None:
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise UserDirError(f"cannot create {path}: {exc.strerror}") from None
    check_private(path)


def state_dir(environ: Mapping[str, str] = os.environ) -> str:
    """The checked state directory, created (with missing parents) if needed."""
    path = state_dir_path(environ)
    parent = os.path.dirname(path)
    try:
        os.makedirs(parent, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise UserDirError(f"cannot create {parent}: {exc.strerror}") from None
    _make_private(path)
    return path


def subdir(name: str, environ: Mapping[str, str] = os.environ) -> str:
    """One of SUBDIRS inside the state directory, checked like it."""
    if name not in SUBDIRS:
        raise ValueError(f"unknown state subdirectory {name!r}")
    path = os.path.join(state_dir(environ), name)
    _make_private(path)
    return path


def write_private_file(path: str, data: bytes) -> None:
    """Replace ``path`` atomically with a 0600 file holding ``data``.

    OSError (a full disk, say) propagates with the old file intact; no partial file stays.
    """
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def private_listener(
    path: str, kind: int = socket.SOCK_STREAM, backlog: int = 16, replace: bool = True
) -> socket.socket:
    """A listening unix socket at ``path``, 0600 from the start (bound under umask 0177).

    ``replace``: remove a socket file left by a dead owner first (the caller holds the lock
    or owns the name). OSError propagates, with nothing left open.
    """
    if replace:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    sock = socket.socket(socket.AF_UNIX, kind)
    old = os.umask(0o177)
    try:
        sock.bind(path)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    finally:
        os.umask(old)
    return sock
