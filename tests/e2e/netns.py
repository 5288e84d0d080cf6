"""A client / bastion(s) / host topology in network namespaces, built and removed by a test.

    client ns  l1a ---- l1b  bastion 1  l2a ---- l2b  [bastion 2 ...]  ---- host ns
               10.X.1.2     10.X.1.1    10.X.2.2     10.X.2.1               10.X.n.1

Link i joins namespace i-1 (address 10.X.i.2) to namespace i (10.X.i.1). No namespace
forwards (a fresh one has ip_forward off), so each reaches only its neighbours: the host
is reachable only from the last bastion. Only these namespaces' own addresses are used;
``roam()`` moves the client to a new address. Needs root. ``/etc/netns/<last bastion>/
hosts`` gives that bastion a private name for the host (``ip netns exec`` mounts it over
/etc/hosts for processes in that namespace only).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from typing import List

HOST_NAME = "privhost"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


class Topology:
    def __init__(self, hops: int = 1) -> None:
        suffix = f"{random.randrange(1 << 24):06x}"
        self.client = f"pmc{suffix}"
        self.bastions = [f"pmb{i}{suffix}" for i in range(hops)]
        self.host = f"pmh{suffix}"
        self.chain = [self.client, *self.bastions, self.host]
        self.net = f"10.{random.randrange(100, 250)}"
        self.client_ip = f"{self.net}.1.2"
        # each bastion's address facing the hop before it (what that hop connects to)
        self.bastion_ips = [f"{self.net}.{i + 1}.1" for i in range(hops)]
        self.host_ip = f"{self.net}.{hops + 1}.1"
        self.etc = f"/etc/netns/{self.bastions[-1]}"
        self.created: List[str] = []

    @property
    def bastion(self) -> str:
        return self.bastions[0]

    @property
    def bastion_ip(self) -> str:
        return self.bastion_ips[0]

    def start(self) -> Topology:
        try:
            for ns in self.chain:
                _ip("netns", "add", ns)
                self.created.append(ns)
                _ip("-n", ns, "link", "set", "lo", "up")
            for i in range(1, len(self.chain)):
                left, right = self.chain[i - 1], self.chain[i]
                _ip(
                    "link",
                    "add",
                    f"l{i}a",
                    "netns",
                    left,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    f"l{i}b",
                    "netns",
                    right,
                )
                for ns, dev, addr in (
                    (left, f"l{i}a", f"{self.net}.{i}.2"),
                    (right, f"l{i}b", f"{self.net}.{i}.1"),
                ):
                    _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
                    _ip("-n", ns, "link", "set", dev, "up")
            os.makedirs(self.etc, exist_ok=True)
            with open(os.path.join(self.etc, "hosts"), "w") as f:
                f.write(f"127.0.0.1 localhost\n{self.host_ip} {HOST_NAME}\n")
        except BaseException:
            self.stop()
            raise
        return self

    def run(self, ns: str, *argv: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["ip", "netns", "exec", ns, *argv],
            capture_output=True,
            text=True,
            timeout=kwargs.pop("timeout", 20),
            **kwargs,
        )

    def prefix(self, ns: str) -> List[str]:
        return ["ip", "netns", "exec", ns]

    def roam(self) -> str:
        """Give the client a new address and take the old one away; the new address."""
        new = f"{self.net}.1.3"
        # old one first: deleting a primary address also deletes its secondaries
        _ip("-n", self.client, "addr", "del", f"{self.client_ip}/24", "dev", "l1a")
        _ip("-n", self.client, "addr", "add", f"{new}/24", "dev", "l1a")
        self.client_ip = new
        return new

    def pids(self) -> List[int]:
        """Processes still running in our namespaces."""
        found: List[int] = []
        for ns in self.created:
            out = subprocess.run(
                ["ip", "netns", "pids", ns], capture_output=True, text=True, timeout=20
            ).stdout
            found += [int(p) for p in out.split()]
        return found

    def stop(self) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        for ns in reversed(self.created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
        self.created.clear()
        shutil.rmtree(self.etc, ignore_errors=True)
