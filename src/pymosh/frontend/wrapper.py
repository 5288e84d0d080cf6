"""``pymosh``: start a server over the user's own ssh (or locally), then exec the client.

Behaves like Mosh's ``mosh`` script (protocol.md §7.3). The session key travels from the
server's stdout to the client's environment (``MOSH_KEY``); it is never put in argv or
printed.
"""

from __future__ import annotations

import argparse
import os
import selectors
import shlex
import socket
import subprocess
import sys
from typing import Sequence

from pymosh import __version__, _accel
from pymosh.frontend import PREDICTION_MODES
from pymosh.frontend.bootstrap import Bootstrap, BootstrapError
from pymosh.frontend.locale_check import LOCALE_VARS, is_utf8_locale, locale_env_summary
from pymosh.network.udp import PortRangeError, parse_port_range

FAMILIES = ("inet", "inet6", "auto", "all", "prefer-inet", "prefer-inet6")
REMOTE_IP_MODES = ("proxy", "local", "remote")


class WrapperError(Exception):
    """A failure with a message meant for the user; exit status 255 (like mosh)."""


def _lines(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a number of lines: {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pymosh",
        usage="pymosh [options] [--] [user@]host [command...]",
        description="Mobile shell: start pymosh-server on HOST over ssh and connect to it.",
    )
    p.add_argument("--client", default="pymosh-client",
                   help="client command on the local machine (default: pymosh-client)")
    p.add_argument("--server", default="pymosh-server",
                   help="server command on the remote machine (default: pymosh-server)")
    p.add_argument("--predict", choices=PREDICTION_MODES, default=None,
                   help="local echo: adaptive (default), always, never, experimental")
    p.add_argument("-a", dest="predict", action="store_const", const="always",
                   help="--predict=always")
    p.add_argument("-n", dest="predict", action="store_const", const="never",
                   help="--predict=never")
    p.add_argument("-o", "--predict-overwrite", action="store_true",
                   help="prediction overwrites instead of inserting")
    p.add_argument("-4", dest="family", action="store_const", const="inet",
                   help="--family=inet")
    p.add_argument("-6", dest="family", action="store_const", const="inet6",
                   help="--family=inet6")
    p.add_argument("--family", choices=FAMILIES, default="prefer-inet",
                   help="address family for the server (default: prefer-inet)")
    p.add_argument("-p", "--port", default=None, metavar="PORT[:PORT2]",
                   help="server-side UDP port or range")
    p.add_argument("-P", "--ssh-port", default=None, metavar="PORT",
                   help="ssh port (passed to ssh as -p)")
    p.add_argument("--bind-server", default="ssh", metavar="{ssh|any|IP}",
                   help="what address the server binds to (default: ssh)")
    p.add_argument("--ssh", default="ssh", metavar="COMMAND",
                   help="ssh command to run (default: ssh)")
    p.add_argument("--no-ssh-pty", action="store_true", help="do not allocate a pty on ssh")
    p.add_argument("--no-init", action="store_true",
                   help="do not switch the terminal to its alternate screen")
    p.add_argument("--scrollback", type=_lines, default=None, metavar="N",
                   help="lines of remote history kept in this terminal's scrollback with a "
                        "pymosh server (default: $PYMOSH_SCROLLBACK or 10000; 0: off)")
    p.add_argument("--local", action="store_true",
                   help="run the server on this machine, without ssh")
    p.add_argument("--experimental-remote-ip", choices=REMOTE_IP_MODES, default="proxy",
                   help="how to find the server's IP address (default: proxy)")
    p.add_argument("--fake-proxy", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(family="prefer-inet")
    p.add_argument("--version", action="store_true", help="print version and exit")
    p.add_argument("host", nargs="?", help="[user@]host")
    p.add_argument("command", nargs=argparse.REMAINDER, help="remote command")
    return p


# ----------------------------------------------------------------- address resolution


def resolve(host: str, port: int, family: str) -> list[tuple[int, str]]:
    """(address family, numeric address) candidates for ``host``, ordered by ``family``."""
    wanted = {"inet": socket.AF_INET, "inet6": socket.AF_INET6}.get(family, socket.AF_UNSPEC)
    try:
        infos = socket.getaddrinfo(host, port, wanted, socket.SOCK_STREAM)
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


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# ----------------------------------------------------------------- command construction


def server_arguments(args: argparse.Namespace, colors: int, bind_ip: str | None,
                     env: dict[str, str]) -> list[str]:
    """Arguments after the server command: ``new -c N [-s|-i IP] [-p P] -l ... [-- cmd]``."""
    words = ["new", "-c", str(colors)]
    if args.bind_server == "ssh":
        words += ["-i", bind_ip] if args.local and bind_ip else ["-s"]
    elif args.bind_server != "any":
        words += ["-i", args.bind_server]
    if args.port:
        words += ["-p", args.port]
    for name in LOCALE_VARS:
        if name in env:
            words += ["-l", f"{name}={env[name]}"]
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if command:
        words += ["--", *command]
    return words


def ssh_argv(args: argparse.Namespace, remote_command: str) -> list[str]:
    """The user's ssh, with the proxy / pty options mosh adds."""
    argv = shlex.split(args.ssh)
    if not args.no_ssh_pty:
        argv.append("-tt")
    argv.append("-n")
    if args.ssh_port:
        argv += ["-p", args.ssh_port]
    if args.experimental_remote_ip == "proxy":
        proxy = [sys.executable, "-m", "pymosh.frontend.wrapper",
                 f"--family={args.family}", "--fake-proxy", "--", "%h", "%p"]
        argv += ["-S", "none", "-o", "ProxyCommand=" + " ".join(shlex.quote(w) for w in proxy)]
    elif args.experimental_remote_ip == "remote" and args.family in ("inet", "inet6"):
        argv.append("-4" if args.family == "inet" else "-6")
    argv += [args.host, "--", remote_command]
    return argv


# ----------------------------------------------------------------- running the server


def read_bootstrap(proc: subprocess.Popen, boot: Bootstrap) -> None:
    """Read the server's start-up output until ``MOSH CONNECT``, echoing other lines."""
    assert proc.stdout is not None
    for raw in iter(proc.stdout.readline, b""):
        boot.feed_line(raw.decode("utf-8", "replace"))
        while boot.passthrough:
            sys.stdout.write(boot.passthrough.pop(0) + "\n")
        sys.stdout.flush()
        if boot.done:
            return


def start_server(args: argparse.Namespace, env: dict[str, str]) -> Bootstrap:
    """Run ssh (or the local server) and return the parsed ``MOSH CONNECT`` data."""
    from pymosh.terminal.terminfo import read_caps  # (the emulator is not needed here)
    boot = Bootstrap()
    server_words = shlex.split(args.server)
    child_env = dict(env)
    colors = read_caps(environ=env).colors
    if args.local:
        family, ip = resolve(args.host, 0, args.family)[0]
        del family
        boot.ip = ip
        child_env.pop("SSH_CONNECTION", None)
        argv = server_words + server_arguments(args, colors, ip, env)
        cwd = env.get("HOME") or None
    else:
        words = server_arguments(args, colors, None, env)
        remote = " ".join([args.server] + [shlex.quote(w) for w in words])
        if args.experimental_remote_ip == "remote":
            probe = ('[ -n "$SSH_CONNECTION" ] && '
                     'printf "\\nMOSH SSH_CONNECTION %s\\n" "$SSH_CONNECTION"')
            remote = f"sh -c {shlex.quote(probe)} ; {remote}"
        elif args.experimental_remote_ip == "local":
            user, at, hostname = args.host.rpartition("@")
            boot.ip = resolve(hostname, 22, args.family)[0][1]
            args.host = f"{user}{at}{boot.ip}"
        if args.experimental_remote_ip == "proxy":
            child_env["SHELL"] = "/bin/sh"  # ssh runs the ProxyCommand with $SHELL
        argv = ssh_argv(args, remote)
        cwd = None
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=child_env, cwd=cwd)
    except OSError as exc:
        raise WrapperError(f"could not run {argv[0]}: {exc.strerror}") from None
    try:
        read_bootstrap(proc, boot)
    except BootstrapError as exc:
        raise WrapperError(str(exc)) from None
    finally:
        assert proc.stdout is not None
        proc.stdout.close()
        try:
            status = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            status = proc.wait()
    if not boot.done:
        raise WrapperError(_no_connect_message(args, status, boot))
    if boot.ip is None:
        raise WrapperError("Did not find remote IP address (is SSH ProxyCommand disabled?).")
    return boot


def _no_connect_message(args: argparse.Namespace, status: int, boot: Bootstrap) -> str:
    server = shlex.split(args.server)[0] if args.server.strip() else args.server
    if boot.saw_bad_port and args.port and ":" in args.port:
        return "Server does not support UDP port range option."
    if status == 127 or any("not found" in line for line in boot.passthrough):
        where = "on this machine" if args.local else "on the remote PATH"
        return (f"Did not find mosh server startup message: {server!r} was not found "
                f"{where}. Install pymosh there, or give its full path with --server=.")
    if status == 255 and not args.local:
        return (f"ssh failed (exit status 255) before the server started; "
                f"check that `{args.ssh} {args.host}` works.")
    if status not in (0, None) and boot.passthrough:
        # the server ran and said why it failed (port in use, locale, ...): its own
        # message, printed above, is the useful one
        return f"The server failed to start (exit status {status}); see its message above."
    return (f"Did not find mosh server startup message (server exit status {status}). "
            "(Have you installed pymosh on your server?)")


# ----------------------------------------------------------------- main


def run(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv))
    if args.version:
        print(f"pymosh {__version__}")
        print(_accel.describe())
        return 0
    if args.fake_proxy:
        if len(args.command) < 2 and not args.host:
            parser.error("--fake-proxy needs HOST PORT")
        rest = ([args.host] if args.host else []) + [w for w in args.command if w != "--"]
        return fake_proxy(rest[0], int(rest[1]), args.family)
    if not args.host:
        parser.print_usage(sys.stderr)
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
            socket.inet_pton(socket.AF_INET6 if ":" in args.bind_server else socket.AF_INET,
                             args.bind_server)
        except OSError:
            raise WrapperError(f"--bind-server: {args.bind_server!r} is not ssh, any, "
                               "or an IP address") from None
    env = dict(os.environ)
    predict = args.predict or env.pop("MOSH_PREDICTION_DISPLAY", None) or "adaptive"
    if predict not in PREDICTION_MODES:
        raise WrapperError(f"Unknown prediction mode {predict!r} in MOSH_PREDICTION_DISPLAY")
    env.pop("MOSH_PREDICTION_DISPLAY", None)
    if not is_utf8_locale():
        raise WrapperError(
            "needs a UTF-8 native locale to run. The current locale is:\n"
            + locale_env_summary(env)
            + "\nSet LANG or LC_ALL to a UTF-8 locale (see `locale -a`, e.g. C.UTF-8).")
    env["MOSH_CLIENT_PID"] = str(os.getpid())
    boot = start_server(args, env)

    client_env = dict(env)
    client_env["MOSH_KEY"] = boot.key or ""
    client_env["MOSH_PREDICTION_DISPLAY"] = predict
    if args.predict_overwrite:
        client_env["MOSH_PREDICTION_OVERWRITE"] = "yes"
    if args.no_init:
        client_env["MOSH_NO_TERM_INIT"] = "1"
    if args.scrollback is not None:
        client_env["PYMOSH_SCROLLBACK"] = str(args.scrollback)
    client = shlex.split(args.client)
    client_argv = client + [f"-# {' '.join(argv)} |", str(boot.ip), str(boot.port)]
    sys.stdout.flush()
    try:
        os.execvpe(client[0], client_argv, client_env)
    except OSError as exc:
        raise WrapperError(f"could not run client {client[0]!r}: {exc.strerror}") from None
    return 255  # not reached


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
