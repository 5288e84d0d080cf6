"""The floor of an idle session's CPU for a CPython process: two bare interpreters that wake
like an idle session pair (each sends a datagram every 3 s, receives the other's, 1.5 s
apart; epoll, recvmsg, sendto and nothing else), CPU per second and per wake-up.

``python -m bench.e2e.wakefloor [SECONDS]`` — compare with the idle CPU of one pymosh and one
Mosh session in ``bench.e2e.many --sessions 1`` (same machine, same run).
"""

from __future__ import annotations

import os
import select
import socket
import sys
import time

from . import procstat

HEARTBEAT_S = 3.0  # Mosh's ACK_INTERVAL


def _peer(me: socket.socket, dest: tuple, offset: float, seconds: float) -> None:
    poller = select.epoll()
    poller.register(me.fileno(), select.EPOLLIN)
    payload = os.urandom(60)  # an idle heartbeat's size
    due = time.monotonic() + offset
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if poller.poll(max(due - time.monotonic(), 0)):
            me.recvmsg(2049, 64)
        if time.monotonic() >= due:
            me.sendto(payload, dest)
            due += HEARTBEAT_S
    os._exit(0)


def measure(seconds: float) -> dict:
    """Both peers' CPU over ``seconds`` of waking: ``cpu_ms_per_s`` and ``us_per_wake``
    (each a list, one per peer)."""
    socks = []
    for _ in range(2):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        socks.append(sock)
    pids = []
    for i, offset in ((0, 0.1), (1, 0.1 + HEARTBEAT_S / 2)):
        pid = os.fork()
        if pid == 0:
            _peer(socks[i], socks[1 - i].getsockname(), offset, seconds + 4)
        pids.append(pid)
    for sock in socks:
        sock.close()
    time.sleep(2)
    cpu0 = [procstat.cpu_seconds(pid) or 0.0 for pid in pids]
    t0 = time.monotonic()
    time.sleep(seconds)
    cpu1 = [procstat.cpu_seconds(pid) or 0.0 for pid in pids]
    elapsed = time.monotonic() - t0
    for pid in pids:
        os.waitpid(pid, 0)
    wakes = 2 * elapsed / HEARTBEAT_S  # its own send and the peer's datagram
    used = [b - a for a, b in zip(cpu0, cpu1)]
    return {
        "seconds": elapsed,
        "cpu_ms_per_s": [1e3 * u / elapsed for u in used],
        "us_per_wake": [1e6 * u / wakes for u in used],
    }


def main(argv: list[str]) -> int:
    floor = measure(float(argv[0]) if argv else 60.0)
    for name, ms, us in zip("ab", floor["cpu_ms_per_s"], floor["us_per_wake"]):
        print(f"bare CPython peer {name}: {ms:.3f} ms CPU/s, {us:.0f} us per wake-up")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
