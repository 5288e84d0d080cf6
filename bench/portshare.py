"""Per-datagram cost of the shared UDP port (issue #16) with 1, 10 and 100 sessions.

Run: ``PYTHONPATH=src python3 -m bench.portshare [--count 20000] [--json FILE]`` from the
repository root.

Two measurements, each for 1, 10 and 100 registered sessions:

* the routing core alone (`network/portroute.Router.route`, compiled crypto when built),
  µs per datagram: an authentic datagram from the address its session was last seen at
  (1 trial), an authentic one from a new address for the session tried last (a roam:
  N trials), and an unauthenticated one (N trials, nothing routed);
* a real port owner process (`frontend/portshare`) with N sessions registered over its
  unix socket: its CPU time (utime + stime from /proc) per datagram for a stream of
  garbage (every datagram tried against every key, then dropped; divided by the datagrams
  it read, as the kernel drops what it cannot keep up with) and for a stream of authentic
  datagrams to one session from its known address (one trial plus the hand-off over the
  unix socket), `count` datagrams each.

The cost of an unauthenticated datagram grows linearly with the number of live sessions
(one AES-OCB open of the datagram per session); an authentic one from a known address
costs one trial whatever the number of sessions.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import tempfile
import time

from pymosh.crypto import TO_SERVER, Session
from pymosh.frontend import portshare
from pymosh.network.portroute import Router

SIZES = (1, 10, 100)
PAYLOAD = b"\0" * 60  # a typical keystroke datagram's size (~100 bytes)


def _per_call_us(fn, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        fn()
    return (time.perf_counter() - start) / count * 1e6


def bench_router(n: int, count: int) -> dict:
    keys = [os.urandom(16) for _ in range(n)]
    router = Router()
    for i, key in enumerate(keys):
        router.add(i, key)
    last = Session(keys[-1])
    authentic = last.seal_datagram(TO_SERVER, 1, 0, 0xFFFF, PAYLOAD)
    garbage = b"\x01" + os.urandom(len(authentic) - 1)
    home = ("10.0.0.1", 1)
    router.route(authentic, home)
    roams = [(f"10.1.{i >> 8 & 255}.{i & 255}", 2) for i in range(count)]
    it = iter(roams)

    return {
        "known_address_us": _per_call_us(lambda: router.route(authentic, home), count),
        # a new address each time: the session (registered last) is found on the Nth trial
        "roam_us": _per_call_us(lambda: router.route(authentic, next(it)), count),
        "unauthenticated_us": _per_call_us(lambda: router.route(garbage, home), count),
    }


def _cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _owner_pid(directory: str) -> int:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if b"pymosh.frontend.portshare" in argv and directory.encode() in argv:
                return int(entry)
    raise RuntimeError("no port owner found")


def _udp_drops(port: int) -> int:
    total = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as f:
                rows = f.readlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                total += int(fields[-1])
    return total


def _stream(sock: socket.socket, port: int, datagrams, drain) -> None:
    for i, datagram in enumerate(datagrams):
        sock.sendto(datagram, ("127.0.0.1", port))
        if i % 32 == 31:
            drain()
            time.sleep(0.0005)
    time.sleep(0.2)
    drain()


def bench_owner(n: int, count: int) -> dict:
    hz = os.sysconf("SC_CLK_TCK")
    with tempfile.TemporaryDirectory() as directory:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        keys = [os.urandom(16) for _ in range(n)]
        channels = [portshare.join(port, key, "127.0.0.1", directory) for key in keys]
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.bind(("127.0.0.1", 0))
        got = [0]

        def drain() -> None:
            got[0] += len(channels[-1].recv_all(0))

        try:
            owner = _owner_pid(directory)
            session = Session(keys[-1])
            warm = session.seal_datagram(TO_SERVER, 0, 0, 0xFFFF, PAYLOAD)
            _stream(sender, port, [warm], drain)  # the address hint
            size = len(warm)
            garbage = [b"\x01" + os.urandom(size - 1) for _ in range(count)]
            before, dropped = _cpu_ticks(owner), _udp_drops(port)
            _stream(sender, port, garbage, drain)
            garbage_s = (_cpu_ticks(owner) - before) / hz
            # the kernel drops what the owner cannot keep up with: cost per datagram read
            garbage_read = count - (_udp_drops(port) - dropped)
            authentic = [
                session.seal_datagram(TO_SERVER, i + 1, 0, 0xFFFF, PAYLOAD) for i in range(count)
            ]
            got[0] = 0
            before = _cpu_ticks(owner)
            _stream(sender, port, authentic, drain)
            authentic_s = (_cpu_ticks(owner) - before) / hz
            delivered = got[0]
        finally:
            sender.close()
            for channel in channels:
                channel.close()
    return {
        "garbage_cpu_us": garbage_s / max(garbage_read, 1) * 1e6,
        "garbage_read": garbage_read,
        "authentic_cpu_us": authentic_s / count * 1e6,
        "authentic_delivered": delivered,
        "count": count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    results = {}
    print(
        f"{'sessions':>8}  {'route known':>11}  {'route roam':>10}  {'route bad':>9}  "
        f"{'owner bad':>9}  {'owner good':>10}  (µs per datagram)"
    )
    for n in SIZES:
        router = bench_router(n, args.count)
        owner = bench_owner(n, args.count)
        results[n] = {"router": router, "owner": owner}
        print(
            f"{n:>8}  {router['known_address_us']:>11.2f}  {router['roam_us']:>10.2f}  "
            f"{router['unauthenticated_us']:>9.2f}  {owner['garbage_cpu_us']:>9.1f}  "
            f"{owner['authentic_cpu_us']:>10.1f}  "
            f"({owner['garbage_read']} bad read, "
            f"{owner['authentic_delivered']}/{owner['count']} good delivered)"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
