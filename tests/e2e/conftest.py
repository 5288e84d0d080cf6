"""Fixtures for end-to-end tests: tagged processes, a tmux pane factory, a private sshd."""

from __future__ import annotations

import os
import shutil
import uuid

import pytest

from tests.e2e.sshd import SSHD, Sshd
from tests.e2e.tmux import TmuxPane
from tests.frontend.helpers import child_env
from tests.support.procs import kill_tagged


@pytest.fixture
def tag():
    """A unique tag; every process carrying it in its environment is killed at teardown."""
    value = uuid.uuid4().hex
    yield value
    kill_tagged(value)


@pytest.fixture
def pane_factory(tmp_path, tag):
    """``pane_factory(command, width=80, height=24, history_limit=2000, **env)`` -> a
    started TmuxPane."""
    if shutil.which("tmux") is None:
        pytest.fail("tmux is required for end-to-end tests")
    panes: list[TmuxPane] = []

    def make(
        command, width: int = 80, height: int = 24, history_limit: int = 2000, **extra_env: str
    ) -> TmuxPane:
        env = child_env(PYMOSH_TEST_TAG=tag, **extra_env)
        pane = TmuxPane(
            tmp_path, command, width=width, height=height, env=env, history_limit=history_limit
        )
        panes.append(pane)
        return pane.start()

    yield make
    for pane in panes:
        pane.kill()


@pytest.fixture
def sshd(tmp_path, tag):
    if not os.access(SSHD, os.X_OK):
        pytest.fail(f"{SSHD} (openssh-server) is required")
    if os.geteuid() != 0:
        pytest.fail("the sshd tests need root (sshd must switch users)")
    server = Sshd(str(tmp_path), tag).start()
    yield server
    server.stop()
