"""The per-user session forker (frontend/forker.py) and its asking side (handoff.py).

Real processes: a forker in a private state directory, ``pymosh-server new`` asking it;
what the forked session became is read from /proc. Every process started is ended by pid.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import time

import pytest

from pymosh.crypto.key import parse_key
from pymosh.frontend import handoff
from tests.hostile.miniclient import MiniClient
from tests.support.launcher import fake_installation, installation_id

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "src")
PID_RE = re.compile(rb"detached, pid = (\d+)")
CONNECT_RE = re.compile(rb"MOSH CONNECT (\d+) (\S+)")


def _env(state: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "MOSH_"))}
    env.update(
        {"PYMOSH_STATE_DIR": state, "PYMOSH_FORKER": "1", "PYTHONPATH": SRC, "LANG": "C.UTF-8"}
    )
    env.update(extra)
    return env


def _wait(pred, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _environ(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as f:
        items = f.read().split(b"\0")
    return dict(i.decode().split("=", 1) for i in items if b"=" in i)


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += [int(x) for x in f.read().split()]
    return out


def _forkers_of(state: str) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit() and b"pymosh.frontend.forker" in _cmdline(int(name)):
            try:
                if _environ(int(name)).get("PYMOSH_STATE_DIR") == state:
                    pids.append(int(name))
            except OSError:
                continue
    return pids


class Host:
    """A private state directory; every pid recorded here is killed at the end."""

    def __init__(self, tmp_path) -> None:
        self.root = str(tmp_path)
        self.state = os.path.join(self.root, "state")
        self.pids: list[int] = []
        self.forker: subprocess.Popen | None = None

    def start_forker(self, user: int | None = None) -> int:
        env = _env(self.state)
        if user is not None:
            os.makedirs(self.state, mode=0o700)
            os.chown(self.state, user, user)
            env["HOME"] = self.state

        def drop() -> None:
            if user is not None:
                os.setgid(user)
                os.setuid(user)

        self.forker = subprocess.Popen(
            [sys.executable, "-m", "pymosh.frontend.forker"],
            env=env,
            preexec_fn=drop,
            cwd="/",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.pids.append(self.forker.pid)
        sock = os.path.join(self.state, "forker.sock")
        assert _wait(lambda: os.path.exists(sock)), "forker did not listen"
        return self.forker.pid

    def server(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        preexec=None,
        command: tuple[str, ...] = ("/bin/sleep", "60"),
        program: tuple[str, ...] = (sys.executable, "-m", "pymosh.frontend.server"),
    ) -> tuple[int, bytes, int]:
        """Run ``pymosh-server new ARGS -- COMMAND``; (session pid, key, exit status)."""
        cmd = [*program, "new", "-p", "0", "-i", "127.0.0.1", *args, "--", *command]
        done = subprocess.run(
            cmd,
            env=env or _env(self.state),
            cwd=cwd or self.root,
            capture_output=True,
            timeout=30,
            preexec_fn=preexec,
        )
        match = PID_RE.search(done.stderr)
        assert match, done.stderr.decode(errors="replace")
        pid = int(match.group(1))
        self.pids.append(pid)
        connect = CONNECT_RE.search(done.stdout)
        assert connect, done.stdout
        self.port = int(connect.group(1))
        return pid, connect.group(2), done.returncode

    def close(self) -> None:
        for pid in self.pids + _forkers_of(self.state):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if self.forker is not None:
            self.forker.wait(10)


@pytest.fixture
def host(tmp_path):
    h = Host(tmp_path)
    yield h
    h.close()


def _forked(pid: int) -> bool:
    return b"pymosh.frontend.forker" in _cmdline(pid)


def _spare(forker: int) -> int:
    """The forker's one child while no request is being served: its waiting spare."""
    assert _wait(lambda: len(_children(forker)) == 1)
    return _children(forker)[0]


def _nobody_listens(path: str) -> bool:
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            return True
    return False


@pytest.fixture(scope="module")
def launcher(tmp_path_factory) -> str:
    """bin/pymosh-server of this checkout installed as a venv: the C launcher."""
    return fake_installation(str(tmp_path_factory.mktemp("installed")))


@pytest.fixture(params=["module", "launcher"])
def program(request) -> tuple[str, ...]:
    """How ``pymosh-server new`` is run: the Python module (handoff.request) or the C
    launcher; both must hand the same session to the forker."""
    if request.param == "module":
        return (sys.executable, "-m", "pymosh.frontend.server")
    return (request.getfixturevalue("launcher"),)


def test_forked_session_becomes_the_asker(host, program):
    host.start_forker()
    cwd = os.path.join(host.root, "work dir")
    os.mkdir(cwd)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    asked = min(soft, 200)

    def shape() -> None:
        os.umask(0o027)
        resource.setrlimit(resource.RLIMIT_NOFILE, (asked, hard))

    # no UTF-8 locale here (and not C: CPython would coerce that): the -l value the wrapper forwards must be the one used
    env = _env(host.state, LANG="xx_XX.ISO-8859-1", PYMOSH_TEST_MARK="asker's value")
    out = os.path.join(host.root, "env.out")
    shell = ("/bin/sh", "-c", f"env > {out}.tmp && mv {out}.tmp {out}; exec sleep 60")
    pid, key, status = host.server(
        "-l", "LC_ALL=C.UTF-8", env=env, cwd=cwd, preexec=shape, command=shell, program=program
    )
    assert status == 0
    assert _forked(pid)  # served by the forker, not in-process
    assert key not in _cmdline(pid)
    client = MiniClient(host.port, parse_key(key.decode()))  # the shell starts on contact
    try:
        client.send_state()
        assert client.pump(20, lambda c: c.host_states)
        assert _wait(lambda: os.path.exists(out))
    finally:
        client.close()
    with open(out) as f:
        environ = dict(line.split("=", 1) for line in f.read().splitlines() if "=" in line)
    assert environ["PYMOSH_TEST_MARK"] == "asker's value"
    assert environ["LC_ALL"] == "C.UTF-8" and "LANG" not in environ
    assert os.readlink(f"/proc/{pid}/cwd") == cwd
    with open(f"/proc/{pid}/status") as f:
        assert re.search(r"^Umask:\s+0027$", f.read(), re.M)
    with open(f"/proc/{pid}/limits") as f:
        line = next(x for x in f if x.startswith("Max open files"))
    assert line.split()[3] == str(asked)
    # the key is made in the session after the fork: another session, another key
    pid2, key2, _ = host.server(program=program)
    assert _forked(pid2) and key2 != key


def _free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_forked_sessions_share_a_port_and_forward_the_agent_like_direct_ones(host):
    """What run() does after the options (shared port, -A, the registry record) happens in
    forked sessions too."""
    host.start_forker()
    port = _free_udp_port()
    agent = os.path.join(host.root, "agent.sock")
    import socket

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(agent)
    try:
        env = _env(host.state, SSH_AUTH_SOCK=agent)
        cmd = [
            sys.executable,
            "-m",
            "pymosh.frontend.server",
            "new",
            "-p",
            str(port),
            "-i",
            "127.0.0.1",
            "-A",
            "--",
            "/bin/sleep",
            "60",
        ]
        pids = []
        for _ in range(2):
            done = subprocess.run(cmd, env=env, cwd=host.root, capture_output=True, timeout=30)
            match = PID_RE.search(done.stderr)
            assert match, done.stderr
            pids.append(int(match.group(1)))
            host.pids.append(pids[-1])
            assert CONNECT_RE.search(done.stdout).group(1) == str(port).encode()
        assert all(_forked(pid) for pid in pids)
        assert os.path.exists(os.path.join(host.state, "ports", f"{port}.sock"))
        assert len(os.listdir(os.path.join(host.state, "agent"))) == 2  # one per session
        records = os.path.join(host.state, "sessions")  # durable registry
        assert _wait(lambda: len([n for n in os.listdir(records) if n.endswith(".json")]) == 2)
    finally:
        listener.close()


def test_a_crashing_session_leaves_the_others_and_the_forker(host):
    forker = host.start_forker()
    a, _, _ = host.server()
    b, _, _ = host.server()
    assert _forked(a) and _forked(b)
    os.kill(a, signal.SIGSEGV)
    assert _wait(lambda: not _alive(a))
    assert _alive(b) and _alive(forker)
    c, _, status = host.server()
    assert status == 0 and _forked(c) and _alive(c)


def test_a_stuck_start_up_does_not_hold_up_the_next_sessions(host):
    """A session whose start-up blocks (its stdout a full pipe nobody reads) has taken the
    spare; the next request is served by the next one."""
    forker = host.start_forker()
    first = _spare(forker)
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        while True:
            os.write(w, b"x" * 4096)
    except BlockingIOError:
        pass
    os.set_blocking(w, True)
    stuck = subprocess.Popen(
        [sys.executable, "-m", "pymosh.frontend.server", "new", "-p", "0", "-i", "127.0.0.1"],
        env=_env(host.state),
        stdout=w,
        stderr=subprocess.DEVNULL,
    )
    host.pids.append(stuck.pid)
    try:
        os.close(w)
        assert _wait(lambda: len(_children(forker)) == 2)  # the stuck one and a new spare
        pid, _, status = host.server()
        assert status == 0 and _forked(pid)
        assert stuck.poll() is None and _alive(first)  # still waiting on its full stdout
    finally:
        os.kill(first, signal.SIGKILL)
        stuck.wait(10)
        os.close(r)


def test_a_dead_forker_leaves_its_sessions_and_is_replaced(host):
    forker = host.start_forker()
    a, _, _ = host.server()
    os.kill(forker, signal.SIGKILL)
    host.forker.wait(10)
    assert _alive(a)
    # its spare leaves too (EOF from the dead forker), and with it the last listener
    assert _wait(lambda: _nobody_listens(os.path.join(host.state, "forker.sock")))
    b, _, status = host.server()  # stale socket: in-process, new forker
    assert status == 0 and not _forked(b)
    # (the sessions of the dead one do not hold its lock: the successor gets it; a forked
    # session shows the forker's command line too)
    assert _wait(lambda: len(set(_forkers_of(host.state)) - {a}) == 1)
    assert _wait(lambda: _forked(host.server()[0]))


def test_without_a_forker_the_session_starts_in_process_and_starts_one(host):
    pid, _, status = host.server()
    assert status == 0 and _alive(pid) and not _forked(pid)
    assert _wait(lambda: len(_forkers_of(host.state)) == 1)
    assert _wait(lambda: os.path.exists(os.path.join(host.state, "forker.sock")))
    nxt, _, _ = host.server()
    assert _forked(nxt)


SCRIPTS = os.path.join(os.path.dirname(SRC), "scripts")


def test_the_script_entry_points_work_from_a_checkout(host):
    """scripts/pymosh-server and -client run under ``python3 -I -S``; outside an installation
    they find no pymosh that way and become ``python -m`` (which honours PYTHONPATH)."""
    host.start_forker()
    pid, _, status = host.server(program=(os.path.join(SCRIPTS, "pymosh-server"),))
    assert status == 0 and _forked(pid)
    done = subprocess.run(
        [os.path.join(SCRIPTS, "pymosh-client"), "--version"],
        env=_env(host.state),
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 0 and done.stdout.startswith(b"pymosh-client (pymosh ")


def test_a_forker_of_another_installation_steps_aside(host, monkeypatch):
    """A reinstall (or another copy or version) asks: it is told to start in-process and
    the old forker exits, so that session can start a forker running the new code."""
    forker = host.start_forker()
    monkeypatch.setenv("PYMOSH_STATE_DIR", host.state)
    monkeypatch.setenv("PYMOSH_FORKER", "1")
    monkeypatch.setattr(handoff, "INSTALL", handoff.INSTALL + "-reinstalled")
    assert handoff.request(["new"]) is None  # nothing started: start in-process
    host.forker.wait(20)
    assert not _alive(forker)


def test_forker_can_be_switched_off(host):
    pid, _, _ = host.server(env=_env(host.state, PYMOSH_FORKER="0"))
    assert not _forked(pid)
    assert _forkers_of(host.state) == [] and not os.path.exists(host.state + "/forker.sock")


NOBODY = 65534
# stdlib-only helpers run as another uid by the system python (pymosh's interpreter and
# tree may not be readable by that uid)
LISTEN_AS_NOBODY = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
print("ready", flush=True)
conn, _ = s.accept()
conn.settimeout(20)
msg, anc, _, _ = conn.recvmsg(65536, 64)
print(len(msg), len(anc), flush=True)
"""
ASK_AS_NOBODY = """
import array, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
try:
    s.sendmsg([bytes.fromhex(sys.argv[2])],
              [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [0, 1, 2]))])
    answer = s.recv(1)
except (BrokenPipeError, ConnectionResetError):
    answer = b""
print("closed" if answer == b"" else repr(answer), flush=True)
"""


def _as_nobody() -> None:
    os.setgid(NOBODY)
    os.setuid(NOBODY)


@pytest.fixture
def open_dir():
    """A directory another uid can use (pytest's tmp_path is private to us)."""
    import shutil
    import tempfile

    path = tempfile.mkdtemp(prefix="pymosh-forker-")
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another uid")
def test_forker_refuses_a_request_from_another_uid(host, open_dir):
    forker = host.start_forker()
    # past the socket's 0600 and the 0700 directory (the first two fences): a hard link
    # another uid can write, so only the forker's own SO_PEERCRED check is left
    link = os.path.join(open_dir, "forker.sock")
    os.link(os.path.join(host.state, "forker.sock"), link)
    os.chmod(link, 0o666)
    spare = _spare(forker)
    payload = handoff.build_request(["new", "-p", "0", "-i", "127.0.0.1"]).hex()
    done = subprocess.run(
        ["/usr/bin/python3", "-I", "-c", ASK_AS_NOBODY, link, payload],
        preexec_fn=_as_nobody,
        capture_output=True,
        timeout=30,
    )
    assert done.stdout.strip() == b"closed", done.stderr  # unanswered
    assert _children(forker) == [spare] and _alive(spare)  # nothing was started
    os.chmod(link, 0o600)
    pid, _, status = host.server()  # our own uid is still served
    assert status == 0 and _forked(pid)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another uid")
def test_asker_does_not_hand_itself_to_another_uids_forker(host, open_dir):
    fake = os.path.join(open_dir, "fake.sock")
    listener = subprocess.Popen(
        ["/usr/bin/python3", "-I", "-c", LISTEN_AS_NOBODY, fake],
        preexec_fn=_as_nobody,
        stdout=subprocess.PIPE,
    )
    host.pids.append(listener.pid)
    try:
        assert listener.stdout.readline() == b"ready\n"
        os.makedirs(host.state, mode=0o700)
        os.link(fake, os.path.join(host.state, "forker.sock"))
        pid, _, status = host.server()
        assert status == 0 and _alive(pid) and not _forked(pid)  # started in-process
        out, _ = listener.communicate(timeout=20)
        assert out.split() == [b"0", b"0"]  # no request, no fds reached it
        # the in-process session started a forker of our own in its place
        assert _wait(lambda: len(_forkers_of(host.state)) == 1)
    finally:
        listener.kill()
        listener.wait(10)


def test_an_idle_forker_leaves_and_removes_its_socket(tmp_path, monkeypatch):
    """After IDLE_EXIT without a request the forker's accept loop returns, socket gone."""
    import socket as socketmod

    from pymosh.frontend import forker

    monkeypatch.setattr(forker, "IDLE_EXIT", 0.0)
    monkeypatch.setattr(forker, "CHECK_INTERVAL", 0.05)
    path = str(tmp_path / "f.sock")
    listener = socketmod.socket(socketmod.AF_UNIX, socketmod.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    old_handler = signal.getsignal(signal.SIGCHLD)
    try:
        forker.serve(listener, path, -1)  # returns: idle
    finally:
        signal.signal(signal.SIGCHLD, old_handler)  # serve() reaps children: not ours
        listener.close()
    assert not os.path.exists(path)


# ------------------------------------------------------------------------ the C launcher


def _listen(path: str):
    import socket

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    listener.settimeout(30)
    return listener


def _serve_one(listener, answer: bytes) -> tuple[bytes, int]:
    """As a stand-in forker on ``listener``: the request bytes of the one asker that
    connects, and how many fds came with them; answer it with ``answer``."""
    import socket

    path = listener.getsockname()
    try:
        conn, _ = listener.accept()
    finally:
        listener.close()
        os.unlink(path)
    conn.settimeout(30)
    data, fds = b"", []
    try:
        while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
            chunk, ancdata, _, _ = conn.recvmsg(1 << 20, socket.CMSG_SPACE(3 * 4))
            for _, _, cdata in ancdata:
                fds += [int.from_bytes(cdata[i : i + 4], "little") for i in range(0, 12, 4)]
            assert chunk, "request cut short"
            data += chunk
        conn.sendall(answer)
    finally:
        conn.close()
        for fd in fds:
            os.close(fd)
    return data, len(fds)


def test_launcher_sends_the_request_handoff_sends(host, launcher, tmp_path, monkeypatch):
    """One format (handoff.py's docstring): the C launcher and the Python entry script
    (handoff.request) send the same bytes for the same process."""
    import threading

    os.makedirs(host.state, mode=0o700)
    sock = os.path.join(host.state, "forker.sock")
    script = os.path.join(os.path.dirname(os.path.dirname(launcher)), "share/pymosh/pymosh-server")
    python = os.path.join(os.path.dirname(launcher), "python3")
    env = _env(host.state, PYMOSH_TEST_MARK="a b\tc=d", EMPTY="")
    argv = ["new", "-l", "LC_ALL=C.UTF-8", "-p", "0", "--", "/bin/sh", "-c", "echo 'x y'"]

    def umask() -> None:
        os.umask(0o022)

    requests = []
    for cmd in ([launcher, *argv], [python, "-I", "-S", script, *argv]):
        got: list = []
        listener = _listen(sock)  # (listening before the asker starts)
        thread = threading.Thread(
            target=lambda got=got, listener=listener: got.append(_serve_one(listener, b"\x07"))
        )
        thread.start()
        done = subprocess.run(
            cmd, env=env, cwd=str(tmp_path), preexec_fn=umask, capture_output=True, timeout=30
        )
        thread.join(30)
        assert done.returncode == 7, done.stderr  # the forker's status is the exit status
        data, nfds = got[0]
        assert nfds == 3
        requests.append(data)
    assert requests[0] == requests[1]
    monkeypatch.setattr(handoff, "INSTALL", installation_id())  # as its forker parses it
    fields = handoff.parse_request(requests[0][4:])  # that installation's: accepted
    assert fields is not None and fields["argv"] == argv and fields["umask"] == 0o022
    assert fields["cwd"] == str(tmp_path) and fields["env"]["PYMOSH_TEST_MARK"] == "a b\tc=d"


def test_launcher_without_a_forker_starts_in_process_and_starts_one(host, launcher):
    pid, _, status = host.server(program=(launcher,))
    assert status == 0 and _alive(pid) and not _forked(pid)  # the Python entry script's
    assert _wait(lambda: len(_forkers_of(host.state)) == 1)
    assert _wait(lambda: os.path.exists(os.path.join(host.state, "forker.sock")))
    nxt, _, status = host.server(program=(launcher,))
    assert status == 0 and _forked(nxt)


def test_launcher_with_the_forker_switched_off(host, launcher):
    spare = _spare(host.start_forker())
    pid, _, status = host.server(env=_env(host.state, PYMOSH_FORKER="0"), program=(launcher,))
    assert status == 0 and not _forked(pid)
    assert _children(host.forker.pid) == [spare] and _alive(spare)  # not asked


def test_launcher_makes_another_installations_forker_step_aside(host, launcher, tmp_path):
    """A forker running another copy of pymosh (as after a reinstall) is not used: it
    leaves, the session starts in-process and starts a forker of this installation."""
    import shutil

    other = tmp_path / "other"
    shutil.copytree(SRC, other, ignore=shutil.ignore_patterns("__pycache__"), symlinks=True)
    env = _env(host.state, PYTHONPATH=str(other))
    host.forker = subprocess.Popen(
        [sys.executable, "-m", "pymosh.frontend.forker"],
        env=env,
        cwd="/",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    host.pids.append(host.forker.pid)
    assert _wait(lambda: os.path.exists(os.path.join(host.state, "forker.sock")))
    pid, _, status = host.server(program=(launcher,))
    assert status == 0 and not _forked(pid)
    host.forker.wait(20)  # the other installation's forker left
    assert _wait(lambda: len(_forkers_of(host.state)) == 1)  # and ours took its place
    assert _wait(lambda: _forked(host.server(program=(launcher,))[0]))


def test_launcher_runs_session_commands_in_python(host, launcher):
    """list/kill/resume are never handed to the forker: the launcher runs the script."""
    spare = _spare(host.start_forker())
    done = subprocess.run([launcher, "list"], env=_env(host.state), capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert _children(host.forker.pid) == [spare] and _alive(spare)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another uid")
def test_launcher_does_not_hand_itself_to_another_uids_forker(host, open_dir, launcher):
    fake = os.path.join(open_dir, "fake.sock")
    listener = subprocess.Popen(
        ["/usr/bin/python3", "-I", "-c", LISTEN_AS_NOBODY, fake],
        preexec_fn=_as_nobody,
        stdout=subprocess.PIPE,
    )
    host.pids.append(listener.pid)
    try:
        assert listener.stdout.readline() == b"ready\n"
        os.makedirs(host.state, mode=0o700)
        os.link(fake, os.path.join(host.state, "forker.sock"))
        pid, _, status = host.server(program=(launcher,))
        assert status == 0 and _alive(pid) and not _forked(pid)  # started in-process
        out, _ = listener.communicate(timeout=20)
        assert out.split() == [b"0", b"0"]  # no request, no fds reached it
    finally:
        listener.kill()
        listener.wait(10)


def test_setup_installs_the_launcher_as_pymosh_server(tmp_path):
    """setup.py's build_scripts makes pymosh-server the compiled launcher (CI, with
    PYMOSH_REQUIRE_EXTENSIONS=1: also the installed one this suite runs from)."""
    root = os.path.dirname(SRC)
    out = tmp_path / "scripts"
    done = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_scripts", "-d", str(out)],
        cwd=root,
        # (scripts only: no Cython translation of the fast paths)
        env=dict(os.environ, PYMOSH_REQUIRE_EXTENSIONS="1", PYMOSH_NO_EXTENSIONS="1"),
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    with open(out / "pymosh-server", "rb") as f:
        assert f.read(4) == b"\x7fELF"
    with open(out / "pymosh-client", "rb") as f:
        assert f.read(2) == b"#!"
    installed = os.path.join(os.path.dirname(sys.executable), "pymosh-server")
    if os.environ.get("PYMOSH_REQUIRE_EXTENSIONS") == "1" and os.path.exists(installed):
        with open(installed, "rb") as f:
            assert f.read(4) == b"\x7fELF", f"{installed} is not the C launcher"
