"""The client's terminal read once from terminfo: differ options, colours, start/exit strings."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pymosh.terminal.terminfo import TerminalCaps, read_caps

E = b"\x1b"


def _in_fresh_process(term: str, env: dict[str, str]) -> TerminalCaps:
    # curses honours only the first setupterm of a process: one process per terminal
    code = (
        "import sys; from pymosh.terminal.terminfo import read_caps; "
        f"print(repr(read_caps({term!r}, {env!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    return eval(out, {"TerminalCaps": TerminalCaps})


def test_xterm_256color():
    caps = _in_fresh_process("xterm-256color", {})
    assert caps.has_ech and caps.has_bce and caps.has_title and caps.colors == 256
    assert caps.smcup.startswith(E + b"[?1049h")  # the alternate screen
    assert caps.open_terminal() == caps.smcup + E + b"[?1h"
    close = caps.close_terminal()
    assert close.startswith(E + b"[?1l" + E + b"[0m" + E + b"[?25h" + E + b"[?1003l")
    assert close.endswith(caps.rmcup) and caps.rmcup and b"2004" not in close
    assert caps.differ_options() == {"has_ech": True, "has_bce": True, "has_title": True}


def test_mosh_no_term_init_keeps_the_normal_screen():
    caps = _in_fresh_process("xterm-256color", {"MOSH_NO_TERM_INIT": "1"})
    assert caps.smcup == caps.rmcup == b"" and caps.colors == 256
    assert caps.open_terminal() == E + b"[?1h"


def test_vt100_has_no_ech_and_no_title():
    caps = _in_fresh_process("vt100", {})
    assert not caps.has_ech and not caps.has_bce and not caps.has_title


def test_unknown_or_empty_term_is_the_capability_less_terminal():
    assert read_caps("", {}) == TerminalCaps()
    assert _in_fresh_process("no-such-terminal-xyz", {}) == TerminalCaps()
    with pytest.raises(AttributeError):
        TerminalCaps().colors = 8  # type: ignore[misc]
