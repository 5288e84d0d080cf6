"""Echo latency and bulk output through the bastion relay against a direct session.

Run: ``PYTHONPATH=src python3 -m bench.bastion [--keys 200] [--lines 200000] [--json FILE]``
from the repository root. One run, pymosh server and client, loopback.

Both sessions use the e2e harness (`bench/e2e`: the client in a pty read into a pyte
screen, datagrams counted by `bench/e2e/relay.py`). The relayed one adds the real path of
``pymosh -J``: client -> tagger (`relay.ClientTagger`, its own process) -> relay hub
(`relay.register`, its own process, HMAC check and routing) -> server, each hop a
loopback UDP send, so the difference is the relay's own cost, not a network's.

Also the relay hub's routing cost per datagram (`relay.RelayTable.from_client`, one
HMAC-SHA256 per trial) with 1, 10 and 100 routes on its port: a genuine datagram from a
known address (1 trial) and an unauthenticated one (one trial per route).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time

from bench.e2e import scenarios
from bench.e2e.session import Impl, Session
from pymosh.frontend import relay


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RelayedSession(Session):
    """The harness's session with the tagger and a relay hub in front of its counter."""

    tagger_pid: int | None = None

    def _start_client(self, key: str, env: dict[str, str]) -> None:
        self.state = tempfile.mkdtemp(prefix="pymosh-bench-relay-")
        os.environ["PYMOSH_STATE_DIR"] = self.state
        rkey = os.urandom(16)
        self.hub_port = _free_udp_port()
        relay.register(
            {
                "relay_port": self.hub_port,
                "key": base64.b64encode(rkey).decode(),
                "host": "127.0.0.1",
                "port": self.relay_port,
                "timeout": 600,
            }
        )
        tagger = relay.ClientTagger(("127.0.0.1", self.hub_port), rkey, socket.AF_INET)
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so it says bye
            code = 0
            try:
                tagger.run(parent)
            except BaseException:  # noqa: BLE001
                code = 0
            finally:
                os._exit(code)
        self.tagger_pid = pid
        counter_port, self.relay_port = self.relay_port, tagger.local_port
        tagger.close()
        try:
            super()._start_client(key, env)
        finally:
            self.relay_port = counter_port

    def close(self) -> None:
        super().close()
        if self.tagger_pid is not None:
            os.kill(self.tagger_pid, signal.SIGTERM)
            os.waitpid(self.tagger_pid, 0)
            self.tagger_pid = None
            shutil.rmtree(self.state, ignore_errors=True)


def _measure(cls, keys: int, lines: int) -> dict:
    session = cls(Impl.pymosh(), f"bench-bastion-{os.getpid()}-{cls.__name__}")
    try:
        session.start()
        lat = scenarios.latency(session, keys, random.Random(1))["samples_ms"]
        bulk = scenarios.bulk(session, f"seq 1 {lines}", 120)
    finally:
        session.close()
    q = statistics.quantiles(lat, n=10)
    return {
        "echo_p50_ms": statistics.median(lat),
        "echo_p90_ms": q[8],
        "bulk_wall_s": bulk["wall_s"],
        "bulk_s2c_packets": bulk["wire_s2c_packets"],
    }


def routing_cost(routes: int, count: int = 20000) -> dict:
    table = relay.RelayTable()
    keys = [os.urandom(16) for _ in range(routes)]
    for i, key in enumerate(keys):
        table.add(i, key, 600, 0)
    tagger = relay.Tagger(keys[-1])
    genuine = [tagger.seal(i + 1, b"\0" * 80) for i in range(count)]
    garbage = os.urandom(len(genuine[0]))
    addr = ("192.0.2.1", 1)
    start = time.perf_counter()
    for datagram in genuine:
        table.from_client(datagram, addr, 0)
    known = (time.perf_counter() - start) / count * 1e6
    start = time.perf_counter()
    for _ in range(count):
        table.from_client(garbage, addr, 0)
    bad = (time.perf_counter() - start) / count * 1e6
    return {"known_address_us": known, "unauthenticated_us": bad}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--lines", type=int, default=200000)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    results: dict[str, dict] = {
        "direct": _measure(Session, args.keys, args.lines),
        "relay": _measure(RelayedSession, args.keys, args.lines),
    }
    time.sleep(0.1)
    print(f"{'path':>7}  {'echo p50':>9}  {'echo p90':>9}  {'seq 1 ' + str(args.lines):>14}")
    for name, r in results.items():
        print(
            f"{name:>7}  {r['echo_p50_ms']:>7.2f}ms  {r['echo_p90_ms']:>7.2f}ms  "
            f"{r['bulk_wall_s']:>12.2f} s"
        )
    d, r = results["direct"], results["relay"]
    print(
        f"  relay/direct: echo p50 x{r['echo_p50_ms'] / d['echo_p50_ms']:.2f}, "
        f"bulk x{r['bulk_wall_s'] / d['bulk_wall_s']:.2f}"
    )
    print(f"{'routes':>7}  {'genuine':>8}  {'garbage':>8}  (relay hub, µs per datagram)")
    for routes in (1, 10, 100):
        cost = routing_cost(routes)
        results[f"routing_{routes}"] = cost
        print(f"{routes:>7}  {cost['known_address_us']:>8.2f}  {cost['unauthenticated_us']:>8.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
