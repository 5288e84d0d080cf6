"""The session key leaves the kernel-visible environment block (/proc/PID/environ)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.frontend.helpers import PACKAGE_ROOT

PROBE = """
import sys
sys.path.insert(0, {root!r})
from pymosh.frontend import environ_scrub
if {fallback!r}:
    def refuse(*args):
        raise OSError("no /proc/self/mem here")
    environ_scrub._scrub_mem = refuse
found = environ_scrub.scrub_environ_entry("MOSH_KEY")
with open("/proc/self/environ", "rb") as f:
    block = f.read()
print(found, b"k3y-s3cret" in block, b"OTHER=kept" in block, "ctypes" in sys.modules)
"""


@pytest.mark.parametrize("fallback", [False, True], ids=["proc-mem", "ctypes"])
def test_key_is_zeroed_in_the_environment_block(fallback):
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE.format(root=PACKAGE_ROOT, fallback=fallback)],
        env={**os.environ, "MOSH_KEY": "k3y-s3cret", "OTHER": "kept"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.split()
    assert out == ["True", "False", "True", str(fallback)]
