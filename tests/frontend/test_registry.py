"""The registry's records, the attachment state machine, the control socket and the
wrapper's option handling, without a live server."""

from __future__ import annotations

import json
import os
import select
import subprocess
import threading
import time
from argparse import Namespace

import pytest

from pymosh.crypto.key import format_key
from pymosh.frontend import control, registry
from pymosh.frontend.registry import Record, RegistryError
from pymosh.frontend.resume import DETACHED_AFTER, RESUME_PENDING, Attachment
from pymosh.frontend.session_commands import guarded, split_resume, words_for


@pytest.fixture
def sessions(tmp_path, monkeypatch):
    monkeypatch.setenv("PYMOSH_STATE_DIR", str(tmp_path / "state"))
    return registry.sessions_dir()


def me(session_id: str = "abcd1234", **kw) -> Record:
    pid = os.getpid()
    return Record(session_id, pid, registry.process_start(pid), 60001, time.time(), ["bash"], **kw)


def test_a_record_round_trips_and_lists(sessions):
    registry.write_record(
        sessions, me(state="detached", last_heard=time.time() - 30, client="10.0.0.1:5000")
    )
    records, warnings = registry.scan(sessions)
    assert warnings == [] and len(records) == 1
    record = records[0]
    assert record.detached and record.client == "10.0.0.1:5000"
    assert os.stat(registry.record_path(sessions, record.id)).st_mode & 0o777 == 0o600
    text = registry.table(records)
    assert "abcd1234" in text and "detached" in text and "30s ago" in text
    assert json.loads(registry.as_json(records))[0]["id"] == "abcd1234"


@pytest.mark.parametrize(
    "change",
    [
        {"version": 2},
        {"id": "../x"},
        {"state": "zombie"},
        {"pid": -1},
        {"port": 70000},
        {"command": [1]},
        {"pid": True},
        {"extra": 1},
        {"last_heard": "yesterday"},
    ],
)
def test_malformed_records_are_refused_in_one_line(sessions, change):
    data = dict(me().to_json(), **change)
    path = registry.record_path(sessions, "abcd1234")
    with open(path, "w") as f:
        json.dump(data, f)
    os.chmod(path, 0o600)
    with pytest.raises(RegistryError) as info:
        registry.read_record(path)
    assert "\n" not in str(info.value)
    records, warnings = registry.scan(sessions)
    assert records == [] and len(warnings) == 1
    assert os.path.exists(path)  # not ours to judge: left alone


def test_oversized_and_symlinked_records_are_refused(sessions, tmp_path):
    big = registry.record_path(sessions, "aaaa1111")
    with open(big, "wb") as f:
        f.write(b" " * (registry.MAX_RECORD_BYTES + 10))
    os.chmod(big, 0o600)
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps(me("bbbb2222").to_json()))
    os.symlink(target, registry.record_path(sessions, "bbbb2222"))
    records, warnings = registry.scan(sessions)
    assert records == []
    assert any("too large" in w for w in warnings)
    assert len(warnings) == 2


def test_dead_and_reused_pids_are_reaped(sessions):
    child = subprocess.Popen(["true"])
    child.wait()
    registry.write_record(sessions, Record("dead0001", child.pid, 5, 1, 0.0, ["x"]))
    reused = me("dead0002")
    reused.proc_start += 1  # this pid, but a different process start
    registry.write_record(sessions, reused)
    open(registry.socket_path(sessions, "dead0002"), "w").close()
    registry.write_record(sessions, me("a11fe000"))
    records, _ = registry.scan(sessions)
    assert [r.id for r in records] == ["a11fe000"]
    assert sorted(os.listdir(sessions)) == ["a11fe000.json"]


def test_the_registry_refuses_a_loose_directory(tmp_path, monkeypatch):
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    monkeypatch.setenv("PYMOSH_STATE_DIR", str(state))
    with pytest.raises(RegistryError, match="chmod 700"):
        registry.sessions_dir()


# ------------------------------------------------------------------ attachment


def test_attachment_states_follow_the_client():
    a = Attachment()
    assert not a.update(0, None) and a.state == "starting"
    assert a.may_resume(detached_only=True) is not None
    assert a.update(100, 100) and a.state == "attached"
    assert a.wait_time(100, 100) == DETACHED_AFTER
    assert a.may_resume(detached_only=True) is not None
    assert a.may_resume(detached_only=False) is None  # an explicit ID takes over
    assert a.update(100 + DETACHED_AFTER, 100) and a.state == "detached"
    assert a.may_resume(detached_only=True) is None
    a.resumed(20000)
    assert a.state == "resuming"
    assert a.update(20001, None) is False
    assert "another client is resuming" in a.may_resume(detached_only=False)
    assert a.wait_time(20001, None) == RESUME_PENDING - 1
    assert a.update(20000 + RESUME_PENDING, None) and a.state == "detached"
    a.resumed(90000)
    assert a.update(90050, 90040) and a.state == "attached"


# ------------------------------------------------------------------ control socket


def test_control_socket_with_a_long_path(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    path = str(deep / "abcd1234.sock")
    listener = control.ControlListener(path)
    try:
        assert os.path.exists(path) and os.stat(path).st_mode & 0o777 == 0o600
        got: list = []
        thread = threading.Thread(target=lambda: got.append(control.request(path, {"op": "x"})))
        thread.start()
        deadline = time.monotonic() + 5
        requests = []
        while not requests and time.monotonic() < deadline:
            ready, _, _ = select.select(listener.filenos(), [], [], 0.1)
            requests = listener.poll(set(ready), time.monotonic() * 1000)
        assert [r for _, r in requests] == [{"op": "x"}]
        control.reply(requests[0][0], {"ok": True, "n": 1})
        thread.join(5)
        assert got == [{"ok": True, "n": 1}]
    finally:
        listener.close()
    assert not os.path.exists(path)


def test_no_session_answering_is_one_line(tmp_path):
    with pytest.raises(control.ControlError, match="session not answering") as info:
        control.request(str(tmp_path / "none.sock"), {"op": "status"}, timeout=1)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------ wrapper options


def test_a_bare_resume_never_takes_the_host_for_an_id():
    values = {"--ssh", "-p"}
    assert split_resume(["--resume", "host"], values) == ["--resume=", "host"]
    assert split_resume(["--ssh", "--resume", "host"], values) == ["--ssh", "--resume", "host"]
    assert split_resume(["host", "cmd", "--resume"], values) == ["host", "cmd", "--resume"]
    assert split_resume(["--resume=ab12", "h"], values) == ["--resume=ab12", "h"]


def test_registry_option_combinations():
    assert words_for(Namespace(list=True, kill=None, resume=None, command=[])) == ["list"]
    assert words_for(Namespace(list=False, kill=None, resume="", command=[])) == ["resume"]
    assert words_for(Namespace(list=False, kill=None, resume="ab", command=[])) == ["resume", "ab"]
    assert words_for(Namespace(list=False, kill="ab", resume=None, command=[])) == ["kill", "ab"]
    assert words_for(Namespace(list=False, kill=None, resume=None, command=[])) is None
    with pytest.raises(ValueError, match="one of"):
        words_for(Namespace(list=True, kill="x", resume=None, command=[]))
    with pytest.raises(ValueError, match="takes no command"):
        words_for(Namespace(list=False, kill=None, resume="", command=["ls"]))


def test_the_guard_runs_only_a_server_with_a_registry(tmp_path):
    fake = tmp_path / "fake-server"
    fake.write_text(
        "#!/bin/sh\n[ \"$1\" = --version ] && { echo 'mosh-server 1.4'; exit; }\n"
        "echo STARTED-A-SESSION\n"
    )
    fake.chmod(0o755)
    out = subprocess.run(
        ["sh", "-c", guarded(str(fake), ["list"])],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert out.stdout == "MOSH NO-REGISTRY\n" and out.returncode == 1
    fake.write_text(
        "#!/bin/sh\n[ \"$1\" = --version ] && { echo 'Session registry: x'; "
        'exit; }\necho "ran $*"\n'
    )
    out = subprocess.run(
        ["sh", "-c", guarded(str(fake), ["resume", "a b"])],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert out.stdout == "ran resume a b\n"


def test_the_record_is_written_on_changes_never_per_datagram(sessions, monkeypatch):
    from pymosh.frontend.resume import DurableSession

    writes: list[str] = []
    real_write = registry.write_record
    monkeypatch.setattr(
        registry, "write_record", lambda d, r: (writes.append(r.state), real_write(d, r))
    )
    record = me()
    listener = control.ControlListener(registry.socket_path(sessions, record.id))
    durable = DurableSession(sessions, record, listener, lambda key: None, lambda: None, 0)
    try:
        addr = ("10.1.2.3", 4000)
        for now in range(0, 5000, 5):  # a datagram every 5 ms
            durable.turn(set(), now, now, addr)
        assert writes == ["attached"]
        assert record.client == "10.1.2.3:4000"
        durable.turn(set(), 5000, 5000, ("10.9.9.9", 1))  # the client roamed
        assert writes == ["attached", "attached"]
        assert durable.wait_time(5000, 5000) == DETACHED_AFTER
        durable.turn(set(), 5000 + DETACHED_AFTER, 5000, ("10.9.9.9", 1))
        assert writes[-1] == "detached"
        assert registry.scan(sessions)[0][0].state == "detached"
        durable.turn(set(), 6000 + DETACHED_AFTER, 6000 + DETACHED_AFTER, addr)
        assert writes[-1] == "attached"
        later = 6000 + DETACHED_AFTER + 3_600_000.0  # an hour of heartbeats: nothing to write
        for now in range(6000 + int(DETACHED_AFTER), int(later), 3000):
            durable.turn(set(), now, now, addr)
        assert len(writes) == 4
    finally:
        durable.close()
    assert os.listdir(sessions) == []


def test_a_record_write_that_failed_is_retried_later(sessions, monkeypatch):
    from pymosh.frontend.resume import RETRY, DurableSession

    writes: list[str] = []
    real_write = registry.write_record
    full = [True]

    def write(directory, record):
        writes.append(record.state)
        if full[0]:
            raise OSError(28, "No space left on device")
        real_write(directory, record)

    monkeypatch.setattr(registry, "write_record", write)
    record = me()
    listener = control.ControlListener(registry.socket_path(sessions, record.id))
    durable = DurableSession(sessions, record, listener, lambda key: None, lambda: None, 0)
    try:
        addr = ("10.1.2.3", 4000)
        durable.turn(set(), 0, 0, addr)  # attached: the write fails (a full disk)
        assert writes == ["attached"] and durable.quiet_until(0) == RETRY
        durable.turn(set(), RETRY - 1, RETRY - 1, addr)
        assert len(writes) == 1  # not before RETRY
        full[0] = False
        durable.turn(set(), RETRY, RETRY, addr)
        assert len(writes) == 2
        assert registry.scan(sessions)[0][0].client == "10.1.2.3:4000"
        durable.turn(set(), 2 * RETRY, 2 * RETRY, addr)
        assert len(writes) == 2  # written: no more retries
    finally:
        durable.close()


def _exchange(durable, path, message, now, last_heard, client):
    """One control request answered by ``durable.turn`` (as the server's loop would)."""
    got: list = []
    thread = threading.Thread(target=lambda: got.append(control.request(path, message)))
    thread.start()
    deadline = time.monotonic() + 5
    while thread.is_alive() and time.monotonic() < deadline:
        ready, _, _ = select.select(durable.filenos(), [], [], 0.05)
        if ready:
            durable.turn(set(ready), now, last_heard, client)
    thread.join(5)
    return got[0]


def test_resume_over_the_control_socket(sessions):
    from pymosh.frontend.resume import DurableSession

    keys: list[bytes] = []
    record = me()
    path = registry.socket_path(sessions, record.id)
    durable = DurableSession(
        sessions, record, control.ControlListener(path), keys.append, lambda: None, 0
    )
    try:
        addr = ("10.1.2.3", 4000)
        durable.turn(set(), 100, 100, addr)
        # attached: a resume without ID is refused and changes nothing
        answer = _exchange(durable, path, {"op": "resume", "detached_only": True}, 200, 150, addr)
        assert not answer["ok"] and "not detached" in answer["error"]
        assert keys == [] and registry.scan(sessions)[0][0].state == "attached"
        # with its ID it is taken over: a fresh key, handed out once
        answer = _exchange(durable, path, {"op": "resume"}, 300, 250, addr)
        assert answer["ok"] and len(keys) == 1 and answer["port"] == record.port
        assert answer["key"] == format_key(keys[0])
        on_disk = registry.scan(sessions)[0][0]
        assert on_disk.state == "resuming" and on_disk.client is None
        answer = _exchange(durable, path, {"op": "resume"}, 400, None, None)
        assert not answer["ok"] and "another client is resuming" in answer["error"]
        assert len(keys) == 1
    finally:
        durable.close()
