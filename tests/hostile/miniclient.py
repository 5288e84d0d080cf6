"""A deliberately small, test-only Mosh client for hostile-network tests.

Built on the layers below the transport (crypto.Session, wire.protobuf,
network.fragment) so a test controls every datagram: it can capture what it sent,
replay it, forge, flip bits and truncate.  State model (enough for a live server):
client state N is "Resize(80x24) then every byte typed so far", always sent as a diff
from state 0 with throwaway 0, so every state extends the previous ones (protocol.md
§5.6 prefix property).  It acks the newest host state it assembled and answers a
server shutdown (new_num = 2^64 - 1) with ack 2^64 - 1 once.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import List

from pymosh.crypto import TO_CLIENT, TO_SERVER, Session
from pymosh.errors import DecodeError
from pymosh.network.fragment import Fragment, FragmentAssembly, Fragmenter
from pymosh.wire.protobuf import (
    HostBytes,
    Instruction,
    Keystroke,
    Resize,
    decode_host_message,
    encode_user_message,
)

SHUTDOWN = (1 << 64) - 1
LOOPBACK = "127.0.0.1"


class MiniClient:
    def __init__(self, port: int, key: bytes, width: int = 80, height: int = 24) -> None:
        self.server = (LOOPBACK, port)
        self.session = Session(key)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.seq = 0
        self.state_num = 0
        self.keys = b""
        self.size = (width, height)
        self.fragmenter = Fragmenter()
        self.assembly = FragmentAssembly()
        self.sent: List[bytes] = []          # every datagram we sent, in order
        self.received: List[bytes] = []      # every datagram the server sent us
        self.host_states: List[int] = []     # new_num of each assembled host instruction
        self.host_bytes = b""                # concatenated HostBytes (for debugging)
        self.ack = 0
        self.shutdown_seen = False
        self.t0 = time.monotonic()

    # ------------------------------------------------------------ sending
    def _timestamp(self) -> int:
        ts = int((time.monotonic() - self.t0) * 1000) & 0xFFFF
        return 0 if ts == 0xFFFF else ts

    def _send_instruction(self, ins: Instruction) -> None:
        for frag in self.fragmenter.make_fragments(ins, 1252):
            datagram = self.session.seal_datagram(TO_SERVER, self.seq, self._timestamp(),
                                                  0xFFFF, frag.to_bytes())
            self.seq += 1
            self.sock.sendto(datagram, self.server)
            self.sent.append(datagram)

    def send_state(self, ack: int | None = None) -> None:
        """A new client state: all events so far, as a diff from state 0."""
        self.state_num += 1
        events = [Resize(*self.size)]
        if self.keys:
            events.append(Keystroke(self.keys))
        self._send_instruction(Instruction(
            old_num=0, new_num=self.state_num, ack_num=self.ack if ack is None else ack,
            throwaway_num=0, diff=encode_user_message(events), chaff=b""))

    def type(self, keys: bytes) -> None:
        self.keys += keys
        self.send_state()

    # ------------------------------------------------------------ receiving
    def pump(self, seconds: float, until=None) -> bool:
        """Receive for up to `seconds`; True as soon as until(self) holds."""
        deadline = time.monotonic() + seconds
        while True:
            if until is not None and until(self):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return until is None
            ready, _, _ = select.select([self.sock], [], [], min(left, 0.05))
            if ready:
                datagram, _addr = self.sock.recvfrom(4096)
                self._receive(datagram)

    def _receive(self, datagram: bytes) -> None:
        self.received.append(datagram)
        try:
            _seq, _ts, _reply, payload = self.session.open_datagram(datagram, TO_CLIENT)
            ins = self.assembly.add(Fragment.parse(payload))
        except DecodeError as exc:  # a real server never sends these
            raise AssertionError(f"server sent an undecodable datagram: {exc}") from None
        if ins is None:
            return
        assert ins.protocol_version == 2
        for ev in decode_host_message(ins.diff):
            if isinstance(ev, HostBytes):
                self.host_bytes += ev.data
        self.host_states.append(ins.new_num)
        if ins.new_num == SHUTDOWN:
            if not self.shutdown_seen:
                self.shutdown_seen = True
                self.ack = SHUTDOWN
                self.send_state(ack=SHUTDOWN)
        elif ins.new_num > self.ack and self.ack != SHUTDOWN:
            self.ack = ins.new_num

    def close(self) -> None:
        self.sock.close()


# ---------------------------------------------------------------- servers

STOCK = "stock"
PYMOSH = "pymosh"


def server_argv(kind: str, verbose: bool = False) -> List[str]:
    import sys

    head = ["mosh-server"] if kind == STOCK else [sys.executable, "-m", "pymosh.frontend.server"]
    return head + ["new", "-p", "0"] + (["-v"] if verbose else [])


@dataclass
class Server:
    kind: str
    port: int
    key_text: str
    key: bytes
    pid: int                      # the detached daemon
    launcher: subprocess.Popen
    workdir: str
    stderr_path: str
    output_path: str
    children: List[int] = field(default_factory=list)

    def rss_kb(self) -> int:
        return proc_rss_kb(self.pid)

    def alive(self) -> bool:
        return pid_alive(self.pid)

    def output(self) -> bytes:
        try:
            with open(self.output_path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def stderr(self) -> str:
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


def proc_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def children_of(pid: int) -> List[int]:
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(name))
    return out


def start_server(kind: str, workdir: str, command: List[str], env_extra=None,
                 verbose: bool = False, timeout: float = 10.0) -> Server:
    """Start a server the way the wrapper does; parse MOSH CONNECT and the daemon pid."""
    from pymosh.crypto import parse_key

    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MOSH_") and not k.startswith("LC_")}
    env["LANG"] = "C.UTF-8"
    if kind == PYMOSH:   # the checkout's pymosh, also when it is not installed
        import pymosh

        src = os.path.dirname(os.path.dirname(os.path.abspath(pymosh.__file__)))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env.update(env_extra or {})
    out_path = os.path.join(workdir, "server.stdout")
    err_path = os.path.join(workdir, "server.stderr")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        launcher = subprocess.Popen(server_argv(kind, verbose) + ["--"] + command,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    env=env, cwd=workdir)
    deadline = time.monotonic() + timeout
    port = key_text = pid = None
    while time.monotonic() < deadline:
        with open(out_path, "rb") as f:
            m = re.search(rb"MOSH CONNECT (\d+) ([A-Za-z0-9/+]{22})\s*\n", f.read())
        with open(err_path, "rb") as f:
            p = re.search(rb"\[(?:py)?mosh-server detached, pid = (\d+)\]", f.read())
        if m and p:
            port, key_text, pid = int(m.group(1)), m.group(2).decode(), int(p.group(1))
            break
        if launcher.poll() not in (None, 0):
            break
        time.sleep(0.02)
    if pid is None:
        launcher.kill()
        launcher.wait()
        raise AssertionError(f"{kind} server did not start: stdout "
                             f"{open(out_path, 'rb').read()!r} stderr {open(err_path, 'rb').read()!r}")
    launcher.wait(timeout=timeout)
    return Server(kind, port, key_text, parse_key(key_text), pid, launcher, workdir,
                  err_path, os.path.join(workdir, "typed"), children_of(pid))


def stop_server(server: Server, timeout: float = 1.0) -> None:
    """End the daemon and its pty child (TERM, then KILL); never leaves them running."""
    pids = [server.pid] + server.children + children_of(server.pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            if pid_alive(pid):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
            time.sleep(0.02)
        if not any(pid_alive(p) for p in pids):
            return


def cat_command(path: str) -> List[str]:
    """The remote program: raw, no echo, copy every typed byte into `path`."""
    return ["sh", "-c", f"stty raw -echo; exec cat > {path}"]


def connect(server: Server, timeout: float = 10.0) -> MiniClient:
    """A client that has exchanged state with the server and whose shell is running."""
    client = MiniClient(server.port, server.key)
    client.send_state()                       # state 1 = Resize 80x24
    deadline = time.monotonic() + timeout
    # resend until the server answers (first packets can race the daemon start)
    while not client.pump(0.5, lambda c: c.host_states):
        if time.monotonic() > deadline:
            raise AssertionError("server never answered")
        client.send_state()
    # the program creates its output file only after `stty raw -echo` has run
    while not os.path.exists(server.output_path):
        if time.monotonic() > deadline:
            raise AssertionError("the remote program never started")
        client.pump(0.05)
    return client


def roundtrip(server: Server, client: MiniClient, keys: bytes, timeout: float = 10.0) -> None:
    """Type `keys` and wait until the remote program wrote them (resending meanwhile)."""
    expected = server.output() + keys
    client.type(keys)
    deadline = time.monotonic() + timeout
    while server.output() != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"typed {keys!r}; remote got {server.output()!r}")
        client.pump(0.1)
        if not server.output().startswith(expected[:len(server.output())]):
            raise AssertionError(f"remote got {server.output()!r}, expected {expected!r}")
        client.send_state()


def udp_drops(port: int) -> int:
    """Datagrams the kernel dropped on the (IPv4) UDP socket bound to `port`."""
    total = None
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                total = (total or 0) + int(fields[-1])
    if total is None:
        raise AssertionError(f"no UDP socket on port {port}")
    return total
