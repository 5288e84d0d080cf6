"""``pymosh -J [user@]bastion[:port] host``: the session's UDP through a relay on a jump host.

One ssh connection to the bastion (a ControlMaster in a private directory: one password
or 2FA prompt) carries both the bootstrap (``ssh -W`` to the host, whose name the bastion
resolves) and the relay's start (python3 on the bastion runs ``relay.py`` sent over that
connection; nothing is installed there). Then a local tagger process (``relay.
ClientTagger``) stands between the client and the relay: the client, stock or pymosh,
talks to it on the loopback interface. A host with ``ProxyJump`` in the ssh configuration
(``ssh -G``) gets the same without ``-J``.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from typing import Callable, Sequence

from pymosh.frontend import relay

RELAY_PORT = 60001  # default shared relay port on the bastion
RELAY_TIMEOUT = 86400  # s a route lives without a genuine datagram (no bye seen)
# an installed pymosh-relay if there is one (it runs the sent sources if its version
# differs), else python3 with the sent sources
REMOTE_RELAY = "command -v pymosh-relay >/dev/null 2>&1 && exec pymosh-relay; exec python3 -c "
_RELAY_RE = re.compile(r"^MOSH RELAY (\d+) (\S+)\s*$")


class JumpError(Exception):
    """A one-line message naming the hop that failed."""


def parse_jumps(spec: str) -> list[str]:
    """``-J a,b,...`` (ssh's form): the hops in order, each checked by ``parse_jump``."""
    hops = spec.split(",")
    for hop in hops:
        parse_jump(hop)
    return hops


def parse_jump(spec: str) -> tuple[str, str | None]:
    """``[user@]host[:port]`` or ``ssh://[user@]host[:port]`` -> (destination, port)."""
    if spec.startswith("ssh://"):
        spec = spec[len("ssh://") :]
    user, at, rest = spec.rpartition("@")
    port = None
    if rest.startswith("["):  # [v6 address]:port
        host, _, tail = rest[1:].partition("]")
        if tail.startswith(":"):
            port = tail[1:]
    elif rest.count(":") == 1:
        host, port = rest.split(":")
    else:
        host = rest
    if not host or (port is not None and not port.isdigit()):
        raise JumpError(f"-J {spec}: expected [user@]host[:port]")
    return f"{user}{at}{host}", port


def ssh_config(ssh: Sequence[str], host: str) -> dict[str, str]:
    """``ssh -G host``: the effective configuration (first value of each keyword)."""
    try:
        out = subprocess.run(
            [*ssh, "-G", host],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    config: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        config.setdefault(key.lower(), value.strip())
    return config


def configured_jump(ssh: Sequence[str], host: str) -> str | None:
    value = ssh_config(ssh, host).get("proxyjump", "none")
    return None if value.lower() == "none" or not value else value


class Bastion:
    """The ControlMaster connection to one bastion (reached through ``via``, the previous
    hop, if any); ``close()`` ends it."""

    def __init__(self, ssh: Sequence[str], spec: str, via: Bastion | None = None) -> None:
        self.ssh = list(ssh)
        self.spec = spec
        self.via = via
        self.dest, port = parse_jump(spec)
        self.port_args = ["-p", port] if port else []
        self.dir = tempfile.mkdtemp(prefix="pymosh-jump-")
        self.control = os.path.join(self.dir, "ctl")
        self.open = False

    def connect(self) -> None:
        proxy = ["-o", f"ProxyCommand={self.via.proxy_command()}"] if self.via else []
        argv = [
            *self.ssh,
            *self.port_args,
            *proxy,
            "-M",
            "-S",
            self.control,
            "-N",
            "-f",
            "-o",
            "ControlPersist=no",
            self.dest,
        ]
        try:
            status = subprocess.run(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=120, check=False
            ).returncode
        except (OSError, subprocess.SubprocessError) as exc:
            raise JumpError(f"ssh to the jump host {self.spec} failed: {exc}") from None
        if status != 0:
            raise JumpError(f"ssh to the jump host {self.spec} failed (exit status {status})")
        self.open = True

    def proxy_command(self) -> str:
        """ssh's ProxyCommand reaching the host through the master (the bastion resolves)."""
        return " ".join(
            shlex.quote(w)
            for w in [
                self.ssh[0],
                "-S",
                self.control,
                "-o",
                "ControlMaster=no",
                "-W",
                "%h:%p",
                *self.port_args,
                self.dest,
            ]
        )

    def address(
        self, family: str, resolve: Callable[[str, int, str], list[tuple[int, str]]]
    ) -> tuple[int, str]:
        """Where the client's UDP goes: the bastion's address as this machine resolves it."""
        config = ssh_config([*self.ssh, *self.port_args], self.dest)
        return resolve(config.get("hostname") or self.dest.rpartition("@")[2], 0, family)[0]

    def start_relay(
        self,
        host_ip: str,
        host_port: int,
        key: bytes,
        relay_port: int,
        timeout: float,
        upstream_key: bytes | None = None,
    ) -> tuple[int, str]:
        """Register a relay route on the bastion towards ``host_ip``:``host_port`` (the
        next relay's, re-tagged under ``upstream_key``, with several hops); the relay's UDP
        port there and the bastion's address as the previous hop reached it."""
        config = {
            "relay_port": relay_port,
            "key": base64.b64encode(key).decode(),
            "host": host_ip,
            "port": host_port,
            "timeout": timeout,
            "upstream_key": base64.b64encode(upstream_key or b"").decode(),
        }
        argv = [
            *self.ssh,
            "-S",
            self.control,
            "-o",
            "ControlMaster=no",
            *self.port_args,
            "-T",
            self.dest,
            "--",
            REMOTE_RELAY + shlex.quote(relay.LOADER),
        ]
        try:
            result = subprocess.run(
                argv, input=relay.loader_input(config), capture_output=True, timeout=60, check=False
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise JumpError(f"the relay on {self.spec} did not start: {exc}") from None
        lines = result.stdout.decode("utf-8", "replace").splitlines()
        for line in lines:
            match = _RELAY_RE.match(line)
            if match:
                here = match.group(2)
                return int(match.group(1)), here[7:] if here.startswith("::ffff:") else here
        why = (
            lines + result.stderr.decode("utf-8", "replace").splitlines()
            or [f"exit status {result.returncode}"]
        )[-1].strip()
        raise JumpError(f"the relay on {self.spec} did not start: {why}")

    def close(self) -> None:
        if self.open:
            subprocess.run(
                [*self.ssh, "-S", self.control, "-O", "exit", *self.port_args, self.dest],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=20,
                check=False,
            )
            self.open = False
        shutil.rmtree(self.dir, ignore_errors=True)


def start_tagger(relay_addr: tuple[int, str], relay_port: int, key: bytes) -> tuple[str, int]:
    """Fork the tagger (it exits with this process, i.e. the client exec'd next); the
    loopback address and port the client must use."""
    family, ip = relay_addr
    tagger = relay.ClientTagger((ip, relay_port), key, family)
    port = tagger.local_port
    parent = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the tagger's own process
        code = 0
        try:
            os.setsid()
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            tagger.run(parent)
        except BaseException:  # noqa: BLE001 - detached: nothing to report to
            code = 1
        finally:
            os._exit(code)
    tagger.close()
    return ("::1" if family == socket.AF_INET6 else "127.0.0.1"), port
