"""The wrapper's server process (frontend/child.py): what subprocess.Popen gave it."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from pymosh.frontend.child import Child


def _run(script: str, env: dict[str, str] | None = None, cwd: str | None = None) -> str:
    child = Child(["sh", "-c", script], dict(os.environ) if env is None else env, cwd)
    out = child.stdout.read().decode()
    child.stdout.close()
    assert child.wait(10) == 0
    return out


def test_output_and_errors_on_one_pipe_input_empty():
    assert _run("echo out; echo err >&2; cat") == "out\nerr\n"


def test_working_directory_and_environment(tmp_path):
    here = os.getcwd()
    env = {"PATH": os.environ["PATH"], "ONLY": "this"}
    out = _run('pwd; echo "$ONLY"; env | wc -l', env, str(tmp_path))
    lines = out.split()
    assert lines[:2] == [str(tmp_path), "this"]
    assert os.getcwd() == here  # (the spawning process is back where it was)


def test_program_found_on_the_path_of_its_environment(tmp_path):
    tool = tmp_path / "only-here"
    tool.write_text("#!/bin/sh\necho found\n")
    tool.chmod(0o755)
    child = Child(["only-here"], {"PATH": str(tmp_path)})
    assert child.stdout.read() == b"found\n"
    assert child.wait(10) == 0


def test_inherited_descriptors_closed_signals_default():
    keep_r, keep_w = os.pipe()
    os.set_inheritable(keep_w, True)  # as a parent process could have left one
    try:
        out = _run("ls /proc/self/fd; grep SigIgn /proc/self/status")
    finally:
        os.close(keep_r)
        os.close(keep_w)
    fds = {int(word) for word in out.split() if word.isdigit()}
    assert keep_w not in fds and {0, 1, 2} <= fds
    ignored = int(out.split("SigIgn:")[1].split()[0], 16)
    assert not ignored & (1 << (13 - 1))  # SIGPIPE
    assert not ignored & (1 << (25 - 1))  # SIGXFSZ


def test_exit_status_timeout_and_kill():
    child = Child(["sh", "-c", "exit 3"], dict(os.environ))
    assert child.wait(10) == 3
    sleeper = Child(["sleep", "30"], dict(os.environ))
    assert sleeper.wait(0.05) is None
    sleeper.kill()
    assert sleeper.wait(10) == -9


@pytest.mark.parametrize("program", ["no-such-program-pymosh", "/no/such/program"])
def test_missing_program_is_an_oserror(program):
    with pytest.raises(OSError) as info:
        Child([program], dict(os.environ))
    assert info.value.errno == errno.ENOENT


def test_program_not_executable_is_permission_denied(tmp_path):
    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(stat.S_IRUSR)
    with pytest.raises(OSError) as info:
        Child(["tool"], {"PATH": str(tmp_path)})
    assert info.value.errno == errno.EACCES


def test_missing_working_directory_is_an_oserror_and_leaves_ours(tmp_path):
    here = os.getcwd()
    with pytest.raises(OSError):
        Child(["true"], dict(os.environ), str(tmp_path / "gone"))
    assert os.getcwd() == here
