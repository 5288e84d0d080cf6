"""Durable sessions against a live pymosh-server: registry, control socket, resume.

A test-only client (tests.hostile.miniclient) types into ``cat > typed`` so every byte the
shell received is visible: keys are applied exactly once across a resume, and a client
holding a key from before a resume is refused.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from pymosh.crypto import parse_key
from pymosh.frontend import registry
from tests.hostile.miniclient import MiniClient, connect, roundtrip
from tests.support.procs import pid_alive, wait_dead
from tests.support.servers import (
    PYMOSH,
    cat_command,
    checkout_pythonpath,
    parse_connect,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def state(tmp_path):
    return str(tmp_path / "state")


@pytest.fixture
def server(tmp_path, state):
    srv = start_server(
        PYMOSH,
        str(tmp_path),
        cat_command(str(tmp_path / "typed")),
        env_extra={"PYMOSH_STATE_DIR": state},
    )
    # the daemon registers itself after MOSH CONNECT (not to delay the client's start)
    deadline = time.monotonic() + 10
    directory = os.path.join(state, "sessions")
    while not (
        os.path.isdir(directory) and any(n.endswith(".sock") for n in os.listdir(directory))
    ):
        assert time.monotonic() < deadline, "the server did not register"
        time.sleep(0.02)
    yield srv
    stop_server(srv)


def sessions(state: str, *args: str, timeout: float = 15) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYMOSH_STATE_DIR=state, LANG="C.UTF-8")
    env["PYTHONPATH"] = checkout_pythonpath(env)
    return subprocess.run(
        [sys.executable, "-m", "pymosh.frontend.server", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def listing(state: str) -> list[dict]:
    result = sessions(state, "list", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def only_id(state: str) -> str:
    records = listing(state)
    assert len(records) == 1, records
    return records[0]["id"]


def resume(state: str, *args: str) -> bytes:
    result = sessions(state, "resume", *args)
    assert result.returncode == 0, result.stderr
    connect_line = parse_connect(result.stdout)
    assert connect_line is not None, result.stdout
    assert result.stderr == ""  # the key only on stdout
    return parse_key(connect_line[1])


def answers(client: MiniClient, seconds: float = 1.5) -> bool:
    """Does the server answer this client (authentically) within ``seconds``?"""
    client.pump(0.3)  # what was sent before (and still queued) first
    before = len(client.host_states)
    client.send_state()
    return client.pump(seconds, lambda c: len(c.host_states) > before)


def test_record_and_socket_are_private_and_describe_the_session(server, state):
    records = listing(state)
    assert len(records) == 1
    record = records[0]
    assert record["pid"] == server.pid and record["port"] == server.port
    assert record["state"] == "starting" and record["command"][:2] == ["sh", "-c"]
    directory = os.path.join(state, "sessions")
    for name in (record["id"] + ".json", record["id"] + ".sock"):
        assert os.stat(os.path.join(directory, name)).st_mode & 0o777 == 0o600
    with open(os.path.join(directory, record["id"] + ".json")) as f:
        assert server.key_text not in f.read()
    human = sessions(state, "list").stdout
    assert record["id"] in human and "starting" in human


def test_resume_applies_keys_once_and_refuses_the_old_key(server, state):
    old = connect(server)
    roundtrip(server, old, b"before-")
    assert only_id(state) and listing(state)[0]["state"] == "attached"
    session_id = only_id(state)

    new_key = resume(state, session_id)
    assert new_key != server.key
    new = MiniClient(server.port, new_key)
    assert answers(new, 5)
    roundtrip(server, new, b"after")
    assert server.output() == b"before-after"  # nothing replayed, nothing lost

    # the old client wakes up and keeps typing with its key: ignored, never answered
    old.type(b"STALE")
    assert not answers(old)
    assert server.output() == b"before-after"
    # the new client is unharmed
    roundtrip(server, new, b"!")
    assert server.output() == b"before-after!"
    assert listing(state)[0]["state"] == "attached"


def test_a_replayed_resume_key_is_refused(server, state):
    session_id = only_id(state)
    first = resume(state, session_id)
    assert sessions(state, "resume", session_id).returncode == 1  # first one pending
    # the first resume's client attaches; a later resume takes the session over
    client = MiniClient(server.port, first)
    assert answers(client, 5)
    second = resume(state, session_id)
    assert second not in (first, server.key)
    assert not answers(MiniClient(server.port, first))
    assert not answers(MiniClient(server.port, server.key))
    assert answers(MiniClient(server.port, second), 5)


def test_two_racing_resumes_one_wins(server, state):
    session_id = only_id(state)
    results: list[subprocess.CompletedProcess] = []

    def go() -> None:
        results.append(sessions(state, "resume", session_id))

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(r.returncode for r in results) == [0, 1]
    loser = next(r for r in results if r.returncode)
    assert loser.stdout == ""
    assert loser.stderr.count("\n") == 1 and "another client is resuming" in loser.stderr
    winner = next(r for r in results if not r.returncode)
    key = parse_key(parse_connect(winner.stdout)[1])
    assert answers(MiniClient(server.port, key), 5)


def test_resume_without_id_wants_a_detached_session(server, state):
    connect(server)
    result = sessions(state, "resume")
    assert result.returncode == 1 and "no detached session" in result.stderr
    assert result.stdout == ""


def test_kill_ends_the_session_and_its_files(server, state):
    session_id = only_id(state)
    result = sessions(state, "kill", session_id)
    assert result.returncode == 0 and f"Killed session {session_id}" in result.stdout
    assert wait_dead(server.pid, 5)
    assert listing(state) == []
    assert os.listdir(os.path.join(state, "sessions")) == []


def test_records_of_dead_or_reused_processes_are_reaped(server, state):
    directory = os.path.join(state, "sessions")
    session_id = only_id(state)
    # a record whose pid now belongs to another process (this one): start time differs
    fake = registry.Record("0badc0de", os.getpid(), 1, 60999, time.time(), ["sh"])
    registry.write_record(directory, fake)
    os.kill(server.pid, 9)
    assert wait_dead(server.pid, 5)
    assert listing(state) == []
    assert sorted(os.listdir(directory)) == []
    del session_id


def test_bad_records_are_reported_and_the_live_session_is_unharmed(server, state):
    directory = os.path.join(state, "sessions")
    session_id = only_id(state)
    bad = {
        "11111111.json": b'{"version": 1, "id": "111',  # truncated
        "22222222.json": json.dumps({"id": "22222222"}).encode(),  # foreign
    }
    for name, data in bad.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
        os.chmod(os.path.join(directory, name), 0o600)
    other = registry.Record("33333333", server.pid, 0, 1, 0.0, ["x"]).to_json()
    with open(os.path.join(directory, "44444444.json"), "w") as f:  # names another id
        json.dump(other, f)
    os.chmod(os.path.join(directory, "44444444.json"), 0o600)
    with open(os.path.join(directory, "55555555.json"), "w") as f:  # not private
        json.dump(dict(other, id="55555555"), f)
    os.chmod(os.path.join(directory, "55555555.json"), 0o644)

    result = sessions(state, "list", "--json")
    assert result.returncode == 0
    assert [r["id"] for r in json.loads(result.stdout)] == [session_id]
    warnings = result.stderr.splitlines()
    assert len(warnings) == 4 and all(w.startswith("pymosh-server: ignoring") for w in warnings)
    assert "Traceback" not in result.stderr
    assert sessions(state, "resume", "55555555").returncode == 1
    assert sessions(state, "kill", "../../etc").stderr.count("\n") == 1
    assert answers(connect(server))


def test_control_socket_bad_input_leaves_the_session_unharmed(server, state):
    session_id = only_id(state)
    path = os.path.join(state, "sessions", session_id + ".sock")
    for payload in (b"not json\n", b'{"op": 7}\n', b'["resume"]\n', b"x" * 5000, b""):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(path)
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            reply = s.recv(4096)
        except ConnectionResetError:  # an oversized request is cut off
            reply = b""
        s.close()
        assert b"key" not in reply
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.sendall(b'{"op": "bogus"}\n')
    assert json.loads(s.recv(4096)) == {"ok": False, "error": "unknown request 'bogus'"}
    s.close()
    client = connect(server)
    roundtrip(server, client, b"fine")
    assert pid_alive(server.pid)


def test_a_registry_with_loose_permissions_is_refused_in_one_line(server, state):
    os.chmod(state, 0o755)
    result = sessions(state, "list")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "chmod 700" in result.stderr
    assert sessions(state, "resume").stderr.count("\n") == 1
    os.chmod(state, 0o700)
    os.chown(state, 65534, -1)
    result = sessions(state, "list")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "owned by uid 65534" in result.stderr
    os.chown(state, os.geteuid(), -1)
    assert len(listing(state)) == 1
    roundtrip(server, connect(server), b"ok")


def test_several_detached_sessions_are_listed_not_guessed(tmp_path, server, state):
    other = tmp_path / "other"
    other.mkdir()
    second = start_server(
        PYMOSH, str(other), cat_command(str(other / "typed")), env_extra={"PYMOSH_STATE_DIR": state}
    )
    try:
        deadline = time.monotonic() + 10
        while len(listing(state)) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        directory = os.path.join(state, "sessions")
        for record in registry.scan(directory)[0]:  # as if both clients had gone
            record.state = "detached"
            registry.write_record(directory, record)
        result = sessions(state, "resume")
        assert result.returncode == 1
        assert result.stdout == "MOSH CHOOSE-SESSION\n"  # the wrapper asks for an ID
        lines = result.stderr.splitlines()
        assert lines[-1] == "pymosh-server: 2 detached sessions: choose one with --resume=ID"
        assert sum(" detached " in line for line in lines[:-1]) == 2  # the table
    finally:
        stop_server(second)


def test_status_answers_without_the_key(server, state):
    from pymosh.frontend import control

    client = connect(server)
    session_id = only_id(state)
    answer = control.request(
        os.path.join(state, "sessions", session_id + ".sock"), {"op": "status"}
    )
    assert answer["ok"] and answer["state"] == "attached" and answer["id"] == session_id
    assert answer["client"] == f"127.0.0.1:{client.sock.getsockname()[1]}"
    assert server.key_text not in json.dumps(answer)


def test_a_session_runs_without_a_usable_registry_and_says_so(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    os.chmod(state, 0o755)
    srv = start_server(
        PYMOSH,
        str(tmp_path),
        cat_command(str(tmp_path / "typed")),
        env_extra={"PYMOSH_STATE_DIR": str(state)},
    )
    try:
        client = connect(srv)
        roundtrip(srv, client, b"works")
        client.pump(1, lambda c: b"no resume for this session" in c.host_bytes)
        assert b"no resume for this session" in client.host_bytes
        assert b"chmod 700" in client.host_bytes
        assert not os.path.exists(state / "sessions")
    finally:
        stop_server(srv)


def test_kill_all_detached_spares_the_attached(tmp_path, server, state):
    other = tmp_path / "other"
    other.mkdir()
    second = start_server(
        PYMOSH, str(other), cat_command(str(other / "typed")), env_extra={"PYMOSH_STATE_DIR": state}
    )
    try:
        deadline = time.monotonic() + 10
        while len(listing(state)) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        client = connect(server)
        directory = os.path.join(state, "sessions")
        record = next(r for r in registry.scan(directory)[0] if r.pid == second.pid)
        record.state = "detached"  # as if its client had gone
        registry.write_record(directory, record)
        result = sessions(state, "kill", "all-detached")
        assert result.returncode == 0
        assert result.stdout == f"Killed session {record.id} (pid {second.pid}).\n"
        assert wait_dead(second.pid, 5)
        assert [r["pid"] for r in listing(state)] == [server.pid]
        roundtrip(server, client, b"still here")
    finally:
        stop_server(second)


def test_network_timeout_still_ends_a_detached_session_and_its_record(tmp_path, state):
    srv = start_server(
        PYMOSH,
        str(tmp_path),
        cat_command(str(tmp_path / "typed")),
        env_extra={"PYMOSH_STATE_DIR": state, "MOSH_SERVER_NETWORK_TMOUT": "2"},
    )
    try:
        client = connect(srv)
        roundtrip(srv, client, b"x")
        client.close()  # nobody comes back
        assert wait_dead(srv.pid, 10)
        assert os.listdir(os.path.join(state, "sessions")) == []
    finally:
        stop_server(srv)


def test_kill_hangs_up_the_shell_like_a_lost_terminal(tmp_path, state):
    marker = tmp_path / "hup"
    script = (
        f"trap 'echo got-hup > {marker}; exit 0' HUP; touch {tmp_path / 'typed'}; "
        "while :; do sleep 0.1; done"
    )
    srv = start_server(
        PYMOSH, str(tmp_path), ["sh", "-c", script], env_extra={"PYMOSH_STATE_DIR": state}
    )
    try:
        connect(srv)  # the shell starts once a client is there
        result = sessions(state, "kill", only_id(state))
        assert result.returncode == 0
        assert wait_dead(srv.pid, 5)
        deadline = time.monotonic() + 5
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.read_text() == "got-hup\n"
    finally:
        stop_server(srv)


def test_resume_on_a_shared_port_routes_the_new_key_and_refuses_the_old(tmp_path, state):
    from tests.frontend.test_portshare import free_udp_port

    port = str(free_udp_port())
    srv = start_server(
        PYMOSH,
        str(tmp_path),
        cat_command(str(tmp_path / "typed")),
        env_extra={"PYMOSH_STATE_DIR": state},
        port=port,
    )
    try:
        assert srv.port == int(port)
        old = connect(srv)
        roundtrip(srv, old, b"shared-")
        new_key = resume(state, only_id(state))
        new = MiniClient(srv.port, new_key)
        assert answers(new, 5)
        roundtrip(srv, new, b"port")
        old.type(b"STALE")
        assert not answers(old)
        assert srv.output() == b"shared-port"
    finally:
        stop_server(srv)
