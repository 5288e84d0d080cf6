"""pymosh-server as a process: start-up output, errors, detaching, SIGTERM without a client."""

from __future__ import annotations

import os
import re
import signal
import subprocess

from tests.frontend.helpers import child_env, program
from tests.support.procs import read_proc, send_signal, wait_dead


def run_server(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        program("server", *args),
        env=child_env(**env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_connect_line_detach_and_sigterm():
    result = run_server("new", "-p", "0", "--", "/bin/sh")
    assert result.returncode == 0
    match = re.fullmatch(r"MOSH CONNECT (\d+) ([A-Za-z0-9/+]{22})\n", result.stdout)
    assert match, result.stdout
    detached = re.search(r"\[pymosh-server detached, pid = (\d+)\]", result.stderr)
    assert detached, result.stderr
    pid = int(detached.group(1))
    try:
        assert match.group(2).encode() not in read_proc(pid, "cmdline")  # key never in argv
        os.kill(pid, signal.SIGTERM)  # no client: exits at once
        assert wait_dead(pid, 5)
    finally:
        send_signal(pid, signal.SIGKILL)


def test_bad_port_range_is_an_error():
    result = run_server("new", "-p", "9:1")
    assert result.returncode == 1 and "Bad UDP port range" in result.stderr
    assert "MOSH CONNECT" not in result.stdout


def test_non_utf8_server_and_client_locale_fall_back_to_an_installed_utf8_one():
    # Mosh refuses here; this host has C.UTF-8, so pymosh-server uses it and says so
    result = run_server("new", "-p", "0", "-l", "LANG=C", "--", "/bin/true", LANG="C", LC_ALL="C")
    assert result.returncode == 0 and "MOSH CONNECT" in result.stdout
    notices = [line for line in result.stderr.splitlines() if "UTF-8" in line]
    assert notices == ["pymosh-server: the locale (C) is not UTF-8; using LC_CTYPE=C.UTF-8"]
    pid = int(re.search(r"pid = (\d+)", result.stderr).group(1))
    os.kill(pid, signal.SIGTERM)
    assert wait_dead(pid, 5)


def test_utf8_fallback_from_the_client_environment():
    result = run_server(
        "new", "-p", "0", "-l", "LC_ALL=C.UTF-8", "--", "/bin/true", LANG="C", LC_ALL="C"
    )
    assert result.returncode == 0 and "MOSH CONNECT" in result.stdout
    pid = int(re.search(r"pid = (\d+)", result.stderr).group(1))
    os.kill(pid, signal.SIGTERM)
    assert wait_dead(pid, 5)
