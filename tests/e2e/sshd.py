"""A private sshd on a loopback port, with throwaway host and user keys (for wrapper tests).

Runs ``/usr/sbin/sshd -D -e`` with a config in a temp directory. Needs root (CI runs as
root): sshd must switch to the logging-in user. Every session gets
``PYMOSH_TEST_TAG=<tag>`` in its environment (sshd's SetEnv) so the test can find and end
any server daemon it left behind.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import time

SSHD = "/usr/sbin/sshd"


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sshd:
    """``netns``: run inside that network namespace, listening on ``listen``:``port``;
    ``user_key``: accept an existing key (several sshds, one ``ssh_command()``)."""

    def __init__(
        self,
        workdir: str,
        tag: str,
        *,
        netns: str | None = None,
        listen: str = "127.0.0.1",
        port: int | None = None,
        user_key: str | None = None,
        name: str = "sshd",
        env: dict[str, str] | None = None,
    ):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.tag = tag
        self.netns = netns
        self.listen = listen
        self.port = port or free_tcp_port()
        self.own_key = user_key is None
        self.user_key = user_key or os.path.join(self.dir, "user_key")
        # like the suite's own processes (tests/conftest.py), the remote servers neither use
        # nor start a per-user session forker (it would outlive the test)
        self.env = {"PYMOSH_TEST_TAG": tag, "PYMOSH_FORKER": "0", **(env or {})}
        self.proc: subprocess.Popen | None = None

    def start(self) -> Sshd:
        host_key = os.path.join(self.dir, "host_key")
        for path in (host_key, self.user_key) if self.own_key else (host_key,):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path],
                check=True,
                capture_output=True,
                timeout=30,
            )
        authorized = os.path.join(self.dir, "authorized_keys")
        with open(self.user_key + ".pub") as src, open(authorized, "w") as dst:
            dst.write(src.read())
        os.chmod(authorized, 0o600)
        config = os.path.join(self.dir, "sshd_config")
        with open(config, "w") as f:
            f.write(
                f"Port {self.port}\n"
                f"ListenAddress {self.listen}\n"
                f"HostKey {host_key}\n"
                f"AuthorizedKeysFile {authorized}\n"
                "PermitRootLogin yes\n"
                "PasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\n"
                "UsePAM no\n"
                "StrictModes no\n"
                "PidFile none\n"
                "SetEnv " + " ".join(f"{k}={v}" for k, v in self.env.items()) + "\n"
            )
        os.makedirs("/run/sshd", exist_ok=True)
        self.log = open(os.path.join(self.dir, "sshd.log"), "wb")
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        self.proc = subprocess.Popen(
            [*prefix, SSHD, "-D", "-e", "-f", config],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.netns:  # not reachable from here: wait for its own word
                    if "Server listening" not in self.read_log():
                        raise OSError("not yet")
                else:
                    socket.create_connection((self.listen, self.port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"sshd did not start: {self.read_log()}") from None
                time.sleep(0.05)

    def ssh_command(self, *extra: str, key: bool = True) -> str:
        """An ssh command line reaching this sshd as the current user (an ``--ssh=``
        value), authenticating with the test key or (``key=False``) the agent; ``extra``
        words follow the options."""
        identity = ["-i", self.user_key] if key else ["-o", "IdentitiesOnly=no", "-F", "/dev/null"]
        options = ["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "BatchMode=yes"]
        words = ["ssh", "-p", str(self.port), *identity]
        for option in [*options, "LogLevel=ERROR"]:
            words += ["-o", option]
        return " ".join(shlex.quote(w) for w in [*words, *extra])

    def read_log(self) -> str:
        try:
            with open(os.path.join(self.dir, "sshd.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        self.proc = None
