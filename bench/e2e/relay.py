"""A counting UDP relay between a Mosh client and server (loopback only).

Run as its own process so that relaying never competes for the harness's GIL::

    python -m bench.e2e.relay TARGET_PORT

It binds 127.0.0.1:0, prints ``PORT <n>`` on stdout, then forwards datagrams from any
client address to 127.0.0.1:TARGET_PORT and the server's replies back to the client
address that spoke last (so a roaming client keeps working). Each line written to its
stdin (``stats``) is answered with one JSON line of counters; EOF on stdin ends it.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import sys


def serve(target_port: int) -> None:
    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.bind(("127.0.0.1", 0))
    back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    back.bind(("127.0.0.1", 0))
    back.connect(("127.0.0.1", target_port))
    sys.stdout.write(f"PORT {front.getsockname()[1]}\n")
    sys.stdout.flush()
    counts = {"c2s_packets": 0, "c2s_bytes": 0, "s2c_packets": 0, "s2c_bytes": 0}
    client_addr = None
    sel = selectors.DefaultSelector()
    sel.register(front, selectors.EVENT_READ, "front")
    sel.register(back, selectors.EVENT_READ, "back")
    sel.register(sys.stdin.fileno(), selectors.EVENT_READ, "ctl")
    ctl_buf = b""
    while True:
        for key, _ in sel.select():
            if key.data == "front":
                data, addr = front.recvfrom(65536)
                client_addr = addr
                counts["c2s_packets"] += 1
                counts["c2s_bytes"] += len(data)
                try:
                    back.send(data)
                except OSError:
                    pass
            elif key.data == "back":
                try:
                    data = back.recv(65536)
                except OSError:  # ICMP port unreachable before the server listens
                    continue
                counts["s2c_packets"] += 1
                counts["s2c_bytes"] += len(data)
                if client_addr is not None:
                    try:
                        front.sendto(data, client_addr)
                    except OSError:
                        pass
            else:
                chunk = os.read(sys.stdin.fileno(), 4096)
                if not chunk:
                    return
                ctl_buf += chunk
                while b"\n" in ctl_buf:
                    _, ctl_buf = ctl_buf.split(b"\n", 1)
                    sys.stdout.write(json.dumps(counts) + "\n")
                    sys.stdout.flush()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
