"""The man pages render cleanly and document every option, variable and escape key."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from pymosh.frontend import wrapper

MAN = os.path.join(os.path.dirname(__file__), "..", "..", "man")
PAGES = ["pymosh.1", "pymosh-server.1", "pymosh-client.1"]

pytestmark = pytest.mark.smoke


def rendered(page: str) -> str:
    """``man -l`` output as plain text (groff warnings are failures)."""
    path = os.path.join(MAN, page)
    check = subprocess.run(
        ["groff", "-man", "-Tutf8", "-ww", "-z", path],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert check.returncode == 0 and not check.stderr, check.stderr
    out = subprocess.run(
        ["man", "-l", path],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=dict(os.environ, MANWIDTH="100", MAN_KEEP_FORMATTING="", MANPAGER="cat", PAGER="cat"),
    )
    assert out.returncode == 0, out.stderr
    return re.sub(".\b", "", out.stdout)


@pytest.mark.parametrize("page", PAGES)
def test_page_renders(page):
    text = rendered(page)
    assert "NAME" in text and "SYNOPSIS" in text and "ENVIRONMENT" in text


def test_wrapper_page_covers_every_option_and_escape_key():
    text = rendered("pymosh.1")
    for action in wrapper.build_parser()._actions:
        for flag in action.option_strings:
            if action.help != "==SUPPRESS==":
                assert flag in text, flag
    for var in (
        "MOSH_ESCAPE_KEY",
        "MOSH_PREDICTION_DISPLAY",
        "MOSH_PREDICTION_OVERWRITE",
        "MOSH_TITLE_NOPREFIX",
        "MOSH_NO_TERM_INIT",
        "COLORTERM",
        "LANG",
        "PYMOSH_NO_EXTENSIONS",
    ):
        assert var in text, var
    escapes = text[text.index("ESCAPE KEYS") : text.index("ENVIRONMENT")]
    assert all(key in escapes for key in ("Ctrl-^", "Ctrl-Z", "quits", "statistics"))


def test_server_and_client_pages_cover_their_options():
    server = rendered("pymosh-server.1")
    for flag in (
        "-s",
        "-i",
        "-p",
        "-c",
        "-l",
        "-v",
        "--help",
        "--version",
        "MOSH_SERVER_NETWORK_TMOUT",
        "MOSH_SERVER_SIGNAL_TMOUT",
        "SHELL",
        "LOCALE",
        "--scrollback",
    ):
        assert flag in server, flag
    client = rendered("pymosh-client.1")
    for flag in (
        "-c",
        "-#",
        "--version",
        "MOSH_KEY",
        "MOSH_ESCAPE_KEY",
        "statistics",
        "PYMOSH_SCROLLBACK",
    ):
        assert flag in client, flag


def test_help_names_the_options_and_variables(capsys):
    from pymosh.frontend import client, server

    assert server.run(["--help"]) == 0
    text = capsys.readouterr().out
    for word in (
        "-s",
        "-i IP",
        "-p PORT",
        "-c COLORS",
        "-l NAME=VALUE",
        "-v",
        "MOSH_SERVER_NETWORK_TMOUT",
        "MOSH_SERVER_SIGNAL_TMOUT",
        "--scrollback=N",
        "pymosh-server(1)",
    ):
        assert word in text, word
    assert client.run(["--help"]) == 0
    text = capsys.readouterr().out
    for word in (
        "MOSH_KEY",
        "MOSH_ESCAPE_KEY",
        "MOSH_PREDICTION_DISPLAY",
        "MOSH_PREDICTION_OVERWRITE",
        "MOSH_TITLE_NOPREFIX",
        "MOSH_NO_TERM_INIT",
        "PYMOSH_SCROLLBACK",
        "statistics",
        "pymosh-client(1)",
    ):
        assert word in text, word
    with pytest.raises(SystemExit):
        wrapper.run(["--help"])
    text = capsys.readouterr().out
    assert "--local" in text and "host[:PORT]" in text and "pymosh(1)" in text
