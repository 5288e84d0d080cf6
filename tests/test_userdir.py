"""The per-user state directory: where it is, and what it refuses."""

from __future__ import annotations

import os
import stat

import pytest

from pymosh.frontend.userdir import (
    UserDirError,
    state_dir,
    state_dir_path,
    subdir,
    write_private_file,
)


def test_location_follows_the_environment(tmp_path):
    assert state_dir_path({"PYMOSH_STATE_DIR": str(tmp_path / "x")}) == str(tmp_path / "x")
    assert state_dir_path({"XDG_STATE_HOME": "/s", "HOME": "/h"}) == "/s/pymosh"
    assert state_dir_path({"HOME": "/h"}) == "/h/.local/state/pymosh"
    assert state_dir_path({"XDG_STATE_HOME": "relative", "HOME": "/h"}) == "/h/.local/state/pymosh"


def test_created_private_with_subdirectories(tmp_path):
    env = {"HOME": str(tmp_path)}
    old = os.umask(0)
    try:
        path = subdir("sessions", env)
    finally:
        os.umask(old)
    assert path == str(tmp_path / ".local" / "state" / "pymosh" / "sessions")
    for p in (path, os.path.dirname(path)):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o700
    with pytest.raises(ValueError):
        subdir("../etc", env)


def test_refuses_loose_permissions_and_symlinks(tmp_path):
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    with pytest.raises(UserDirError, match="chmod 700"):
        state_dir({"PYMOSH_STATE_DIR": str(loose)})
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(UserDirError, match="symbolic link"):
        state_dir({"PYMOSH_STATE_DIR": str(link)})
    afile = tmp_path / "file"
    afile.write_text("")
    with pytest.raises(UserDirError, match="not a directory"):
        state_dir({"PYMOSH_STATE_DIR": str(afile)})


def test_refuses_another_owner(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("this test needs root to make a directory owned by someone else")
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    os.chown(other, 65534, 65534)
    with pytest.raises(UserDirError, match="owned by uid 65534"):
        state_dir({"PYMOSH_STATE_DIR": str(other)})


def test_private_file_is_0600_and_atomic(tmp_path):
    path = str(tmp_path / "rec")
    write_private_file(path, b"one")
    write_private_file(path, b"two")
    assert open(path, "rb").read() == b"two"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(tmp_path) == ["rec"]
