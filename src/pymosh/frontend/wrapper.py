"""``pymosh``: start a server over the user's own ssh (or locally), then run the client.

Behaves like Mosh's ``mosh`` script (protocol.md §7.3). The default client runs in this
process (no second interpreter start-up); the session key goes from the server's stdout
to it as bytes. A ``--client=`` command is exec'd with the key in ``MOSH_KEY``, as Mosh
does. The key is never put in argv or printed.
"""

from __future__ import annotations

import _thread
import os
import select
import sys
import time

from pymosh import __version__, _accel
from pymosh.frontend import PREDICTION_MODES
from pymosh.frontend.bootstrap import Bootstrap, BootstrapError
from pymosh.frontend.child import Child
from pymosh.frontend.forwarding import ForwardError, ForwardOptions, listen_tcp, parse_forward
from pymosh.frontend.hostspec import HostSpecError, split_host_port
from pymosh.frontend.locale_check import LOCALE_VARS, is_utf8_locale, locale_env_summary
from pymosh.frontend.programs import is_pymosh_server, own_program
from pymosh.frontend.session_commands import (
    NO_REGISTRY,
    guarded,
    no_registry_message,
    split_resume,
    words_for,
)
from pymosh.frontend.termcolour import TRUECOLOR, local_truecolor
from pymosh.network.udp import PortRangeError, parse_port_range

TYPE_CHECKING = False
if TYPE_CHECKING:  # (imported where used: jump hosts only; json, hashlib, tempfile...)
    import argparse
    import signal
    import socket
    from typing import Any, Callable, NoReturn, Sequence

    from pymosh.frontend.jump import Bastion
else:
    # what socket.py and signal.py wrap, without their enum classes (start-up milliseconds)
    import _signal as signal
    import _socket as socket

FAMILIES = ("inet", "inet6", "auto", "all", "prefer-inet", "prefer-inet6")
REMOTE_IP_MODES = ("proxy", "local", "remote")


class WrapperError(Exception):
    """A failure with a message meant for the user; exit status 255 (like mosh)."""


def _lines(text: str) -> int:
    if not text.isdigit():
        import argparse

        raise argparse.ArgumentTypeError(f"not a number of lines: {text!r}")
    return int(text)


class ChooseSession(WrapperError):
    """``--resume`` without ID found several detached sessions: the user picks one."""


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` finds it: $COLUMNS, stdout's
    terminal, else 80."""
    text = os.environ.get("COLUMNS", "")
    if text.isdigit() and int(text) > 0:
        return int(text)
    try:
        return os.get_terminal_size(1).columns or 80
    except (ValueError, OSError):
        return 80


def build_parser() -> argparse.ArgumentParser:
    """The command line as argparse reads it: help, errors and every form `fast_args`
    leaves to it (argparse, with re, enum and gettext, costs milliseconds of start-up).
    A new option also goes into `DEFAULTS` (tests/frontend/test_cli.py compares) and, to be
    read without argparse, into `_FLAGS` or `_VALUED`."""
    import argparse

    class HelpFormatter(argparse.HelpFormatter):
        """argparse's own, sized without ``shutil`` (which argparse imports for every
        parser it builds, and with it bz2, lzma and fnmatch)."""

        def __init__(
            self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width=None
        ) -> None:
            if width is None:
                width = _columns() - 2
            super().__init__(prog, indent_increment, max_help_position, width)

    p = argparse.ArgumentParser(
        prog="pymosh",
        formatter_class=HelpFormatter,
        usage=(
            "pymosh [options] [--] [user@]host[:PORT] [command...]\n"
            "       pymosh [options] --local [host] [-- command...]"
        ),
        description="Mobile shell: start pymosh-server on HOST over ssh and connect to it.",
        epilog="See pymosh(1) for the environment variables and the escape keys.",
    )
    p.add_argument(
        "--client",
        default=None,
        help="client command on the local machine (default: the pymosh-client "
        "installed with this pymosh)",
    )
    p.add_argument(
        "--server",
        default=None,
        help="server command (default: pymosh-server on the remote PATH; with "
        "--local the one installed with this pymosh)",
    )
    p.add_argument(
        "--predict",
        choices=PREDICTION_MODES,
        default=None,
        help="local echo: adaptive (default), always, never, experimental",
    )
    p.add_argument(
        "-a", dest="predict", action="store_const", const="always", help="--predict=always"
    )
    p.add_argument(
        "-n", dest="predict", action="store_const", const="never", help="--predict=never"
    )
    p.add_argument(
        "-o",
        "--predict-overwrite",
        action="store_true",
        help="prediction overwrites instead of inserting",
    )
    p.add_argument("-4", dest="family", action="store_const", const="inet", help="--family=inet")
    p.add_argument("-6", dest="family", action="store_const", const="inet6", help="--family=inet6")
    p.add_argument(
        "--family",
        choices=FAMILIES,
        default="prefer-inet",
        help="address family for the server (default: prefer-inet)",
    )
    p.add_argument(
        "-p",
        "--port",
        default=None,
        metavar="PORT[:PORT2]",
        help="server-side UDP port or range (one port is shared by all your sessions on the host)",
    )
    p.add_argument(
        "-J",
        "--jump",
        default=None,
        metavar="[USER@]BASTION[:PORT]",
        help="reach the host through this jump host, UDP too (a relay there); "
        "default: the host's ProxyJump from the ssh configuration",
    )
    p.add_argument(
        "--relay-port",
        type=int,
        default=None,
        metavar="PORT",
        help="the relay's UDP port on the jump host, shared by all your relays "
        "there (default 60001)",
    )
    p.add_argument(
        "--no-share-port",
        action="store_true",
        help="bind -p PORT for this session alone, as Mosh does",
    )
    p.add_argument(
        "-P", "--ssh-port", default=None, metavar="PORT", help="ssh port (passed to ssh as -p)"
    )
    p.add_argument(
        "--bind-server",
        default="ssh",
        metavar="{ssh|any|IP}",
        help="what address the server binds to (default: ssh)",
    )
    p.add_argument(
        "--ssh", default="ssh", metavar="COMMAND", help="ssh command to run (default: ssh)"
    )
    p.add_argument("--no-ssh-pty", action="store_true", help="do not allocate a pty on ssh")
    p.add_argument(
        "--no-init", action="store_true", help="do not switch the terminal to its alternate screen"
    )
    p.add_argument(
        "--scrollback",
        type=_lines,
        default=None,
        metavar="N",
        help="lines of remote history kept in this terminal's scrollback with a "
        "pymosh server (default: $PYMOSH_SCROLLBACK or 10000; 0: off)",
    )
    p.add_argument(
        "--local",
        action="store_true",
        help="run the server on this machine, without ssh (host: the address "
        "to use, default 127.0.0.1, or ::1 with -6)",
    )
    p.add_argument(
        "--experimental-remote-ip",
        choices=REMOTE_IP_MODES,
        default="proxy",
        help="how to find the server's IP address (default: proxy)",
    )
    p.add_argument(
        "-A",
        dest="forward_agent",
        action="store_true",
        help="forward the local ssh agent (SSH_AUTH_SOCK) into the session",
    )
    p.add_argument(
        "-L",
        dest="local_forward",
        action="append",
        default=[],
        metavar="[BIND:]PORT:HOST:HOSTPORT",
        help="forward a local port to HOST:HOSTPORT seen from the server",
    )
    p.add_argument(
        "-R",
        dest="remote_forward",
        action="append",
        default=[],
        metavar="[BIND:]PORT:HOST:HOSTPORT",
        help="forward a server port to HOST:HOSTPORT seen from here",
    )
    p.add_argument("--fake-proxy", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--list", action="store_true", help="list your pymosh sessions on HOST")
    p.add_argument(
        "--resume",
        nargs="?",
        const="",
        default=None,
        metavar="ID",
        help="resume the detached session on HOST (--resume=ID: that one)",
    )
    p.add_argument(
        "--kill",
        default=None,
        metavar="ID",
        help="end session ID on HOST (all-detached: every detached one)",
    )
    p.set_defaults(family="prefer-inet")
    p.add_argument("--version", action="store_true", help="print version and exit")
    p.add_argument(
        "host",
        nargs="?",
        help="[user@]host, [user@]host:PORT or [IPv6]:PORT (PORT: the ssh port, like -P)",
    )
    p.add_argument("command", nargs=argparse.REMAINDER, help="remote command")
    return p


class Options:
    """The parsed command line when `fast_args` read it (argparse's Namespace otherwise)."""

    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"Options({self.__dict__!r})"


# what build_parser() gives when no option is given
DEFAULTS: dict[str, object] = {
    "client": None,
    "server": None,
    "predict": None,
    "predict_overwrite": False,
    "family": "prefer-inet",
    "port": None,
    "jump": None,
    "relay_port": None,
    "no_share_port": False,
    "ssh_port": None,
    "bind_server": "ssh",
    "ssh": "ssh",
    "no_ssh_pty": False,
    "no_init": False,
    "scrollback": None,
    "local": False,
    "experimental_remote_ip": "proxy",
    "forward_agent": False,
    "local_forward": [],
    "remote_forward": [],
    "fake_proxy": False,
    "list": False,
    "resume": None,
    "kill": None,
    "version": False,
    "host": None,
    "command": [],
}
# options without a value: (destination, value)
_FLAGS: dict[str, tuple[str, object]] = {
    "-a": ("predict", "always"),
    "-n": ("predict", "never"),
    "-o": ("predict_overwrite", True),
    "--predict-overwrite": ("predict_overwrite", True),
    "-4": ("family", "inet"),
    "-6": ("family", "inet6"),
    "--no-share-port": ("no_share_port", True),
    "--no-ssh-pty": ("no_ssh_pty", True),
    "--no-init": ("no_init", True),
    "--local": ("local", True),
    "-A": ("forward_agent", True),
    "--fake-proxy": ("fake_proxy", True),
    "--list": ("list", True),
    "--resume": ("resume", ""),  # (an ID only as --resume=ID: session_commands.split_resume)
    "--version": ("version", True),
}
# options with a value: destination, and the values argparse accepts as they are (None:
# any string; else a tuple of choices, or a str method that must say True)
_VALUED: dict[str, tuple[str, object]] = {
    "--client": ("client", None),
    "--server": ("server", None),
    "--predict": ("predict", PREDICTION_MODES),
    "--family": ("family", FAMILIES),
    "-p": ("port", None),
    "--port": ("port", None),
    "-J": ("jump", None),
    "--jump": ("jump", None),
    "--relay-port": ("relay_port", str.isdigit),
    "-P": ("ssh_port", None),
    "--ssh-port": ("ssh_port", None),
    "--bind-server": ("bind_server", None),
    "--ssh": ("ssh", None),
    "--scrollback": ("scrollback", str.isdigit),
    "--experimental-remote-ip": ("experimental_remote_ip", REMOTE_IP_MODES),
    "-L": ("local_forward", None),
    "-R": ("remote_forward", None),
    "--kill": ("kill", None),
}
_APPENDED = ("local_forward", "remote_forward")
_NUMBERS = ("relay_port", "scrollback")


def fast_args(argv: Sequence[str]) -> Options | None:
    """What ``build_parser().parse_args(split_resume(argv, ...))`` gives, for the command
    lines people type (options spelt in full, each value in its own word or after ``=``,
    then ``[host [command...]]`` or ``-- command...``); None for anything else (help,
    abbreviations, clustered short options, mistakes...), which argparse then reads. Every
    accepted form is checked against argparse in tests/frontend/test_cli.py."""
    values = {k: list(v) if isinstance(v, list) else v for k, v in DEFAULTS.items()}
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            rest = argv[i + 1 :]
            # (argparse gives the first word to the host; the fix-up in `parse` moves it
            # for --local)
            if not rest or rest[0].startswith("-") or "--" in rest[1:]:
                return None
            values["host"], values["command"] = rest[0], list(rest[1:])
            return Options(**values)
        if not word.startswith("-"):
            if "--" in argv[i + 1 :]:
                return None  # (what argparse keeps of a later "--" changed between versions)
            values["host"], values["command"] = word, list(argv[i + 1 :])
            return Options(**values)
        if word in _FLAGS:
            dest, value = _FLAGS[word]
            values[dest] = value
            i += 1
            continue
        name, equals, value = word.partition("=")
        if equals and name.startswith("--") and (name in _VALUED or name == "--resume"):
            i += 1
        elif word in _VALUED and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            name, value = word, argv[i + 1]
            i += 2
        else:
            return None
        if name == "--resume":
            values["resume"] = value
            continue
        dest, accepted = _VALUED[name]
        if isinstance(accepted, tuple) and value not in accepted:
            return None
        if callable(accepted) and not (value.isascii() and accepted(value)):
            return None
        if dest in _APPENDED:
            values[dest].append(value)  # type: ignore[attr-defined]
        else:
            values[dest] = int(value) if dest in _NUMBERS else value
    return Options(**values)


# ----------------------------------------------------------------- address resolution


def resolve(host: str, port: int, family: str) -> list[tuple[int, str]]:
    """(address family, numeric address) candidates for ``host``, ordered by ``family``."""
    wanted = {"inet": socket.AF_INET, "inet6": socket.AF_INET6}.get(family, socket.AF_UNSPEC)
    try:
        # an ASCII name as bytes: a str loads the idna codec (start-up milliseconds)
        name = host.encode() if host.isascii() else host
        infos = socket.getaddrinfo(name, port, wanted, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise WrapperError(f"{host}: could not resolve hostname: {exc.strerror}") from None
    seen: list[tuple[int, str]] = []
    for fam, _, _, _, addr in infos:
        if (fam, str(addr[0])) not in seen:
            seen.append((fam, str(addr[0])))
    if family == "auto" and len({fam for fam, _ in seen}) > 1:
        raise WrapperError(f"{host} has both IPv4 and IPv6 addresses; use -4, -6 or --family")
    if family == "prefer-inet":
        seen.sort(key=lambda a: a[0] != socket.AF_INET)
    elif family == "prefer-inet6":
        seen.sort(key=lambda a: a[0] != socket.AF_INET6)
    if not seen:
        raise WrapperError(f"{host}: no address of family {family}")
    return seen


def fake_proxy(host: str, port: int, family: str) -> int:
    """ssh's ProxyCommand: connect by TCP, report ``MOSH IP`` on stderr, relay both ways."""
    import selectors

    sock = None
    for fam, addr in resolve(host, port, family):
        candidate = socket.socket(fam, socket.SOCK_STREAM)
        try:
            candidate.connect((addr, port))
        except OSError:
            candidate.close()
            continue
        sock = candidate
        sys.stderr.write(f"MOSH IP {addr}\n")
        sys.stderr.flush()
        break
    if sock is None:
        sys.stderr.write(f"pymosh: could not connect to {host} port {port}\n")
        return 1
    stdin, stdout = sys.stdin.buffer.fileno(), sys.stdout.buffer.fileno()
    sel = selectors.DefaultSelector()
    sel.register(stdin, selectors.EVENT_READ)
    sel.register(sock, selectors.EVENT_READ)
    open_ends = 2
    while open_ends:
        for key, _ in sel.select():
            if key.fileobj == stdin:
                data = os.read(stdin, 65536)
                if data:
                    sock.sendall(data)
                    continue
                sock.shutdown(socket.SHUT_WR)
            else:
                data = sock.recv(65536)
                if data:
                    _write_all(stdout, data)
                    continue
            sel.unregister(key.fileobj)
            open_ends -= 1
            if key.fileobj != stdin:
                return 0
    return 0


def _words(text: str) -> list[str]:
    """A command's words as a shell splits them (``shlex`` imports ``re``: only when used)."""
    import shlex

    return shlex.split(text)


def _quote(word: str) -> str:
    import shlex

    return shlex.quote(word)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# ----------------------------------------------------------------- command construction


def colours_to_send(
    server_words: list[str], env: dict[str, str], colors: int, terminfo_rgb: bool
) -> int:
    """The terminal's colour count, or 2^24 for pymosh-server when the local terminal has
    24-bit colour (a stock mosh-server gets exactly what it always got)."""
    if is_pymosh_server(server_words) and local_truecolor(env, terminfo_rgb):
        return TRUECOLOR
    return colors


def server_arguments(
    args: argparse.Namespace, colors: int, bind_ip: str | None, env: dict[str, str]
) -> list[str]:
    """Arguments after the server command: ``new -c N [-s|-i IP] [-p P] -l ... [-- cmd]``."""
    words = ["new", "-c", str(colors), *forward_options(args).argv(local=False)]
    if args.bind_server == "ssh":
        words += ["-i", bind_ip] if args.local and bind_ip else ["-s"]
    elif args.bind_server != "any":
        words += ["-i", args.bind_server]
    if args.port:
        words += ["-p", args.port]
    if args.no_share_port:
        words.append("--no-share-port")
    for name in LOCALE_VARS:
        if name in env:
            words += ["-l", f"{name}={env[name]}"]
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if command:
        words += ["--", *command]
    return words


def forward_options(args: argparse.Namespace) -> ForwardOptions:
    """-A/-L/-R, checked (ForwardError for a bad specification)."""
    opts = ForwardOptions()
    opts.agent = args.forward_agent
    opts.local = [parse_forward(spec) for spec in args.local_forward]
    opts.remote = [parse_forward(spec) for spec in args.remote_forward]
    return opts


def check_forwarding(args: argparse.Namespace) -> ForwardOptions:
    """Forwarding needs pymosh at both ends; a taken -L port fails before the server runs."""
    try:
        opts = forward_options(args)
        server = _words(args.server) if args.server else own_program("pymosh-server")
        client = _words(args.client) if args.client else own_program("pymosh-client")
        if opts and (
            not is_pymosh_server(server)
            or not client
            or os.path.basename(client[0]) == "mosh-client"
        ):
            raise ForwardError("-A, -L and -R need pymosh-server and pymosh-client")
        for fwd in opts.local:
            listen_tcp(fwd, "-L").close()
    except ForwardError as exc:
        raise WrapperError(str(exc)) from None
    return opts


def ssh_argv(args: argparse.Namespace, remote_command: str, proxy: str | None = None) -> list[str]:
    """The user's ssh, with the proxy / pty options mosh adds (``proxy``: a jump host's)."""
    argv = _words(args.ssh)
    if not args.no_ssh_pty:
        argv.append("-tt")
    argv.append("-n")
    if args.ssh_port:
        argv += ["-p", args.ssh_port]
    if proxy is not None:
        argv += ["-S", "none", "-o", "ProxyCommand=" + proxy]
    elif args.experimental_remote_ip == "proxy":
        proxy_words = [
            sys.executable,
            "-m",
            "pymosh.frontend.wrapper",
            f"--family={args.family}",
            "--fake-proxy",
            "--",
            "%h",
            "%p",
        ]
        argv += [
            "-S",
            "none",
            "-o",
            "ProxyCommand=" + " ".join(_quote(w) for w in proxy_words),
        ]
    elif args.experimental_remote_ip == "remote" and args.family in ("inet", "inet6"):
        argv.append("-4" if args.family == "inet" else "-6")
    argv += [args.host, "--", remote_command]
    return argv


# ----------------------------------------------------------------- running the server


def read_bootstrap(proc: Child, boot: Bootstrap) -> None:
    """Read the server's start-up output until ``MOSH CONNECT``, echoing other lines."""
    assert proc.stdout is not None
    for raw in iter(proc.stdout.readline, b""):
        boot.feed_line(raw.decode("utf-8", "replace"))
        while boot.passthrough:
            sys.stdout.write(boot.passthrough.pop(0) + "\n")
        sys.stdout.flush()
        if boot.done:
            return


_SSH_CONNECTION_PROBE = (
    '[ -n "$SSH_CONNECTION" ] && printf "\\nMOSH SSH_CONNECTION %s\\n" "$SSH_CONNECTION"'
)


def start_server(
    args: argparse.Namespace,
    env: dict[str, str],
    bastion: Bastion | None = None,
    session_words: list[str] | None = None,
) -> Bootstrap:
    """Run ssh (or the local server) and return the parsed ``MOSH CONNECT`` data.
    Through a ``bastion``, the address is the host's own as the bastion reached it.
    ``session_words``: run that registry command (``resume [ID]``) instead of ``new``."""
    from pymosh.terminal.terminfo import read_caps  # (the emulator is not needed here)

    boot = Bootstrap()
    server_words = server_command(args)
    caps = read_caps(environ=env)
    colors = colours_to_send(server_words, env, caps.colors, caps.rgb)
    child_env = dict(env)
    if args.local:
        family, ip = resolve(args.host, 0, args.family)[0]
        del family
        boot.ip = ip
        child_env.pop("SSH_CONNECTION", None)
        argv = server_words + server_arguments(args, colors, ip, env)
        if session_words is not None:
            argv = _local_session_argv(args, session_words)
        cwd = env.get("HOME") or None
    else:
        words = server_arguments(args, colors, None, env)
        remote = " ".join([args.server or "pymosh-server"] + [_quote(w) for w in words])
        if session_words is not None:
            remote = "sh -c " + _quote(guarded(_server_line(args), session_words))
        if args.experimental_remote_ip == "remote" or bastion is not None:
            remote = f"sh -c {_quote(_SSH_CONNECTION_PROBE)} ; {remote}"
        elif args.experimental_remote_ip == "local" and bastion is None:
            user, at, hostname = args.host.rpartition("@")
            boot.ip = resolve(hostname, 22, args.family)[0][1]
            args.host = f"{user}{at}{boot.ip}"
        if args.experimental_remote_ip == "proxy" or bastion is not None:
            child_env["SHELL"] = "/bin/sh"  # ssh runs the ProxyCommand with $SHELL
        argv = ssh_argv(args, remote, bastion.proxy_command() if bastion else None)
        cwd = None
    try:
        proc = Child(argv, child_env, cwd)
    except OSError as exc:
        raise WrapperError(f"could not run {argv[0]}: {exc.strerror}") from None
    if args.client is None:
        import_client()  # meanwhile: the server starts in its own process
    beside = False  # the launcher is finished beside the in-process client
    try:
        read_bootstrap(proc, boot)
        beside = args.client is None and boot.done and boot.ip is not None
        if args.local and boot.done and not beside:
            read_detached_pid(proc, boot)
    except BootstrapError as exc:
        raise WrapperError(str(exc)) from None
    finally:
        if beside:
            # the client starts now, not after the server's last line and the launcher's
            # exit (milliseconds of the first prompt): a thread awaits them meanwhile,
            # started once the client's first datagram is out (a bare thread: no threading
            # module to import, no wait for the thread to begin)
            finish_args = (proc, boot if args.local else None)

            def finish() -> None:
                _thread.start_new_thread(_finish_beside, finish_args)

            boot.finish = finish
        else:
            status = _reap(proc)
    if not boot.done:
        if bastion is not None and status == 255 and not boot.passthrough:
            raise WrapperError(
                f"ssh to {args.host} through the jump host {bastion.spec} failed (exit status 255)"
            )
        if session_words is not None:
            raise WrapperError(_session_failure(args, boot))
        raise WrapperError(_no_connect_message(args, status, boot))
    if boot.ip is None:
        raise WrapperError("Did not find remote IP address (is SSH ProxyCommand disabled?).")
    return boot


def _reap(proc: Child) -> int:
    """Close the launcher's output and wait for it (killed after 30 s); its status."""
    proc.stdout.close()
    status = proc.wait(30)
    if status is None:
        proc.kill()
        status = proc.wait(float("inf"))
    assert status is not None
    return status


def _finish_beside(proc: Child, boot: Bootstrap | None) -> None:
    """In a thread beside the client: note a local server's pid, then `_reap`. Nothing
    here may print (the client owns the terminal)."""
    try:
        if boot is not None:
            read_detached_pid(proc, boot)
    except (BootstrapError, OSError, ValueError):
        pass
    finally:
        _reap(proc)


def _session_failure(args: argparse.Namespace, boot: Bootstrap) -> str:
    if boot.no_registry:
        return no_registry_message(args.server or "pymosh-server")
    if boot.choose_session:
        raise ChooseSession("several detached sessions")
    return "could not resume (the server's reason is above)"


def ask_session_id() -> str:
    """Ask for one of the listed sessions (a resume never guesses)."""
    from pymosh.frontend.registry import valid_id

    try:
        answer = input("Resume which session? ID (empty to cancel): ").strip().lower()
    except (EOFError, KeyboardInterrupt):
        answer = ""
    if not answer:
        raise WrapperError("no session resumed")
    if not valid_id(answer):
        raise WrapperError(f"{answer[:40]!r} is not a session ID")
    return answer


def run_session_command(args: argparse.Namespace, env: dict[str, str], words: list[str]) -> int:
    """``--list`` / ``--kill``: run the registry command there, show what it says."""
    import subprocess

    bastions: list[Bastion] = []
    try:
        if args.local:
            argv, cwd = _local_session_argv(args, words), env.get("HOME") or None
        else:
            plain: Any = Options(**vars(args))
            plain.no_ssh_pty, plain.experimental_remote_ip = True, "local"
            script = guarded(_server_line(args), words)
            argv = ssh_argv(
                plain,
                "sh -c " + _quote(script),
                _jump_proxy(args, bastions) if args.jump else None,
            )
            cwd = None
        result = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            timeout=60,
            check=False,
        )
    except OSError as exc:
        raise WrapperError(f"could not run {argv[0]}: {exc.strerror}") from None
    except subprocess.TimeoutExpired:
        raise WrapperError(f"{argv[0]} did not finish within 60 s") from None
    finally:
        for bastion in reversed(bastions):
            bastion.close()
    output = result.stdout.decode("utf-8", "replace")
    if NO_REGISTRY in output.splitlines():
        raise WrapperError(no_registry_message(args.server or "pymosh-server"))
    sys.stdout.write(output)
    sys.stdout.flush()
    if result.returncode == 255 and not args.local:
        raise WrapperError(
            f"ssh failed (exit status 255); check that `{args.ssh} {args.host}` works."
        )
    return result.returncode


def _jump_proxy(args: argparse.Namespace, bastions: list[Bastion]) -> str:
    """ssh's ProxyCommand through the ``-J`` hosts (opened into ``bastions``; the caller
    closes them). A ProxyJump from the ssh configuration needs nothing: ssh does it."""
    from pymosh.frontend.jump import Bastion, JumpError, parse_jumps

    try:
        for spec in parse_jumps(args.jump):
            bastions.append(Bastion(_words(args.ssh), spec, via=bastions[-1] if bastions else None))
            bastions[-1].connect()
    except JumpError as exc:
        raise WrapperError(str(exc)) from None
    return bastions[-1].proxy_command()


def _local_session_argv(args: argparse.Namespace, words: list[str]) -> list[str]:
    """A registry command here: the wrapper's own server has one; any other is checked."""
    if args.server is None:
        return server_command(args) + words
    return ["sh", "-c", guarded(_server_line(args), words)]


def _server_line(args: argparse.Namespace) -> str:
    """The server command as one shell line (the registry guard runs it twice)."""
    return " ".join(_quote(w) for w in server_command(args))


def server_command(args: argparse.Namespace) -> list[str]:
    """``--server`` as given; by default the local pymosh-server installed with this
    wrapper (--local), or ``pymosh-server`` on the remote PATH."""
    if args.server is not None:
        return _words(args.server)
    return own_program("pymosh-server") if args.local else ["pymosh-server"]


def read_detached_pid(proc: Child, boot: Bootstrap, timeout: float = 2.0) -> None:
    """After MOSH CONNECT, a local server says ``[... detached, pid = N]`` and its
    foreground half exits (closing the pipe): note the pid, to end it if we fail."""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while boot.server_pid is None and select.select([fd], [], [], _left(deadline))[0]:
        raw = proc.stdout.readline()
        if not raw:
            break
        boot.feed_trailer(raw.decode("utf-8", "replace"))


def _left(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0)


def end_server(boot: Bootstrap) -> None:
    """End the server we started when no client will come: SIGTERM a local one (it exits
    at once without a client), else the authenticated shutdown a quitting client sends."""
    if boot.server_pid is not None:
        try:
            os.kill(boot.server_pid, signal.SIGTERM)
            return
        except OSError:
            pass
    if boot.ip and boot.port and boot.key:
        from pymosh.frontend.abort import abort_server

        abort_server(boot.ip, boot.port, boot.key)


def check_ssh_host(args: argparse.Namespace) -> None:
    """A host name that does not resolve: one line now, instead of ssh's noise later.

    Only where the proxy would resolve it locally anyway (the default); ``ssh -G`` maps
    ~/.ssh/config aliases to the real HostName without connecting."""
    if args.experimental_remote_ip != "proxy" or args.jump is not None:
        return  # (through a jump host the name is resolved there)
    import subprocess

    argv = _words(args.ssh) + (["-p", args.ssh_port] if args.ssh_port else [])
    try:
        out = subprocess.run(
            argv + ["-G", args.host],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return  # not OpenSSH, or not there: ssh itself will say
    if out.returncode != 0:
        return
    config = dict(line.partition(" ")[::2] for line in out.stdout.splitlines())
    hostname = config.get("hostname")
    if (
        hostname
        and config.get("proxycommand", "none") == "none"
        and config.get("proxyjump", "none") == "none"
    ):
        resolve(hostname, int(config.get("port", "22") or 22), args.family)


def _no_connect_message(args: argparse.Namespace, status: int, boot: Bootstrap) -> str:
    server = (_words(args.server) or [""])[0] if args.server else "pymosh-server"
    if boot.saw_bad_port and args.port and ":" in args.port:
        return "Server does not support UDP port range option."
    if status == 127 or any("not found" in line for line in boot.passthrough):
        where = "on this machine" if args.local else "on the remote PATH"
        return (
            f"Did not find mosh server startup message: {server!r} was not found "
            f"{where}. Install pymosh there, or give its full path with --server=."
        )
    if status == 255 and not args.local:
        return (
            f"ssh failed (exit status 255) before the server started; "
            f"check that `{args.ssh} {args.host}` works."
        )
    if status not in (0, None) and boot.passthrough:
        # the server ran and said why it failed (port in use, locale, ...): its own
        # message, printed above, is the useful one
        return f"The server failed to start (exit status {status}); see its message above."
    return (
        f"Did not find mosh server startup message (server exit status {status}). "
        "(Have you installed pymosh on your server?)"
    )


# ----------------------------------------------------------------- main


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """argparse, then `fix_up`."""
    return fix_up(parser.parse_args(argv), argv, parser.error)


def fix_up(args: Any, argv: Sequence[str], error: Callable[[str], NoReturn]) -> Any:
    """The forms argparse cannot express: ``--local -- command`` (no host) and
    ``host:PORT`` / ``[IPv6]:PORT`` (the ssh port). ``error``: argparse's (exits)."""
    if (
        args.local
        and args.host is not None
        and "--" in argv
        and args.host not in argv[: argv.index("--")]
    ):
        args.command = [args.host] + list(args.command)  # --local -- command...
        args.host = None
    if args.local and args.host is None:
        args.host = "::1" if args.family in ("inet6", "prefer-inet6") else "127.0.0.1"
    if args.host and not args.fake_proxy:
        try:
            host, port = split_host_port(args.host)
        except HostSpecError as exc:
            error(str(exc))
        if port is not None:
            if args.ssh_port is not None and args.ssh_port != port:
                error(f"ssh port given twice: -P {args.ssh_port} and {args.host}")
            args.host, args.ssh_port = host, port
    return args


def _parser_error(message: str) -> NoReturn:
    build_parser().error(message)


def run(argv: Sequence[str]) -> int:
    fast = fast_args(argv)
    if fast is not None:
        args = fix_up(fast, argv, _parser_error)
    else:
        parser = build_parser()
        value_options = {
            s
            for a in parser._actions
            if a.option_strings and a.nargs is None
            for s in a.option_strings
        }
        args = parse(parser, split_resume(argv, value_options))
    if args.version:
        print(f"pymosh {__version__}")
        print(_accel.describe())
        return 0
    if args.fake_proxy:
        if len(args.command) < 2 and not args.host:
            _parser_error("--fake-proxy needs HOST PORT")
        rest = ([args.host] if args.host else []) + [w for w in args.command if w != "--"]
        try:
            return fake_proxy(rest[0], int(rest[1]), args.family)
        except (WrapperError, ValueError, IndexError) as exc:
            sys.stderr.write(f"pymosh: {exc}\n")
            return 255
    if not args.host:
        build_parser().print_usage(sys.stderr)
        return 255
    try:
        return _connect(args, argv)
    except WrapperError as exc:
        sys.stderr.write(f"pymosh: {exc}\n")
        return 255


def _connect(args: argparse.Namespace, argv: Sequence[str]) -> int:
    if args.port is not None:
        try:
            parse_port_range(args.port)
        except PortRangeError as exc:
            raise WrapperError(str(exc)) from None
    if args.bind_server not in ("ssh", "any"):
        try:
            socket.inet_pton(
                socket.AF_INET6 if ":" in args.bind_server else socket.AF_INET, args.bind_server
            )
        except OSError:
            raise WrapperError(
                f"--bind-server: {args.bind_server!r} is not ssh, any, or an IP address"
            ) from None
    env = dict(os.environ)
    predict = args.predict or env.pop("MOSH_PREDICTION_DISPLAY", None) or "adaptive"
    if predict not in PREDICTION_MODES:
        raise WrapperError(f"Unknown prediction mode {predict!r} in MOSH_PREDICTION_DISPLAY")
    env.pop("MOSH_PREDICTION_DISPLAY", None)
    if not is_utf8_locale():
        raise WrapperError(
            "needs a UTF-8 native locale to run. The current locale is:\n"
            + locale_env_summary()
            + "\nSet LANG or LC_ALL to a UTF-8 locale (see `locale -a`, e.g. C.UTF-8)."
        )
    if args.local:
        resolve(args.host, 0, args.family)  # a bad address is the first thing to say
    else:
        check_ssh_host(args)
    try:
        session_words = words_for(args)
    except ValueError as exc:
        raise WrapperError(str(exc)) from None
    if session_words is not None and session_words[0] != "resume":
        return run_session_command(args, env, session_words)  # no terminal needed
    if not os.isatty(0):
        raise WrapperError(
            "standard input is not a terminal; run pymosh from a terminal (for scripts, use ssh)"
        )
    # the default client runs here, in this interpreter (no second start-up); --client= is
    # exec'd as Mosh does
    client = _words(args.client) if args.client is not None else []
    if args.client is not None and (not client or _which(client[0]) is None):
        raise WrapperError(
            f"client {args.client or client[0]!r} not found; give its full path with --client="
        )
    env["MOSH_CLIENT_PID"] = str(os.getpid())
    forward = check_forwarding(args)
    ssh = [] if args.local else _words(args.ssh)  # (--local: no ssh)
    jump = args.jump
    if jump is None and not args.local:
        from pymosh.frontend.jump import configured_jump

        jump = configured_jump(ssh, args.host)
    try:
        boot, ip, port = _bootstrap(args, env, ssh, jump, session_words)
    except ChooseSession:
        boot, ip, port = _bootstrap(args, env, ssh, jump, ["resume", ask_session_id()])

    client_env = dict(env)
    client_env.pop("MOSH_KEY", None)
    client_env["MOSH_PREDICTION_DISPLAY"] = predict
    if args.predict_overwrite:
        client_env["MOSH_PREDICTION_OVERWRITE"] = "yes"
    if args.no_init:
        client_env["MOSH_NO_TERM_INIT"] = "1"
    if args.scrollback is not None:
        client_env["PYMOSH_SCROLLBACK"] = str(args.scrollback)
    sys.stdout.flush()
    if not client:
        return run_client_here(ip, port, boot.key or "", forward, client_env, boot.finish)
    client_env["MOSH_KEY"] = boot.key or ""
    client_argv = client + [f"-# {' '.join(argv)} |", *forward.argv(), ip, str(port)]
    try:
        os.execvpe(client[0], client_argv, client_env)
    except OSError as exc:
        if session_words is None:  # never end a resumed session: it stays resumable
            end_server(boot)
        raise WrapperError(f"could not run client {client[0]!r}: {exc.strerror}") from None
    return 255  # not reached


def _which(program: str) -> str | None:
    import shutil  # (only for --client=: a few ms of everyone's start-up otherwise)

    return shutil.which(program)


def run_client_here(
    ip: str,
    port: int,
    key_text: str,
    forward: ForwardOptions,
    env: dict[str, str],
    started: Callable[[], None] | None = None,
) -> int:
    """pymosh-client's session in this process, as if exec'd with ``env`` (which holds no
    key: it goes to the client as bytes, never into an environment or argv); ``started``
    runs once its first datagram is out."""
    from pymosh.crypto import parse_key
    from pymosh.errors import KeyFormatError
    from pymosh.frontend.client import connect

    os.environ.clear()
    os.environ.update(env)
    try:
        key = parse_key(key_text)
    except KeyFormatError as exc:
        sys.stderr.write(f"pymosh-client: bad MOSH_KEY: {exc}\n")
        return 1
    return connect(ip, port, key, forward, started)


def import_client() -> None:
    """Import the in-process client's modules (called while the server starts), with no
    garbage collection meanwhile (milliseconds of the first prompt)."""
    import gc

    gc.disable()
    try:
        from pymosh.crypto import Session  # (its shared library takes milliseconds to load)

        # the cipher library's one-time set-up (OpenSSL reads its configuration and loads
        # its provider: ~1.3 ms) now, not when the client's connection takes the key
        Session(bytes(16))
        import pymosh.frontend.client  # noqa: F401
    finally:
        gc.enable()


def _bootstrap(
    args: argparse.Namespace,
    env: dict[str, str],
    ssh: list[str],
    jump: str | None,
    session_words: list[str] | None,
) -> tuple[Bootstrap, str, int]:
    """A new session, or the registry command ``session_words`` (a resume): the bootstrap
    and the address the client talks to."""
    if jump is not None:
        return _through_bastion(args, env, ssh, jump, session_words)
    if args.relay_port is not None:
        raise WrapperError("--relay-port needs a jump host (-J or ProxyJump)")
    boot = start_server(args, env, session_words=session_words)
    return boot, str(boot.ip), int(boot.port or 0)


def _through_bastion(
    args: argparse.Namespace,
    env: dict[str, str],
    ssh: list[str],
    jump: str,
    session_words: list[str] | None = None,
) -> tuple[Bootstrap, str, int]:
    """Bootstrap and relays over one ssh connection per bastion (each through the one
    before); start the tagger. Returns the bootstrap and the (loopback) address the client
    talks to."""
    if args.local:
        raise WrapperError("--local and a jump host do not go together")
    from pymosh.frontend.jump import (
        RELAY_PORT,
        RELAY_TIMEOUT,
        Bastion,
        JumpError,
        parse_jumps,
        start_tagger,
    )

    timeout = _env_seconds(env.get("MOSH_SERVER_NETWORK_TMOUT")) or RELAY_TIMEOUT
    bastions: list[Bastion] = []
    try:
        try:
            for spec in parse_jumps(jump):
                bastions.append(Bastion(ssh, spec, via=bastions[-1] if bastions else None))
            relay_addr = bastions[0].address(args.family, resolve)
            for bastion in bastions:
                bastion.connect()
            boot = start_server(args, env, bastions[-1], session_words)
            # relays from the host's side back: each forwards to the next one's address,
            # re-tagged under the next one's key (the keys go over ssh's stdin)
            keys = [os.urandom(16) for _ in bastions]
            target, upstream_key = (str(boot.ip), int(boot.port or 0)), None
            for bastion, key in zip(reversed(bastions), reversed(keys)):
                port, here = bastion.start_relay(
                    *target, key, args.relay_port or RELAY_PORT, timeout, upstream_key
                )
                target, upstream_key = (here, port), key
        finally:
            for bastion in reversed(bastions):
                bastion.close()
        ip, port = start_tagger(relay_addr, target[1], keys[0])
    except JumpError as exc:
        raise WrapperError(str(exc)) from None
    return boot, ip, port


def _env_seconds(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and int(text) > 0 else None


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
