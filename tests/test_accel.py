"""The accelerator switch: one place decides, the environment can force the twins."""

from __future__ import annotations

import os
import subprocess
import sys

from pymosh import _accel

PROBE = (
    "from pymosh import _accel, crypto, terminal; "
    "from pymosh.network import fragment; "
    "print(_accel.describe()); "
    "print(crypto.Session.__module__, terminal.Emulator.__module__, fragment.codec.__name__, "
    "_accel.pick('lane').__name__)"
)


def run_probe(**env: str) -> list[str]:
    full_env = dict(os.environ, **env)
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=full_env, check=True, capture_output=True, text=True
    ).stdout
    return out.splitlines()


def _built(name: str) -> bool:
    """Whether a fresh interpreter (like the probe's) finds the compiled module; asked in
    a subprocess because other tests in this process may have changed ``sys.path``."""
    code = f"import importlib.util; print(importlib.util.find_spec('_fastpath.{name}') is not None)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYMOSH_NO_EXTENSIONS=""),
    ).stdout
    return out.strip() == "True"


def test_no_extensions_forces_the_twins() -> None:
    describe, modules = run_probe(PYMOSH_NO_EXTENSIONS="1")
    assert describe.startswith("fast path: no")
    assert modules.split() == [
        "pymosh.crypto.ocb",
        "pymosh.terminal.emulator",
        "pymosh.network.codec",
        "pymosh.frontend.lane",
    ]


def test_default_uses_whatever_fast_paths_import() -> None:
    describe, modules = run_probe(PYMOSH_NO_EXTENSIONS="")
    # (asked of the import system, not of _accel: this process may run with the twins forced)
    expected = [
        "_fastpath.crypto" if _built("crypto") else "pymosh.crypto.ocb",
        # (_fastpath.terminal gathers the compiled emulator and differ)
        "_fastpath.emulator" if _built("terminal") else "pymosh.terminal.emulator",
        "_fastpath.codec" if _built("codec") else "pymosh.network.codec",
        "_fastpath.lane" if _built("lane") else "pymosh.frontend.lane",
    ]
    assert modules.split() == expected
    if all(_accel.status().values()):
        assert describe.startswith("fast path: yes")


def test_extensions_present_when_required() -> None:
    """In CI (PYMOSH_REQUIRE_EXTENSIONS=1) a failed build must not pass silently."""
    if os.environ.get("PYMOSH_REQUIRE_EXTENSIONS") == "1" and not _accel.NO_EXTENSIONS:
        assert _accel.status() == {"crypto": True, "terminal": True, "codec": True, "lane": True}
    else:
        assert set(_accel.status()) == {"crypto", "terminal", "codec", "lane"}
