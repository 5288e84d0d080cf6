"""Shared fixtures. Every fast path runs the same tests as its pure-Python twin.

``crypto_impl`` / ``codec_impl`` / ``terminal_impl`` are parametrised over ``py`` (the
twin) and ``c`` (the compiled fast path). Where the extension is missing the ``c`` case is skipped
locally, but fails when ``PYMOSH_REQUIRE_EXTENSIONS=1`` (as in CI), so a broken
build can never pass as a skip. ``PYMOSH_NO_EXTENSIONS=1`` runs the twins only: there is
no ``c`` case at all (CI's second pass runs the whole suite that way).
"""

from __future__ import annotations

import importlib
import os

import pytest

from pymosh import _accel

# A pymosh-server started by a test neither uses nor starts a per-user session forker (a
# long-lived process in the real state directory); tests/frontend/test_forker.py starts its
# own in a private state directory and ends it.
os.environ["PYMOSH_FORKER"] = "0"

REQUIRE_EXTENSIONS = os.environ.get("PYMOSH_REQUIRE_EXTENSIONS") == "1"
IMPLEMENTATIONS = ["py"] if _accel.NO_EXTENSIONS else ["py", "c"]
# Modules about the compiled fast path itself (against its twin, under hostile input): with
# the twins forced there is nothing for them to test, so they are not collected at all.
collect_ignore = (
    ["terminal/test_fastpath_equivalence.py", "terminal/test_fastpath_hostile.py"]
    if _accel.NO_EXTENSIONS
    else []
)


def _implementation(request: pytest.FixtureRequest, name: str):
    if request.param == "py":
        return importlib.import_module(_accel.FAST_PATHS[name])
    module = _accel.fast_module(name)
    if module is None:
        if REQUIRE_EXTENSIONS:
            pytest.fail(f"_fastpath.{name} is not built but PYMOSH_REQUIRE_EXTENSIONS=1")
        pytest.skip(f"_fastpath.{name} not built")
    return module


@pytest.fixture(params=IMPLEMENTATIONS)
def crypto_impl(request: pytest.FixtureRequest):
    """pymosh.crypto.ocb or _fastpath.crypto: same API."""
    return _implementation(request, "crypto")


@pytest.fixture(params=IMPLEMENTATIONS)
def codec_impl(request: pytest.FixtureRequest):
    """pymosh.network.codec or _fastpath.codec: same API."""
    return _implementation(request, "codec")


@pytest.fixture(params=IMPLEMENTATIONS)
def terminal_impl(request: pytest.FixtureRequest):
    """pymosh.terminal.emulator or _fastpath.terminal: same API."""
    return _implementation(request, "terminal")


@pytest.fixture(params=IMPLEMENTATIONS)
def lane_impl(request: pytest.FixtureRequest):
    """pymosh.frontend.lane or _fastpath.lane (its compiled source): same API."""
    return _implementation(request, "lane")


@pytest.fixture(scope="session", autouse=True)
def private_state_dir(tmp_path_factory):
    """Sessions started by the tests register in a throwaway state directory, not in the
    user's own (where a leftover would show up as a detached session in every new one)."""
    if "PYMOSH_STATE_DIR" in os.environ:
        yield os.environ["PYMOSH_STATE_DIR"]
        return
    path = str(tmp_path_factory.mktemp("pymosh-state"))
    os.chmod(path, 0o700)
    os.environ["PYMOSH_STATE_DIR"] = path
    yield path
    del os.environ["PYMOSH_STATE_DIR"]


@pytest.fixture(scope="session")
def shared_dir() -> str:
    """The ../shared folder beside the checkout (docs and real-Mosh vectors)."""
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.normpath(os.path.join(here, "..", "..", "shared"))
    if not os.path.isdir(path):
        pytest.fail(f"../shared not found at {path}")
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """The README smoke test runs the smoke subset inside a fresh virtual environment;
    that inner run leaves the smoke test itself out (it would start itself again)."""
    if os.environ.get("PYMOSH_README_SMOKE_INNER"):
        inner = [item for item in items if "test_readme_smoke" in item.nodeid]
        if inner:
            config.hook.pytest_deselected(items=inner)
            items[:] = [item for item in items if item not in inner]
