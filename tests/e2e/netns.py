"""A client / bastion / host topology in network namespaces, built and removed by a test.

    client ns  vc ---- vb1  bastion ns  vb2 ---- vh  host ns
               10.X.1.2     10.X.1.1    10.X.2.1     10.X.2.2

The bastion does not forward (a fresh namespace has ip_forward off), so the host's UDP
and ssh are reachable only from the bastion. Only these namespaces' own addresses are
used; ``roam()`` moves the client to a new address. Needs root. ``/etc/netns/<bastion>/
hosts`` gives the bastion a private name for the host (``ip netns exec`` mounts it over
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
    def __init__(self) -> None:
        suffix = f"{random.randrange(1 << 24):06x}"
        self.client, self.bastion, self.host = (f"pmc{suffix}", f"pmb{suffix}",
                                                f"pmh{suffix}")
        octet = random.randrange(100, 250)
        self.net = f"10.{octet}"
        self.client_ip = f"{self.net}.1.2"
        self.bastion_ip = f"{self.net}.1.1"
        self.bastion_inner_ip = f"{self.net}.2.1"
        self.host_ip = f"{self.net}.2.2"
        self.etc = f"/etc/netns/{self.bastion}"
        self.created: List[str] = []

    def start(self) -> Topology:
        try:
            for ns in (self.client, self.bastion, self.host):
                _ip("netns", "add", ns)
                self.created.append(ns)
                _ip("-n", ns, "link", "set", "lo", "up")
            _ip("link", "add", "vc", "netns", self.client, "type", "veth",
                "peer", "name", "vb1", "netns", self.bastion)
            _ip("link", "add", "vh", "netns", self.host, "type", "veth",
                "peer", "name", "vb2", "netns", self.bastion)
            for ns, dev, addr in ((self.client, "vc", self.client_ip),
                                  (self.bastion, "vb1", self.bastion_ip),
                                  (self.bastion, "vb2", self.bastion_inner_ip),
                                  (self.host, "vh", self.host_ip)):
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
        return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True,
                              text=True, timeout=kwargs.pop("timeout", 20), **kwargs)

    def prefix(self, ns: str) -> List[str]:
        return ["ip", "netns", "exec", ns]

    def roam(self) -> str:
        """Give the client a new address and take the old one away; the new address."""
        new = f"{self.net}.1.3"
        # old one first: deleting a primary address also deletes its secondaries
        _ip("-n", self.client, "addr", "del", f"{self.client_ip}/24", "dev", "vc")
        _ip("-n", self.client, "addr", "add", f"{new}/24", "dev", "vc")
        self.client_ip = new
        return new

    def pids(self) -> List[int]:
        """Processes still running in our namespaces."""
        found: List[int] = []
        for ns in self.created:
            out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True,
                                 timeout=20).stdout
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
