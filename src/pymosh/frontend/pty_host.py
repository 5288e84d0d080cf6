"""The server's child: a login shell (or a command) on a pty, held until a client arrives.

The child blocks on a private pipe after fork and execs only when ``release()`` is
called — when the first client state arrived, so the program starts at the client's
window size. (Mosh 1.4.0 writes a newline into the pty instead, which the pty echoes
as a blank first line; later Mosh versions use a pipe, as here.)
"""

from __future__ import annotations

import errno
import fcntl
import os
import pty
import pwd
import signal
import struct
import sys
import termios
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Sequence

READ_SIZE = 16384
HANGUP_GRACE = 1.0  # s to wait for the shell to end after the hangup
MOTD_FILES = ("/run/motd.dynamic", "/var/run/motd.dynamic", "/etc/motd")


def user_shell() -> str:
    shell = os.environ.get("SHELL")
    if not shell:
        try:
            shell = pwd.getpwuid(os.getuid()).pw_shell
        except KeyError:
            shell = ""
    return shell or "/bin/sh"


def set_winsize(fd: int, width: int, height: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


class PtyHost:
    """Spawn ``argv`` (None = the user's login shell) on a new pty of the given size."""

    def __init__(
        self, argv: Sequence[str] | None, env: Mapping[str, str], width: int, height: int
    ) -> None:
        self.pid = -1
        self.fd = -1
        self.exit_status: int | None = None
        release_r, self._release_w = os.pipe()
        login = not argv
        if argv:
            path, args = argv[0], list(argv)
        else:
            shell = user_shell()
            path, args = shell, ["-" + os.path.basename(shell)]
        pid, fd = pty.fork()
        if pid == 0:  # child
            try:
                os.close(self._release_w)
                self._child(path, args, env, login, release_r, width, height)
            finally:
                os._exit(127)
        os.close(release_r)
        self.pid, self.fd = pid, fd
        set_winsize(fd, width, height)
        self.released = False

    @staticmethod
    def _child(
        path: str,
        args: list[str],
        env: Mapping[str, str],
        login: bool,
        release_r: int,
        width: int,
        height: int,
    ) -> None:
        for signum in (
            signal.SIGHUP,
            signal.SIGPIPE,
            signal.SIGINT,
            signal.SIGTERM,
            signal.SIGUSR1,
            signal.SIGCHLD,
        ):
            signal.signal(signum, signal.SIG_DFL)
        try:  # IUTF8: the kernel's line editor erases whole UTF-8 characters
            attrs = termios.tcgetattr(0)
            attrs[0] |= getattr(termios, "IUTF8", 0)
            termios.tcsetattr(0, termios.TCSANOW, attrs)
            set_winsize(0, width, height)
        except termios.error:
            pass
        child_env = dict(env)
        home = child_env.get("HOME") or _home()
        if home:
            try:
                os.chdir(home)
                child_env["PWD"] = home
            except OSError:
                pass
        if login and home and not os.path.exists(os.path.join(home, ".hushlogin")):
            _print_motd()
        # wait for the first client state (EOF also releases: the server is gone)
        while True:
            try:
                os.read(release_r, 1)
                break
            except InterruptedError:
                continue
        os.close(release_r)
        try:
            os.execvpe(path, args, child_env)
        except OSError as exc:
            sys.stderr.write(f"pymosh-server: cannot run {path}: {exc.strerror}\r\n")
            sys.stderr.flush()

    def release(self) -> None:
        if not self.released:
            self.released = True
            try:
                os.write(self._release_w, b"\n")
            except OSError:
                pass
            os.close(self._release_w)

    def resize(self, width: int, height: int) -> None:
        set_winsize(self.fd, width, height)

    def read(self) -> bytes:
        """Up to 16 KiB of output; b"" once the child side is gone (EOF or EIO)."""
        try:
            return os.read(self.fd, READ_SIZE)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EINTR):
                raise
            return b""

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.fd, view) :]
            except InterruptedError:
                continue

    def reap(self, block: bool = False) -> int | None:
        """The child's exit status once it has ended (reaping it), else None."""
        if self.exit_status is None and self.pid > 0:
            try:
                pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                self.exit_status = -1
                return self.exit_status
            if pid:
                self.exit_status = (
                    os.waitstatus_to_exitcode(status)
                    if hasattr(os, "waitstatus_to_exitcode")
                    else status
                )
        return self.exit_status

    def close(self) -> None:
        """End the session as ssh does: close the master, so the kernel hangs up the pty
        (SIGHUP to the shell, then to its foreground group). Programs ignoring SIGHUP (a
        ``nohup`` job, a trap that saves state) carry on; nothing is ever SIGKILLed."""
        if not self.released and self.pid > 0 and self.reap() is None:
            # still our own pre-exec code waiting for a client: no user program yet
            self.released = True
            os.close(self._release_w)
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
            self.reap(block=True)
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        deadline = time.monotonic() + HANGUP_GRACE
        while self.reap() is None and time.monotonic() < deadline:
            time.sleep(0.02)  # only at exit: reap a shell that ends on the hangup
        # a shell still running is reaped by init once this process exits


def _home() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        return ""


def _print_motd() -> None:
    for path in MOTD_FILES[:2]:
        if _copy_file(path):
            break
    _copy_file(MOTD_FILES[2])


def _copy_file(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    os.write(1, data)
    return True
