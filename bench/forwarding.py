"""Forwarding benchmarks (issue #18): ``python -m bench.forwarding [--quick]``.

Real sessions on loopback (bench.e2e's harness: pymosh-server, pymosh-client in a pty,
the counting relay between them), measured in the same run as their peers:

* throughput of one forwarded TCP stream (``-L``, a download of random bytes) against
  ``ssh -L`` to a private sshd on the same machine (needs root and /usr/sbin/sshd),
  and against the same service reached directly; then through the impairment relay
  (20 ms each way, 1 % loss);
* keystroke echo p50/p99 with no stream, then while a forwarded download is saturating
  the session;
* ssh-agent signature round trip through ``-A`` against the local agent directly.

Writes ``bench/out/forwarding.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from bench.e2e.scenarios import latency
from bench.e2e.session import Impl, Session

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
CHUNK = os.urandom(1 << 20)  # incompressible: zlib in SSP must not flatter us


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Source:
    """A loopback TCP service that sends ``size`` random bytes per connection
    (``size`` None: until the peer goes away)."""

    def __init__(self, size: int | None) -> None:
        self.size = size
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._send, args=(conn,), daemon=True).start()

    def _send(self, conn: socket.socket) -> None:
        sent = 0
        with conn:
            try:
                while not self.stop.is_set() and (self.size is None or sent < self.size):
                    n = len(CHUNK) if self.size is None else min(len(CHUNK), self.size - sent)
                    conn.sendall(CHUNK[:n])
                    sent += n
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def download(port: int, size: int, timeout: float = 300) -> float:
    """Seconds to read ``size`` bytes from 127.0.0.1:port (retrying the connect)."""
    deadline = time.monotonic() + 20
    while True:
        try:
            conn = socket.create_connection(("127.0.0.1", port), timeout=timeout)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    got = 0
    with conn:
        t0 = time.perf_counter()
        while got < size:
            data = conn.recv(1 << 16)
            if not data:
                break
            got += len(data)
        elapsed = time.perf_counter() - t0
    if got < size:
        raise RuntimeError(f"short download: {got} of {size}")
    return elapsed


def pymosh_impl(server_extra: list[str], client_extra: list[str]) -> Impl:
    impl = Impl.pymosh()
    impl.server = impl.server + server_extra
    impl.client = impl.client + client_extra
    return impl


def mbps(size: int, seconds: float) -> float:
    return round(size / seconds / 1e6, 3)


# ---------------------------------------------------------------- throughput


class ImpairedSession(Session):
    """A bench session whose datagrams cross tests/support/relay.py's impairment relay."""

    impairment: dict = {}

    def _start_relay(self, port: int) -> None:
        sys.path.insert(0, ROOT)
        from tests.support.relay import RelayImpairment, UdpRelay

        self.impaired = UdpRelay(
            port,
            up=RelayImpairment(**self.impairment),
            down=RelayImpairment(**self.impairment),
            seed=1,
            lifetime_s=600,
        ).start()
        self.relay_port = self.impaired.listen_port

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.impaired.stop()


def impaired_throughput(size: int, results: dict) -> None:
    source = Source(size)
    lport = free_port()
    ImpairedSession.impairment = {"delay_ms": 20.0, "loss": 0.01}
    s = ImpairedSession(
        pymosh_impl([], ["-L", f"{lport}:127.0.0.1:{source.port}"]), uuid.uuid4().hex
    )
    try:
        s.start()
        results["pymosh_L_20ms_1pct_loss_MBps"] = mbps(size, download(lport, size))
    finally:
        s.close()
        source.close()


def throughput(size: int, results: dict) -> None:
    source = Source(size)
    try:
        results["direct_MBps"] = mbps(size, download(source.port, size))
        lport = free_port()
        s = Session(pymosh_impl([], ["-L", f"{lport}:127.0.0.1:{source.port}"]), uuid.uuid4().hex)
        try:
            s.start()
            results["pymosh_L_MBps"] = mbps(size, download(lport, size))
        finally:
            s.close()
        results["ssh_L_MBps"] = ssh_throughput(source.port, size)
    finally:
        source.close()
    if results.get("ssh_L_MBps"):
        results["pymosh_vs_ssh"] = round(results["pymosh_L_MBps"] / results["ssh_L_MBps"], 4)


def ssh_throughput(service_port: int, size: int) -> float | None:
    sys.path.insert(0, ROOT)
    try:
        from tests.e2e.sshd import SSHD, Sshd
    except ImportError:
        return None
    if os.geteuid() != 0 or not os.access(SSHD, os.X_OK):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        sshd = Sshd(tmp, uuid.uuid4().hex).start()
        lport = free_port()
        ssh = subprocess.Popen(
            sshd.ssh_command().split()
            + ["-N", "-L", f"{lport}:127.0.0.1:{service_port}", "127.0.0.1"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            return mbps(size, download(lport, size))
        finally:
            ssh.terminate()
            ssh.wait(timeout=5)
            sshd.stop()


# ---------------------------------------------------------------- echo under load


def echo_under_load(keys: int, results: dict) -> None:
    source = Source(None)
    lport = free_port()
    s = Session(pymosh_impl([], ["-L", f"{lport}:127.0.0.1:{source.port}"]), uuid.uuid4().hex)
    stop = threading.Event()
    moved = [0]

    def saturate() -> None:
        conn = socket.create_connection(("127.0.0.1", lport), timeout=30)
        with conn:
            while not stop.is_set():
                data = conn.recv(1 << 16)
                if not data:
                    return
                moved[0] += len(data)

    try:
        s.start()
        rng = random.Random(1)
        idle = latency(s, keys, rng)["samples_ms"]
        thread = threading.Thread(target=saturate, daemon=True)
        thread.start()
        time.sleep(1.0)
        t0, before = time.monotonic(), moved[0]
        loaded = latency(s, keys, rng)["samples_ms"]
        rate = (moved[0] - before) / (time.monotonic() - t0)
        stop.set()
    finally:
        s.close()
        source.close()
    results["echo_idle_ms"] = percentiles(idle)
    results["echo_saturated_ms"] = percentiles(loaded)
    results["stream_during_typing_MBps"] = round(rate / 1e6, 3)


def percentiles(samples: list[float]) -> dict:
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return round(ordered[min(int(q * len(ordered)), len(ordered) - 1)], 2)

    return {
        "n": len(ordered),
        "p50": pick(0.5),
        "p99": pick(0.99),
        "mean": round(statistics.fmean(ordered), 2),
    }


# ---------------------------------------------------------------- agent


def _agent_call(sock: socket.socket, kind: int, body: bytes = b"") -> bytes:
    msg = bytes((kind,)) + body
    sock.sendall(struct.pack(">I", len(msg)) + msg)
    head = _recv_exact(sock, 4)
    return _recv_exact(sock, struct.unpack(">I", head)[0])


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        data = sock.recv(n - len(out))
        if not data:
            raise RuntimeError("agent closed the connection")
        out += data
    return bytes(out)


def sign_round_trips(path: str, n: int) -> list[float]:
    """ms per SSH2_AGENTC_SIGN_REQUEST over one connection to the agent at ``path``."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(30)
        sock.connect(path)
        reply = _agent_call(sock, 11)  # REQUEST_IDENTITIES
        if reply[0] != 12 or struct.unpack(">I", reply[1:5])[0] < 1:
            raise RuntimeError("the agent holds no key")
        blob_len = struct.unpack(">I", reply[5:9])[0]
        blob = reply[9 : 9 + blob_len]
        samples = []
        for i in range(n):
            data = b"bench %d" % i
            body = (
                struct.pack(">I", len(blob))
                + blob
                + struct.pack(">I", len(data))
                + data
                + struct.pack(">I", 0)
            )
            t0 = time.perf_counter()
            answer = _agent_call(sock, 13, body)  # SIGN_REQUEST
            samples.append((time.perf_counter() - t0) * 1000)
            if answer[0] != 14:
                raise RuntimeError(f"agent refused to sign ({answer[0]})")
    return samples


def agent(n: int, results: dict) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        agent_sock = os.path.join(tmp, "agent.sock")
        proc = subprocess.Popen(
            ["ssh-agent", "-D", "-a", agent_sock],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        state = os.path.join(tmp, "state")
        old = {k: os.environ.get(k) for k in ("SSH_AUTH_SOCK", "PYMOSH_STATE_DIR")}
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(agent_sock) and time.monotonic() < deadline:
                time.sleep(0.05)
            key = os.path.join(tmp, "key")
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key],
                check=True,
                capture_output=True,
            )
            subprocess.run(
                ["ssh-add", key],
                env=dict(os.environ, SSH_AUTH_SOCK=agent_sock),
                check=True,
                capture_output=True,
            )
            results["agent_direct_ms"] = percentiles(sign_round_trips(agent_sock, n))
            os.environ.update(SSH_AUTH_SOCK=agent_sock, PYMOSH_STATE_DIR=state)
            s = Session(pymosh_impl(["-A"], ["-A"]), uuid.uuid4().hex)
            try:
                s.start()
                forwarded = glob.glob(os.path.join(state, "agent", "agent.*.sock"))
                if len(forwarded) != 1:
                    raise RuntimeError("no forwarded agent socket")
                results["agent_forwarded_ms"] = percentiles(sign_round_trips(forwarded[0], n))
            finally:
                s.close()
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            proc.terminate()
            proc.wait(timeout=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.forwarding")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("PYMOSH_BENCH_QUICK") == "1"
    size = (2 if quick else 16) << 20
    results: dict = {"size_bytes": size}
    problems: list[str] = []
    for name, step in (
        ("throughput", lambda: throughput(size, results)),
        ("impaired", lambda: impaired_throughput(size // 4, results)),
        ("echo", lambda: echo_under_load(30 if quick else 150, results)),
        ("agent", lambda: agent(20 if quick else 200, results)),
    ):
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - report and go on with the others
            problems.append(f"{name}: {exc}")
    results["problems"] = problems
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "forwarding.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results, indent=2))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
