"""Issue #12 end to end: the shell's locale and colours, programs that fail well, and a
session end that treats the shell's programs as ssh does (SIGHUP, never SIGKILL)."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time

import pytest

from tests.e2e.session import client_command, launch_server, run, start_server
from tests.frontend.helpers import child_env, program, program_command
from tests.support.procs import read_proc, tagged_pids, wait_gone

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SERVERS = {"pymosh": program("server"), "stock": ["mosh-server"]}
SHOW_ENV = 'echo "L=$LANG/$LC_CTYPE/$LC_ALL T=$TERM CT=$COLORTERM"; sleep 2'


def shell_env_line(pane_factory, tmp_path, tag, server, *server_args, **server_env) -> str:
    """Start ``server new ARGS -- sh -c SHOW_ENV`` in ``server_env``, connect a pymosh
    client, return the line the shell printed."""
    env = child_env(PYMOSH_TEST_TAG=tag, **server_env)
    port, key = start_server(
        server + ["new", "-p", "0", *server_args, "--", "sh", "-c", SHOW_ENV], env
    )
    pane = pane_factory(client_command(str(tmp_path), program("client"), port, key))
    screen = pane.wait_for("CT=", timeout=20)
    return next(line for line in screen.splitlines() if line.startswith("L="))


# ------------------------------------------------------------------ locale


@pytest.mark.parametrize("name", ["pymosh", pytest.param("stock", marks=pytest.mark.interop)])
def test_client_locale_reaches_the_shell_when_the_server_has_none(
    name, pane_factory, tmp_path, tag
):
    # Mosh's rule, shared: the server's locale (C) is not UTF-8, so -l applies
    line = shell_env_line(
        pane_factory, tmp_path, tag, SERVERS[name], "-l", "LANG=C.UTF-8", LANG="C"
    )
    assert line.startswith("L=C.UTF-8//"), line


def test_missing_client_locale_is_replaced_with_a_notice(pane_factory, tmp_path, tag):
    env = child_env(PYMOSH_TEST_TAG=tag, LANG="C")
    argv = program(
        "server", "new", "-p", "0", "-l", "LANG=xx_NOWHERE.UTF-8", "--", "sh", "-c", SHOW_ENV
    )
    result = run(argv, env)
    assert result.returncode == 0, result.stderr
    notes = [ln for ln in result.stderr.splitlines() if "xx_NOWHERE" in ln]
    assert len(notes) == 1 and "using C.UTF-8" in notes[0] and "install" in notes[0]
    port, key = (int(w) if w.isdigit() else w for w in result.stdout.split()[2:4])
    pane = pane_factory(client_command(str(tmp_path), program("client"), port, key))
    assert "L=C.UTF-8//" in pane.wait_for("CT=", timeout=20)


def test_stock_server_refuses_what_pymosh_server_repairs(tag):
    result = run(
        ["mosh-server", "new", "-p", "0", "-l", "LANG=xx_NOWHERE.UTF-8"],
        child_env(PYMOSH_TEST_TAG=tag, LANG="C"),
    )
    assert result.returncode != 0 and "UTF-8" in result.stderr


@pytest.mark.parametrize("name", ["pymosh", pytest.param("stock", marks=pytest.mark.interop)])
def test_refused_when_the_host_has_no_utf8_locale(name, tmp_path, tag):
    # glibc finds C.utf8 in /usr/lib/locale whatever LOCPATH says: hide that directory
    # too, in a private mount namespace
    empty = tmp_path / "no-locales"
    empty.mkdir()
    hide = 'mount --bind "$0" /usr/lib/locale && exec "$@"'
    argv = [
        "unshare",
        "-m",
        "sh",
        "-c",
        hide,
        str(empty),
        *SERVERS[name],
        "new",
        "-p",
        "0",
        "-l",
        "LANG=C.UTF-8",
    ]
    result = run(argv, child_env(PYMOSH_TEST_TAG=tag, LANG="C", LOCPATH=str(empty)))
    assert result.returncode != 0, result.stderr
    assert "MOSH CONNECT" not in result.stdout
    assert "UTF-8" in result.stderr and "Traceback" not in result.stderr
    if name == "pymosh":
        assert "has none installed" in result.stderr and "locales" in result.stderr


@pytest.mark.parametrize("program_name", ["wrapper", "client"])
def test_c_locale_is_refused_despite_cpython_coercion(program_name, tag):
    # with LANG=C, CPython puts LC_CTYPE=C.UTF-8 into os.environ at start-up (PEP 538);
    # the check is made on the environment the program was given, as mosh's is
    args = ["--local"] if program_name == "wrapper" else ["127.0.0.1", "60001"]
    result = run(
        program(program_name, *args),
        child_env(PYMOSH_TEST_TAG=tag, LANG="C", MOSH_KEY="2yCnwwwd0L3sT9AjyQB4ag"),
    )
    assert result.returncode in (1, 255) and "UTF-8" in result.stderr, result.stderr
    assert "LANG=C\n" in result.stderr + "\n" and "Traceback" not in result.stderr
    assert "LC_CTYPE=\n" in result.stderr  # not the coerced C.UTF-8


def test_broken_locale_in_the_wrapper_is_a_clear_error(tag):
    result = run(
        program("wrapper", "--local"), child_env(PYMOSH_TEST_TAG=tag, LANG="xx_BROKEN", LC_ALL="")
    )
    assert result.returncode == 255 and "UTF-8" in result.stderr
    assert "Traceback" not in result.stderr
    assert wait_gone(tag, timeout=5) == []


# ------------------------------------------------------------------ colour


@pytest.mark.parametrize(
    "colorterm,expected",
    [
        ("truecolor", "CT=truecolor"),
        ("24bit", "CT=truecolor"),
        ("ju\u00f1k", "CT="),
    ],
)
def test_truecolor_reaches_the_shell_through_the_wrapper(pane_factory, tag, colorterm, expected):
    command = " ".join(
        [program_command("wrapper"), "--local", "--", "sh", "-c", shlex.quote(SHOW_ENV)]
    )
    pane = pane_factory(command, COLORTERM=colorterm)
    screen = pane.wait_for("CT=", timeout=20)
    line = next(ln for ln in screen.splitlines() if ln.startswith("L="))
    assert line.endswith(expected) and "T=xterm-256color" in line, line
    assert pane.wait_exit(timeout=15) == 0


# ------------------------------------------------------------------ failing well


def run_wrapper(tag, *args: str, **env: str) -> subprocess.CompletedProcess:
    return run(program("wrapper", *args), child_env(PYMOSH_TEST_TAG=tag, **env), timeout=60)


def test_mistyped_host_is_one_line(tag):
    result = run_wrapper(tag, "no-such-host.invalid")
    assert result.returncode == 255
    assert result.stderr.count("\n") == 1 and "no-such-host.invalid" in result.stderr, result.stderr


def test_local_without_a_terminal_is_one_line_and_starts_no_server(tag):
    result = run_wrapper(tag, "--local")
    assert result.returncode == 255
    assert result.stderr.count("\n") == 1 and "not a terminal" in result.stderr
    assert wait_gone(tag, timeout=5) == []


def test_client_that_cannot_start_ends_the_server(pane_factory, tmp_path, tag):
    broken = tmp_path / "broken-client"
    broken.write_text("#!/nonexistent/interpreter\n")
    broken.chmod(0o755)
    err = tmp_path / "wrapper.err"
    pane = pane_factory(
        " ".join([program_command("wrapper"), "--local", f"--client={broken}", "2>", str(err)])
    )
    assert pane.wait_exit(timeout=20) == 255  # (stdin is the pane's terminal)
    assert "could not run client" in err.read_text()
    pane.kill()
    assert wait_gone(tag, timeout=10) == []


def test_user_mistakes_never_show_a_traceback(tag):
    for args in (
        ["-p", "x", "host"],
        ["host:0"],
        ["--local", "-6", "127.0.0.1"],
        ["--fake-proxy", "--", "no-such-host.invalid", "22"],
        ["--bind-server=nowhere", "h"],
        ["--predict=sometimes", "h"],
    ):
        result = run_wrapper(tag, *args)
        assert result.returncode != 0 and result.stderr, args
        assert "Traceback" not in result.stderr and result.stderr.count("\n") <= 3, args
    for name, args in (
        ("server", ["new", "-c", "x"]),
        ("server", ["new", "-p", "99999"]),
        ("server", ["new", "-l"]),
        ("client", ["1.2.3.4"]),
        ("client", ["-x", "1", "2"]),
        ("client", ["127.0.0.1", "60001"]),
    ):
        result = run(
            program(name, *args), child_env(PYMOSH_TEST_TAG=tag, MOSH_KEY="2yCnwwwd0L3sT9AjyQB4ag")
        )
        assert result.returncode == 1 and "Traceback" not in result.stderr, (name, args)
        assert "MOSH CONNECT" not in result.stdout
    assert wait_gone(tag, timeout=5) == []


# ------------------------------------------------------------------ the session's end


@pytest.mark.parametrize("ending", ["client quits", "shell exits", "server signalled"])
def test_session_end_hangs_up_and_nohup_jobs_survive(pane_factory, tmp_path, tag, ending):
    kept, killed = tmp_path / "nohup-job", tmp_path / "plain-job"
    started, saved = tmp_path / "plain-job-started", tmp_path / "trap-saved"
    # As under ssh, the hangup sends SIGHUP to the shell (the session leader) and, once it
    # exits, to its foreground process group. The trap takes 2 s to save its state: a
    # SIGKILL 1 s after the hangup (what pymosh-server did) killed it and the nohup job,
    # which shares the non-interactive shell's process group.
    script = (
        f"trap 'sleep 2; echo saved > {saved}; exit 0' HUP; "
        f"nohup sh -c 'sleep 4; echo kept > {kept}' >/dev/null 2>&1 & "
        f"sh -c 'touch {started}; sleep 4; echo killed > {killed}' & "
        "echo jobs-started; " + ("sleep 1" if ending == "shell exits" else "sleep 60 & wait $!")
    )
    command = " ".join(
        [program_command("wrapper"), "--local", "--", "sh", "-c", shlex.quote(script)]
    )
    pane = pane_factory(command)
    pane.wait_for("jobs-started", timeout=20)
    deadline = time.monotonic() + 10  # the background job may start after the echo
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists()
    if ending == "client quits":
        pane.send_keys("C-^")
        pane.send_keys(".")
    elif ending == "server signalled":
        (server,) = [
            pid
            for pid in tagged_pids(tag)
            if b"pymosh.frontend.server" in read_proc(pid, "cmdline")
        ]
        os.kill(server, signal.SIGTERM)
    assert pane.wait_exit(timeout=15) == 0
    deadline = time.monotonic() + 15
    while not kept.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert kept.exists(), "the nohup job did not survive the end of the session"
    if ending != "shell exits":
        assert saved.exists(), "the shell's HUP trap did not get to finish"
    time.sleep(0.5)
    assert not killed.exists(), "a job that does not ignore SIGHUP outlived the hangup"


# ------------------------------------------------------------------ statistics line


def test_statistics_line_toggles_with_escape_s(pane_factory, tag):
    command = " ".join(
        [
            program_command("wrapper"),
            "--local",
            "--",
            "sh",
            "-c",
            shlex.quote("echo ready; sleep 60"),
        ]
    )
    pane = pane_factory(command, width=120, height=10)
    pane.wait_for("ready", timeout=20)
    assert "RTT" not in pane.capture()
    pane.send_keys("C-^")
    pane.send_keys("s")
    screen = pane.wait_for("RTT ", timeout=10)
    bottom = screen.splitlines()[-1] if len(screen.splitlines()) == 10 else ""
    assert bottom.startswith("RTT ") and "ms | lost " in bottom, screen
    assert "predict " in bottom and "up " in bottom and "127.0.0.1:" in bottom, bottom
    pane.send_keys("C-^")
    pane.send_keys("s")
    pane.wait_until(lambda s: "RTT " not in s, timeout=10, what="the line to go")
    pane.send_keys("C-^")
    pane.send_keys(".")
    assert pane.wait_exit(timeout=15) == 0
    pane.kill()
    assert wait_gone(tag, timeout=10) == []


@pytest.mark.parametrize("name", ["pymosh", pytest.param("stock", marks=pytest.mark.interop)])
def test_abort_ends_a_server_whose_client_never_comes(name, tag):
    from pymosh.frontend.abort import abort_server
    from tests.support.procs import wait_dead

    argv = SERVERS[name] + ["new", "-i", "127.0.0.1", "-p", "0", "--", "sh", "-c", "sleep 30"]
    port, key, pid, _ = launch_server(argv, child_env(PYMOSH_TEST_TAG=tag))
    assert pid and abort_server("127.0.0.1", port, key)
    assert wait_dead(pid, 5)
    assert wait_gone(tag, timeout=5) == []


def test_wrapper_over_ssh_ends_the_remote_server_when_the_client_cannot_start(
    sshd, pane_factory, tmp_path, tag
):
    broken = tmp_path / "broken-client"
    broken.write_text("#!/nonexistent/interpreter\n")
    broken.chmod(0o755)
    server = (
        "env "
        + shlex.quote(f"PYTHONPATH={child_env()['PYTHONPATH']}")
        + " "
        + program_command("server")
    )
    err = tmp_path / "wrapper.err"
    pane = pane_factory(
        " ".join(
            [
                program_command("wrapper"),
                shlex.quote(f"--ssh={sshd.ssh_command()}"),
                shlex.quote(f"--server={server}"),
                f"--client={broken}",
                "127.0.0.1",
                "2>",
                str(err),
            ]
        )
    )
    assert pane.wait_exit(timeout=30) == 255
    assert "could not run client" in err.read_text()
    pane.kill()
    assert wait_gone(tag, timeout=10) == []  # not 60 s later: the server was told
