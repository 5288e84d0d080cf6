"""The wrapper's server command (ssh, or a local pymosh-server) as a child process whose
stdout and stderr go to one pipe, started with ``posix_spawn``.

What ``subprocess.Popen(argv, stdin=DEVNULL, stdout=PIPE, stderr=STDOUT, env=, cwd=)`` did,
without importing ``subprocess`` (with ``locale``, ``signal``, ``threading`` and
``contextlib``: milliseconds before the server starts): the program is looked up on the
``PATH`` of ``env``; inherited descriptors other than 0-2 are closed; SIGPIPE and SIGXFSZ
(ignored by CPython) are default again; a failure to start is an ``OSError``.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from typing import BinaryIO, Sequence
else:
    import _signal as signal  # signal.py's constants without its enum classes (start-up)


class Child:
    """A started child: ``pid``, ``stdout`` (its output, buffered), `wait`, `kill`."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], cwd: str | None = None) -> None:
        read_end, write_end = os.pipe()
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            # each at 3 or above: posix_spawn's dup2 onto an fd it already is would leave
            # its close-on-exec flag set
            write_end, null = _above_stdio(write_end), _above_stdio(null)
            actions: list[tuple[int, ...]] = [
                (os.POSIX_SPAWN_DUP2, null, 0),
                (os.POSIX_SPAWN_DUP2, write_end, 1),
                (os.POSIX_SPAWN_DUP2, write_end, 2),
            ]
            actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inherited()]
            self.pid = _spawn(_find(argv[0], env), list(argv), env, actions, cwd)
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
            os.close(null)
        self.stdout: BinaryIO = os.fdopen(read_end, "rb")
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit status (``-N``: killed by signal N) if it has ended, else None."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float) -> int | None:
        """The exit status, waiting at most ``timeout`` seconds (None: still running)."""
        deadline = time.monotonic() + timeout
        delay = 0.0005
        while self.poll() is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(delay, left))
            delay = min(delay * 2, 0.05)
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _above_stdio(fd: int) -> int:
    if fd > 2:
        return fd
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    os.close(fd)
    return moved


def _inherited() -> list[int]:
    """Descriptors above 2 this process got from its parent without close-on-exec."""
    fds = []
    for name in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else ():
        fd = int(name)
        try:
            if fd > 2 and os.get_inheritable(fd):
                fds.append(fd)
        except OSError:
            pass  # (the directory's own descriptor, closed by now)
    return fds


def _find(program: str, env: dict[str, str]) -> str:
    """``program`` as ``subprocess`` finds it: on the PATH of ``env`` unless it has a
    slash (OSError as the exec would fail: no such file, else permission denied)."""
    if os.sep in program:
        return program
    denied = False
    for directory in os.get_exec_path(env):
        path = os.path.join(directory, program)
        if os.path.isfile(path):
            if os.access(path, os.X_OK):
                return path
            denied = True
    code = errno.EACCES if denied else errno.ENOENT
    raise OSError(code, os.strerror(code), program)


def _spawn(path: str, argv: list[str], env: dict[str, str], actions: list, cwd: str | None) -> int:
    """posix_spawn in ``cwd`` (this process goes there for the call and comes back: the
    wrapper has no other thread yet)."""
    flags = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_CLOEXEC
    back = os.open(".", flags) if cwd else None
    try:
        if cwd:
            os.chdir(cwd)
        return os.posix_spawn(
            path,
            argv,
            env,
            file_actions=actions,
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
        )
    finally:
        if back is not None:
            os.fchdir(back)
            os.close(back)
