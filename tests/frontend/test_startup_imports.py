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
    assert loaded & HEAVY == set()  # (the server starts with posix_spawn: frontend/child.py)
    assert loaded & START_UP == set()
    assert "pymosh.frontend.jump" not in loaded
    assert "shutil" not in loaded  # (--client= only)


@pytest.mark.parametrize(
    "argv",
    [
        ["--local"],
        ["--local", "--", "bash", "-l"],
        ["-a", "--predict-overwrite", "--scrollback=0", "--local", "::1"],
        ["-p", "60001", "--ssh=ssh -p 2222", "user@host:22", "tmux", "attach"],
        ["--resume", "host"],
    ],
)
def test_wrapper_reads_common_command_lines_without_argparse(argv):
    # the options as the session starts with them (_connect), and what was imported by then
    loaded = _imported(
        "from pymosh.frontend import wrapper; "
        "wrapper._connect = lambda args, argv: print(sorted(vars(args))) or 0; "
        f"wrapper.run({argv!r})"
    )
    assert loaded & ({"argparse", "gettext", "shlex"} | HEAVY | START_UP) == set()


@pytest.mark.parametrize(
    "argv", [["--help"], ["--loc"], ["-an", "host"], ["--predict=sometimes", "host"], ["-p"]]
)
def test_wrapper_leaves_help_abbreviations_and_mistakes_to_argparse(argv):
    loaded = _imported(
        "from pymosh.frontend import wrapper; wrapper._connect = lambda args, argv: 0\n"
        f"try:\n    wrapper.run({argv!r})\nexcept SystemExit:\n    pass\n"
        "import sys"
    )
    assert "argparse" in loaded
