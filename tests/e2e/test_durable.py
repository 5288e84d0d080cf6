"""Sessions that outlive the client, end to end in tmux: ``pymosh --list / --resume / --kill``.

A session is started with ``pymosh``, a shell variable is set and output left on the
screen, the client dies (``kill -9``) or sleeps (SIGSTOP); ``--list`` shows the session
detached (after DETACHED_AFTER_S), ``--resume`` shows the same screen and the shell's
state, and the old client, woken, is refused.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import time

import pytest

from pymosh.frontend.registry import DETACHED_AFTER_S
from tests.e2e import session
from tests.e2e.session import client_command
from tests.frontend.helpers import child_env, program, program_command
from tests.support.procs import children_of, pid_alive, wait_gone
from tests.support.relay import RelayImpairment, UdpRelay
from tests.support.servers import parse_connect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SHELL = ["--", "bash", "--norc", "--noprofile"]


def local(*options: str) -> list[str]:
    return [
        *program("wrapper"),
        "--local",
        "--bind-server=127.0.0.1",
        f"--server={program_command('server')}",
        f"--client={program_command('client')}",
        *options,
        "127.0.0.1",
    ]


def over_ssh(sshd, state: str, *options: str) -> list[str]:
    # the remote side gets no environment through ssh: put it on the server command line
    server = (
        "env "
        + " ".join(
            shlex.quote(v)
            for v in (f"PYTHONPATH={child_env()['PYTHONPATH']}", f"PYMOSH_STATE_DIR={state}")
        )
        + " "
        + program_command("server")
    )
    return [
        *program("wrapper"),
        f"--ssh={sshd.ssh_command()}",
        f"--server={server}",
        f"--client={program_command('client')}",
        *options,
        "127.0.0.1",
    ]


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return session.run(argv, env, timeout=60)


def the_client(pane) -> int:
    """The pymosh-client process in the pane (the wrapper exec'd it)."""
    kids = children_of(pane.pane_pid())
    assert len(kids) == 1, kids
    return kids[0]


def wait_detached(list_argv: list[str], env: dict[str, str]) -> str:
    deadline = time.monotonic() + DETACHED_AFTER_S + 15
    while True:
        out = run(list_argv, env).stdout
        if " detached " in out:
            return out
        assert time.monotonic() < deadline, f"never detached:\n{out}"
        time.sleep(0.5)


def session_rows(listing: str) -> list[str]:
    return [line for line in listing.splitlines()[1:] if line.strip()]


def start_session(pane_factory, argv: list[str], state: str):
    pane = pane_factory(shlex.join(argv + SHELL), PYMOSH_STATE_DIR=state)
    pane.wait_prompt()
    pane.send_line("VAR=durable-$((40+2)); echo once-$((1+1)); seq 3 | sed s/^/line-/")
    pane.wait_for("line-3")
    return pane


def test_local_resume_after_the_client_is_killed(tmp_path, tag, pane_factory):
    state = str(tmp_path / "state")
    env = child_env(PYMOSH_TEST_TAG=tag, PYMOSH_STATE_DIR=state)
    pane = start_session(pane_factory, local(), state)
    os.kill(the_client(pane), signal.SIGKILL)

    listing = wait_detached(local("--list"), env)
    assert len(session_rows(listing)) == 1

    # a new session says that a detached one exists
    other = pane_factory(shlex.join(local() + SHELL), PYMOSH_STATE_DIR=state)
    other.wait_for("1 detached session on this server")
    other.send_line("exit")
    assert other.wait_exit(timeout=15) == 0

    resumed = pane_factory(shlex.join(local("--resume")), PYMOSH_STATE_DIR=state)
    screen = resumed.wait_for("line-3", timeout=20)
    assert screen.count("once-2") == 1  # received before the crash: applied once
    resumed.send_line("echo got-$VAR")
    resumed.wait_for("got-durable-42")
    assert "attached" in run(local("--list"), env).stdout
    resumed.send_line("exit")
    assert resumed.wait_exit(timeout=15) == 0
    assert "No pymosh sessions." in run(local("--list"), env).stdout
    pane.kill()
    other.kill()
    resumed.kill()
    assert wait_gone(tag, timeout=10) == []


MARKER = re.compile(r"^\[pymosh: session (\w+) resumed; its (?:last )?(\d+)(?: of \d+)? history")


def history_numbers(pane) -> list:
    """The pane's history and screen: numbers (lines of digits) and ("marker", ID, n)."""
    out: list = []
    for line in pane.capture(history=True).splitlines():
        line = line.strip()
        if line.isdigit():
            out.append(int(line))
        elif MARKER.match(line):
            out.append(("marker", *MARKER.match(line).groups()))
    return out


def test_resume_replays_the_history_the_new_client_lacks(tmp_path, tag, pane_factory):
    state = str(tmp_path / "state")
    env = child_env(PYMOSH_TEST_TAG=tag, PYMOSH_STATE_DIR=state)
    argv = local("--scrollback=5000") + SHELL
    pane = pane_factory(shlex.join(argv), history_limit=10_000, PYMOSH_STATE_DIR=state)
    pane.wait_prompt()
    pane.send_line("seq 1 300")
    pane.wait_until(lambda _: history_numbers(pane) == list(range(1, 301)), timeout=30)
    # the shell goes on printing after the client is gone
    pane.send_line("echo started-$((1+1)); sleep 2; seq 301 600")
    pane.wait_for("started-2")
    os.kill(the_client(pane), signal.SIGKILL)
    session_id = session_rows(wait_detached(local("--list"), env))[0].split()[0]

    argv = local("--resume", "--scrollback=5000")
    resumed = pane_factory(shlex.join(argv), history_limit=10_000, PYMOSH_STATE_DIR=state)
    resumed.wait_prompt(timeout=30)
    # the history arrives behind the screen: one marker, then every number once, in order
    want = [("marker", session_id, None), *range(1, 601)]

    def replayed(_: str) -> bool:
        got = history_numbers(resumed)
        return [x if isinstance(x, int) else x[:2] + (None,) for x in got] == want

    resumed.wait_until(replayed, timeout=60, what="the replayed history")
    # the marker counts the history lines the session had: prompts, commands and numbers
    assert int(history_numbers(resumed)[0][2]) >= 600 - 23
    # new lines follow the replay, once
    resumed.send_line("seq 601 650")
    resumed.wait_until(
        lambda _: history_numbers(resumed)[1:] == list(range(1, 651)), timeout=30, what="601..650"
    )
    resumed.send_line("exit")
    assert resumed.wait_exit(timeout=15) == 0
    pane.kill()
    resumed.kill()
    assert wait_gone(tag, timeout=10) == []


def test_resume_over_ssh_and_the_woken_old_client_is_refused(tmp_path, tag, sshd, pane_factory):
    state = str(tmp_path / "state")
    env = child_env(PYMOSH_TEST_TAG=tag)
    pane = start_session(pane_factory, over_ssh(sshd, state), state)
    old_client = the_client(pane)
    os.kill(old_client, signal.SIGSTOP)
    try:
        listing = wait_detached(over_ssh(sshd, state, "--list"), env)
        assert len(session_rows(listing)) == 1
        resumed = pane_factory(shlex.join(over_ssh(sshd, state, "--resume")))
        resumed.wait_for("line-3", timeout=30)
    finally:
        os.kill(old_client, signal.SIGCONT)
    # the old client wakes up and types: its key is no longer accepted
    pane.send_line("echo stale-$((2+3))")
    resumed.send_line("echo fresh-$((3+4)) $VAR")
    resumed.wait_for("fresh-7 durable-42", timeout=15)
    time.sleep(2)
    assert "stale-5" not in resumed.capture(history=True)
    assert "stale-5" not in pane.capture(history=True)
    assert pid_alive(old_client)
    pane.kill()
    # --kill over ssh ends it: the shell gets SIGHUP, the resumed client is told
    session_id = json.loads(
        run([*program("server"), "list", "--json"], child_env(PYMOSH_STATE_DIR=state)).stdout
    )[0]["id"]
    result = run(over_ssh(sshd, state, f"--kill={session_id}"), env)
    assert result.returncode == 0 and f"Killed session {session_id}" in result.stdout
    assert resumed.wait_exit(timeout=20) == 0
    resumed.kill()
    assert wait_gone(tag, timeout=10) == []


def test_resume_through_a_lossy_relay(tmp_path, tag, pane_factory):
    state = str(tmp_path / "state")
    env = child_env(PYMOSH_TEST_TAG=tag, PYMOSH_STATE_DIR=state)
    pane = start_session(pane_factory, local(), state)
    os.kill(the_client(pane), signal.SIGKILL)
    wait_detached(local("--list"), env)
    result = run([*program("server"), "resume"], env)
    port, key = parse_connect(result.stdout)
    impair = RelayImpairment(delay_ms=20, jitter_ms=10, loss=0.2, duplicate=0.1, reorder=0.2)
    with UdpRelay(
        port, up=impair, down=RelayImpairment(**vars(impair)), seed=3, lifetime_s=60
    ) as relay:
        command = client_command(str(tmp_path), program("client"), relay.listen_port, key)
        resumed = pane_factory(command)
        resumed.wait_for("line-3", timeout=30)
        resumed.send_line("echo got-$VAR")
        resumed.wait_for("got-durable-42", timeout=30)
        resumed.send_line("exit")
        assert resumed.wait_exit(timeout=30) == 0
    pane.kill()
    resumed.kill()
    assert wait_gone(tag, timeout=10) == []


NO_REGISTRY = (
    "pymosh: 'mosh-server' keeps no session registry (a stock mosh-server?): "
    "--list, --resume and --kill need pymosh-server on the server"
)


def test_resume_and_list_against_a_stock_server_say_why_not(tmp_path, tag, pane_factory):
    env = child_env(PYMOSH_STATE_DIR=str(tmp_path / "state"))
    for option in ("--list", "--kill=abcd1234"):  # these need no terminal
        argv = [*program("wrapper"), "--local", "--server=mosh-server", option, "127.0.0.1"]
        result = run(argv, env)
        assert result.returncode == 255
        assert result.stderr.strip().splitlines() == [NO_REGISTRY]
    pane = pane_factory(
        shlex.join(
            [*program("wrapper"), "--local", "--server=mosh-server", "--resume", "127.0.0.1"]
        )
    )
    assert pane.wait_exit(timeout=20) == 255
    screen = "".join(pane.capture(history=True).split())
    assert screen.startswith("".join(NO_REGISTRY.split()))
    pane.kill()
    assert wait_gone(tag, timeout=10) == []  # and no stock session was started


def test_several_detached_sessions_the_wrapper_asks_which(tmp_path, tag, pane_factory):
    from pymosh.frontend import registry

    state = str(tmp_path / "state")
    env = child_env(PYMOSH_TEST_TAG=tag, PYMOSH_STATE_DIR=state)
    for name in ("alpha", "beta"):
        script = f"echo session-{name}-$((1+1)); exec bash --norc --noprofile"
        argv = [*program("server"), "new", "-i", "127.0.0.1", "--", "sh", "-c", script]
        assert parse_connect(run(argv, env).stdout)
    directory = os.path.join(state, "sessions")
    deadline = time.monotonic() + 10
    while not os.path.isdir(directory) or len(registry.scan(directory)[0]) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    records = registry.scan(directory)[0]
    for record in records:  # as if their clients had gone long ago
        record.state = "detached"
        registry.write_record(directory, record)
    beta = next(r for r in records if "session-beta" in " ".join(r.command))

    pane = pane_factory(shlex.join(local("--resume")), PYMOSH_STATE_DIR=state)
    screen = pane.wait_for("Resume which session? ID (empty to cancel):", timeout=20)
    assert all(r.id in screen for r in records)
    pane.send_line(beta.id)
    pane.wait_for("session-beta-2", timeout=20)
    pane.send_line("exit")
    assert pane.wait_exit(timeout=15) == 0


@pytest.fixture
def jump_net(tmp_path, tag):
    from tests.e2e.sshd import SSHD
    from tests.e2e.test_bastion import Net

    if os.geteuid() != 0 or not os.access(SSHD, os.X_OK):
        pytest.fail("the namespace tests need root and openssh-server")
    net = Net(tmp_path, tag).start()
    yield net
    net.stop()


def test_resume_through_a_jump_host(jump_net, tag, pane_factory):
    net, topo = jump_net, jump_net.topo
    jump = ["-J", f"root@{topo.bastion_ip}", f"--ssh={net.ssh()}"]
    pane = pane_factory(net.wrapper(*jump))
    pane.wait_prompt(timeout=40)
    pane.send_line("VAR=jumped-$((40+2)); echo seen-$((1+1))")
    pane.wait_for("seen-2")
    os.kill(the_client(pane), signal.SIGKILL)

    list_argv = shlex.split(net.wrapper(*jump, "--list"))
    listing = wait_detached(list_argv, child_env(PYMOSH_TEST_TAG=tag))
    assert len(session_rows(listing)) == 1
    resumed = pane_factory(net.wrapper(*jump, "--resume"))
    resumed.wait_for("seen-2", timeout=40)
    resumed.send_line("echo got-$VAR")
    resumed.wait_for("got-jumped-42", timeout=20)
    resumed.send_line("exit")
    assert resumed.wait_exit(timeout=20) == 0
    pane.kill()
    resumed.kill()
    assert wait_gone(tag, timeout=15) == []


def test_a_resumed_session_forwards_what_the_new_client_asks(tmp_path, tag, pane_factory):
    from pymosh.frontend import registry
    from tests.e2e.sshd import free_tcp_port
    from tests.e2e.test_forwarding import Service, exchange

    state = str(tmp_path / "state")
    env = child_env(PYMOSH_TEST_TAG=tag, PYMOSH_STATE_DIR=state)
    argv = [*program("server"), "new", "-p", "0", "--", "sh", "-c", "echo up; sleep 600"]
    port, key = parse_connect(run(argv, env).stdout)
    first, second = Service(down_bytes=1000), Service(down_bytes=1000)
    try:
        lport = free_tcp_port()
        pane = pane_factory(
            client_command(
                str(tmp_path),
                program("client") + ["-L", f"{lport}:127.0.0.1:{first.port}"],
                port,
                key,
            ),
            PYMOSH_STATE_DIR=state,
        )
        exchange(lport, None, up_bytes=1000, down_bytes=1000)
        os.kill(the_client(pane), signal.SIGKILL)

        directory = os.path.join(state, "sessions")
        session_id = registry.scan(directory)[0][0].id
        port, key = parse_connect(run([*program("server"), "resume", session_id], env).stdout)
        lport2 = free_tcp_port()
        resumed = pane_factory(
            client_command(
                str(tmp_path),
                program("client") + ["-L", f"{lport2}:127.0.0.1:{second.port}"],
                port,
                key,
            ),
            PYMOSH_STATE_DIR=state,
        )
        resumed.wait_for("up", timeout=20)
        exchange(lport2, None, up_bytes=1000, down_bytes=1000)
    finally:
        first.close()
        second.close()
