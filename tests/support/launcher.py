"""An installation of this checkout laid out as pip lays out a virtual environment, with
``bin/pymosh-server`` the C launcher (launcher/pymosh-server.c) compiled the way setup.py
compiles it (the compiler CPython was built with, the same three definitions)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig

import pymosh
from pymosh.frontend import handoff

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(ROOT, "src")
SOURCE = os.path.join(ROOT, "launcher", "pymosh-server.c")
SCRIPT = os.path.join(ROOT, "scripts", "pymosh-server")
PYVER = f"{sys.version_info[0]}.{sys.version_info[1]}"


def compile_launcher(out: str) -> None:
    cc = (sysconfig.get_config_var("CC") or "cc").split()
    defines = [
        f'-DPYMOSH_VERSION="{pymosh.__version__}"',
        f'-DPYMOSH_MAGIC="{handoff.MAGIC}"',
        f'-DPYMOSH_PYVER="{PYVER}"',
    ]
    done = subprocess.run(
        [*cc, "-O2", "-Wall", "-Werror", *defines, "-o", out, SOURCE],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")


def fake_installation(root: str) -> str:
    """``root`` as a venv holding this checkout (site-packages links to ``src``): bin/python3,
    bin/pymosh-server (the launcher), share/pymosh/pymosh-server (the Python entry script).
    Returns the launcher's path."""
    bindir = os.path.join(root, "bin")
    site = os.path.join(root, "lib", f"python{PYVER}", "site-packages")
    share = os.path.join(root, "share", "pymosh")
    for path in (bindir, site, share):
        os.makedirs(path)
    with open(os.path.join(root, "pyvenv.cfg"), "w") as f:
        f.write(f"home = {os.path.dirname(os.path.realpath(sys.executable))}\n")
    os.symlink(os.path.realpath(sys.executable), os.path.join(bindir, "python3"))
    for package in ("pymosh", "_fastpath"):
        os.symlink(os.path.join(SRC, package), os.path.join(site, package))
    os.symlink(SCRIPT, os.path.join(share, "pymosh-server"))
    launcher = os.path.join(bindir, "pymosh-server")
    compile_launcher(launcher)
    return launcher


def installation_id() -> str:
    """The ``INSTALL`` a fake installation's launcher and entry script send: that of this
    checkout's handoff.py (under CI the test process itself imports an installed copy)."""
    me = os.stat(os.path.join(SRC, "pymosh", "frontend", "handoff.py"))
    return f"{me.st_dev}:{me.st_ino}:{me.st_mtime_ns}"
