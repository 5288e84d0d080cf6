"""What pymosh-client and pymosh import before their first datagram (start-up budget).

Start-up is measured in bench/ (``python -m bench.e2e.startup``); here the behaviour
behind it: importing the client's and the wrapper's entry modules, as their ``-I -S``
scripts do, loads none of the modules that cost start-up milliseconds and are not
needed before the first frame.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.frontend.helpers import PACKAGE_ROOT

# dataclasses drags in inspect, ast, dis and tokenize; the others are needed only on paths
# a start-up does not take (forwarding, jump hosts, the server's locale fallbacks)
HEAVY = {
    "dataclasses",
    "inspect",
    "ast",
    "tokenize",
    "threading",
    "subprocess",
    "json",
    "hashlib",
    "tempfile",
    "encodings.idna",
    "cryptography",
    "ctypes",
}


# what the client's fast path leaves out before its first datagram (each costs start-up
# milliseconds: typing with re, functools and contextlib; socket.py, signal.py and re with
# enum; locale.py; importlib; base64 with re; curses until after the send). Not listed:
# collections, which Cython's typed memoryviews in the compiled fast paths import.
START_UP = {
    "typing",
    "re",
    "enum",
    "functools",
    "contextlib",
    "socket",
    "selectors",
    "signal",
    "locale",
    "importlib",
    "base64",
    "curses",
}


def _imported(code: str, **env: str) -> set[str]:
    probe = f"import sys; sys.path.insert(0, {PACKAGE_ROOT!r}); {code}; print(*sys.modules)"
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, **env},
    ).stdout
    return set(out.split())


@pytest.mark.parametrize("extensions", ["fast", "twins"])
def test_client_entry_imports_nothing_heavy(extensions):
    env = {"PYMOSH_NO_EXTENSIONS": "1"} if extensions == "twins" else {}
    loaded = _imported("from pymosh.frontend.client import main", **env)
    assert "pymosh.frontend.client" in loaded
    assert loaded & HEAVY == set()
    # the overlays load after the first datagram, while the server answers
    assert not [name for name in loaded if name.startswith("pymosh.frontend.overlay")]


def test_client_socket_to_a_numeric_address_needs_no_idna_codec():
    loaded = _imported(
        "from pymosh.network.udp import ClientSocket; ClientSocket(('127.0.0.1', 9)).close()"
    )
    assert "encodings.idna" not in loaded


def test_wrapper_entry_imports_nothing_heavy():
    loaded = _imported("from pymosh.frontend.wrapper import main")
    assert loaded & HEAVY - {"ctypes"} == {"subprocess", "threading"}  # it runs the server
    assert "pymosh.frontend.jump" not in loaded
    assert "shutil" not in loaded  # (--client= only)


def test_client_fast_path_imports_no_start_up_stdlib():
    loaded = _imported(
        "from pymosh.frontend.client import main; from pymosh.crypto.key import parse_key",
        PYMOSH_NO_EXTENSIONS="0",
    )
    # asked of the child itself: this process may run the twins (PYMOSH_NO_EXTENSIONS=1)
    if "_fastpath.terminal" not in loaded:
        if os.environ.get("PYMOSH_REQUIRE_EXTENSIONS") == "1":
            pytest.fail("_fastpath is not built but PYMOSH_REQUIRE_EXTENSIONS=1")
        pytest.skip("_fastpath not built")
    assert loaded & START_UP == set()


def test_client_socket_and_event_loop_need_no_socket_module():
    loaded = _imported(
        "from pymosh.frontend.loop import EventLoop; from pymosh.network.udp import ClientSocket;"
        " ClientSocket(('127.0.0.1', 9)).close(); EventLoop().close()"
    )
    assert loaded & {"socket", "selectors", "signal", "enum"} == set()


def test_wrapper_builds_its_parser_without_shutil_or_typing():
    loaded = _imported(
        "from pymosh.frontend.wrapper import build_parser; build_parser().parse_args(['x'])"
    )
    assert loaded & {"shutil", "typing", "socket", "bz2", "lzma"} == set()
