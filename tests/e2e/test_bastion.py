"""Sessions through a jump host (issue #16 part 2): client, bastion and host in their own
network namespaces with private sshds; the host is reachable only from the bastion."""

from __future__ import annotations

import os
import shlex
import sys

import pytest

from tests.e2e.netns import HOST_NAME, Topology
from tests.e2e.sshd import SSHD, Sshd, free_tcp_port
from tests.frontend.helpers import child_env, program_command
from tests.frontend.test_portshare import wait_until
from tests.support.procs import wait_gone

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SSH_PORT = 2222
RELAY_PORT = 60001


class Net:
    def __init__(self, tmp_path, tag, hops: int = 1, bastion_env=None) -> None:
        self.tmp = tmp_path
        self.topo = Topology(hops)
        self.sshds: list[Sshd] = []
        self.tag = tag
        self.bastion_env = bastion_env or {}

    def start(self) -> Net:
        topo = self.topo
        topo.start()
        places = [
            (ns, ip, f"bastion{i}")
            for i, (ns, ip) in enumerate(zip(topo.bastions, topo.bastion_ips))
        ]
        key = None
        for ns, ip, name in [*places, (topo.host, topo.host_ip, "host")]:
            sshd = Sshd(
                str(self.tmp),
                self.tag,
                netns=ns,
                listen=ip,
                port=SSH_PORT,
                name=name,
                user_key=key,
                env={
                    "PYMOSH_STATE_DIR": str(self.tmp / f"{name}-state"),
                    **(self.bastion_env if ns != topo.host else {}),
                },
            )
            self.sshds.append(sshd.start())
            key = sshd.user_key
        return self

    def ssh(self) -> str:
        return self.sshds[0].ssh_command()

    def stop(self) -> None:
        for sshd in self.sshds:
            sshd.stop()
        self.topo.stop()

    def relay_bound(self, ns: str | None = None) -> bool:
        out = self.topo.run(ns or self.topo.bastion, "ss", "-uanH").stdout
        return f":{RELAY_PORT} " in out

    def wrapper(
        self, *options: str, host: str = HOST_NAME, client: str = "pymosh", server: str = "pymosh"
    ) -> str:
        server_cmd = (
            "mosh-server"
            if server == "stock"
            else (
                "env "
                + shlex.quote(f"PYTHONPATH={child_env()['PYTHONPATH']}")
                + " "
                + program_command("server")
            )
        )
        client_cmd = "mosh-client" if client == "stock" else program_command("client")
        return " ".join(
            [
                *self.topo.prefix(self.topo.client),
                program_command("wrapper"),
                *(shlex.quote(o) for o in options),
                shlex.quote(f"--server={server_cmd}"),
                shlex.quote(f"--client={client_cmd}"),
                host,
            ]
        )


@pytest.fixture
def net(tmp_path, tag):
    if os.geteuid() != 0:
        pytest.fail("the namespace tests need root")
    if not os.access(SSHD, os.X_OK):
        pytest.fail(f"{SSHD} (openssh-server) is required")
    n = Net(tmp_path, tag).start()
    yield n
    n.stop()


def _session(net, pane, marker: str) -> None:
    pane.wait_prompt(timeout=40)
    pane.send_line(f"echo {marker}-$((6*7))")
    pane.wait_for(f"{marker}-42", timeout=20)


@pytest.mark.parametrize(
    "client,server",
    [
        ("pymosh", "pymosh"),
        pytest.param("stock", "stock", marks=pytest.mark.interop),
        ("stock", "pymosh"),
        pytest.param("pymosh", "stock", marks=pytest.mark.interop),
    ],
)
def test_session_through_the_bastion_roams_and_the_relay_leaves_with_it(
    net, pane_factory, tag, client, server
):
    topo = net.topo
    # the host is out of the client's reach: only the relay can carry the session
    assert topo.run(topo.client, "ip", "route", "get", topo.host_ip).returncode != 0
    pane = pane_factory(
        net.wrapper(
            f"--ssh={net.ssh()}", "-J", f"root@{topo.bastion_ip}", client=client, server=server
        )
    )
    _session(net, pane, "relay")
    assert net.relay_bound()
    # one ssh connection to the bastion carried the bootstrap and the relay's start
    assert net.sshds[0].read_log().count("Accepted publickey") == 1
    topo.roam()
    pane.send_line("echo roamed-$((6*7))")
    pane.wait_for("roamed-42", timeout=30)
    pane.send_line("exit")
    assert pane.wait_exit(timeout=20) == 0
    # the client's exit says bye: the route goes, and with the last route the relay
    assert wait_until(lambda: not net.relay_bound(), 15)
    pane.kill()
    assert wait_gone(tag, timeout=15) == []


def test_proxyjump_from_the_ssh_config_and_a_name_only_the_bastion_knows(
    net, pane_factory, tag, tmp_path
):
    topo = net.topo
    bastion = net.sshds[0]
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host target\n  HostName {HOST_NAME}\n"
        f"  ProxyJump root@{topo.bastion_ip}\n"
        f"Host *\n  Port {SSH_PORT}\n  IdentityFile {bastion.user_key}\n"
        "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n"
        "  BatchMode yes\n  LogLevel ERROR\n"
    )
    # two sessions: both relays share the one relay port on the bastion
    panes = [pane_factory(net.wrapper(f"--ssh=ssh -F {config}", host="target")) for _ in range(2)]
    for i, pane in enumerate(panes):
        _session(net, pane, f"cfg{i}")
    out = topo.run(topo.bastion, "ss", "-uanH").stdout
    assert out.count(f":{RELAY_PORT} ") == 1
    for pane in panes:
        pane.send_line("exit")
        assert pane.wait_exit(timeout=20) == 0
        pane.kill()
    assert wait_until(lambda: not net.relay_bound(), 15)
    assert wait_gone(tag, timeout=15) == []


def test_a_failing_bastion_is_named(tmp_path, pane_factory):
    port = free_tcp_port()
    ssh = f"ssh -p {port} -o BatchMode=yes -o StrictHostKeyChecking=no"
    pane = pane_factory(
        " ".join(
            [program_command("wrapper"), shlex.quote(f"--ssh={ssh}"), "-J", "127.0.0.1", "somehost"]
        )
    )
    assert pane.wait_exit(timeout=30) == 255
    text = pane.capture(history=True).replace("\n", "")
    assert "ssh to the jump host 127.0.0.1 failed (exit status 255)" in text


def test_a_host_the_bastion_cannot_reach_is_named(sshd, pane_factory):
    # the bastion (our sshd) works; nothing listens on the host's ssh port
    pane = pane_factory(
        " ".join(
            [
                program_command("wrapper"),
                shlex.quote(f"--ssh={sshd.ssh_command()}"),
                "-J",
                "127.0.0.1",
                "127.0.0.2",
            ]
        )
    )
    assert pane.wait_exit(timeout=30) == 255
    text = pane.capture(history=True).replace("\n", "")
    assert "ssh to 127.0.0.2 through the jump host 127.0.0.1 failed" in text


@pytest.fixture
def net2(tmp_path, tag):
    if os.geteuid() != 0:
        pytest.fail("the namespace tests need root")
    n = Net(tmp_path, tag, hops=2).start()
    yield n
    n.stop()


@pytest.mark.parametrize("client", ["pymosh", pytest.param("stock", marks=pytest.mark.interop)])
def test_two_jump_hosts_a_relay_on_each(net2, pane_factory, tag, client):
    topo = net2.topo
    first, second = topo.bastions
    # the client reaches only the first bastion, the first only the second
    assert topo.run(topo.client, "ip", "route", "get", topo.bastion_ips[1]).returncode != 0
    assert topo.run(first, "ip", "route", "get", topo.host_ip).returncode != 0
    hops = f"root@{topo.bastion_ips[0]},root@{topo.bastion_ips[1]}"
    pane = pane_factory(net2.wrapper(f"--ssh={net2.ssh()}", "-J", hops, client=client))
    _session(net2, pane, "twohops")
    assert net2.relay_bound(first) and net2.relay_bound(second)
    # one ssh connection per bastion (the second through the first) carried everything
    assert [sshd.read_log().count("Accepted publickey") for sshd in net2.sshds[:2]] == [1, 1]
    topo.roam()
    pane.send_line("echo roamed-$((6*7))")
    pane.wait_for("roamed-42", timeout=30)
    pane.send_line("exit")
    assert pane.wait_exit(timeout=20) == 0
    # the bye travels down the chain: both relays leave
    assert wait_until(lambda: not net2.relay_bound(first) and not net2.relay_bound(second), 15)
    pane.kill()
    assert wait_gone(tag, timeout=15) == []


def test_an_installed_pymosh_relay_on_the_bastion_is_used(tmp_path, tag, pane_factory):
    if os.geteuid() != 0:
        pytest.fail("the namespace tests need root")
    shims = tmp_path / "bin"
    shims.mkdir()
    marker = tmp_path / "installed-relay-ran"
    shim = shims / "pymosh-relay"
    shim.write_text(
        "#!/bin/sh\n"
        f"touch {shlex.quote(str(marker))}\n"
        f"exec env PYTHONPATH={shlex.quote(child_env()['PYTHONPATH'])} "
        f"{shlex.quote(sys.executable)} -m pymosh.frontend.relay\n"
    )
    shim.chmod(0o755)
    net = Net(tmp_path, tag, bastion_env={"PATH": f"{shims}:/usr/bin:/bin"}).start()
    try:
        pane = pane_factory(net.wrapper(f"--ssh={net.ssh()}", "-J", f"root@{net.topo.bastion_ip}"))
        _session(net, pane, "installed")
        assert marker.exists()
        pane.send_line("exit")
        assert pane.wait_exit(timeout=20) == 0
        assert wait_until(lambda: not net.relay_bound(), 15)
    finally:
        net.stop()
