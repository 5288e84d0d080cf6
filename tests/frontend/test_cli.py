"""Command-line parsing and start-up parsing of the three programs (no processes)."""

from __future__ import annotations

import random

import pytest

from pymosh.frontend import client, server, wrapper
from pymosh.frontend.bootstrap import Bootstrap, BootstrapError
from pymosh.frontend.escape import EscapeKeys
from pymosh.frontend.ports import PortRangeError, parse_port_range
from pymosh.frontend.session_commands import split_resume

KEY = "2yCnwwwd0L3sT9AjyQB4ag"


# ------------------------------------------------------------------ ports


@pytest.mark.parametrize(
    "text,expected",
    [
        ("60001", (60001, 60001)),
        ("0", (0, 0)),
        ("60001:60010", (60001, 60001 + 9)),
        ("1:65535", (1, 65535)),
    ],
)
def test_port_ranges(text, expected):
    assert parse_port_range(text) == expected


@pytest.mark.parametrize("text", ["", "x", "0:10", "10:9", "70000", "1:70000", "-1", "1:"])
def test_bad_port_ranges(text):
    with pytest.raises(PortRangeError, match="Bad UDP port range"):
        parse_port_range(text)


# ------------------------------------------------------------------ bootstrap output


def test_connect_line_found_among_noise():
    boot = Bootstrap()
    for line in [
        "Welcome to host\r\n",
        "MOSH IP 10.0.0.7\r\n",
        "\r\n",
        f"MOSH CONNECT 60004 {KEY}\r\n",
    ]:
        boot.feed_line(line)
    assert boot.done and (boot.ip, boot.port, boot.key) == ("10.0.0.7", 60004, KEY)
    assert boot.passthrough == ["Welcome to host", ""]
    assert KEY not in repr(boot)


def test_ssh_connection_line_gives_the_server_address():
    boot = Bootstrap()
    boot.feed_line("MOSH SSH_CONNECTION 10.1.1.1 5555 10.2.2.2 22\n")
    assert boot.ip == "10.2.2.2"


@pytest.mark.parametrize(
    "line", [f"MOSH CONNECT x {KEY}", "MOSH CONNECT 60001 short", f"MOSH CONNECT 0 {KEY}"]
)
def test_malformed_connect_line(line):
    with pytest.raises(BootstrapError, match="Bad MOSH CONNECT") as info:
        Bootstrap().feed_line(line)
    assert KEY not in str(info.value)


def test_second_ip_is_an_error_and_bad_port_is_noticed():
    boot = Bootstrap()
    boot.feed_line("MOSH IP 1.2.3.4")
    with pytest.raises(BootstrapError):
        boot.feed_line("MOSH IP 1.2.3.5")
    boot.feed_line("Bad UDP port range")
    assert boot.saw_bad_port and not boot.done


# ------------------------------------------------------------------ wrapper


def parse(*argv: str):
    return wrapper.build_parser().parse_args(list(argv))


def test_wrapper_options_and_remote_command():
    args = parse(
        "-a", "-6", "-p", "60001:60005", "--bind-server=any", "user@host", "--", "tmux", "attach"
    )
    assert (args.predict, args.family, args.port, args.host) == (
        "always",
        "inet6",
        "60001:60005",
        "user@host",
    )
    words = wrapper.server_arguments(args, 256, None, {"LANG": "C.UTF-8", "LC_ALL": "x"})
    assert words == [
        "new",
        "-c",
        "256",
        "-p",
        "60001:60005",
        "-l",
        "LANG=C.UTF-8",
        "-l",
        "LC_ALL=x",
        "--",
        "tmux",
        "attach",
    ]


def test_wrapper_defaults_bind_to_the_ssh_address():
    args = parse("host")
    assert args.family == "prefer-inet" and args.predict is None
    assert wrapper.server_arguments(args, 8, None, {}) == ["new", "-c", "8", "-s"]
    local = parse("--local", "127.0.0.1")
    assert wrapper.server_arguments(local, 8, "127.0.0.1", {})[3:5] == ["-i", "127.0.0.1"]


def test_wrapper_passes_no_share_port_only_when_asked():
    assert "--no-share-port" not in wrapper.server_arguments(parse("-p", "60001", "h"), 8, None, {})
    words = wrapper.server_arguments(parse("-p", "60001", "--no-share-port", "h"), 8, None, {})
    assert words[-3:] == ["-p", "60001", "--no-share-port"]


def test_wrapper_ssh_command_line():
    args = parse("--ssh=ssh -o Foo=bar", "-P", "2222", "host")
    argv = wrapper.ssh_argv(args, "pymosh-server new -s")
    assert argv[:3] == ["ssh", "-o", "Foo=bar"]
    assert "-tt" in argv and "-n" in argv and argv[argv.index("-p") + 1] == "2222"
    proxy = argv[argv.index("-o", 3) + 1]
    assert proxy.startswith("ProxyCommand=") and "--fake-proxy" in proxy
    assert argv[-3:] == ["host", "--", "pymosh-server new -s"]


def test_wrapper_rejects_bad_port_and_bind(capsys):
    assert wrapper.run(["-p", "9:1", "host"]) == 255
    assert "Bad UDP port range" in capsys.readouterr().err
    assert wrapper.run(["--bind-server=nonsense", "host"]) == 255
    assert "--bind-server" in capsys.readouterr().err


def test_wrapper_scrollback_lines(capsys):
    assert parse("host").scrollback is None  # the client's default
    assert parse("--scrollback=0", "host").scrollback == 0
    assert parse("--scrollback", "100000", "host").scrollback == 100_000
    with pytest.raises(SystemExit):
        parse("--scrollback=-5", "host")
    assert "not a number of lines" in capsys.readouterr().err


def test_wrapper_version(capsys):
    assert wrapper.run(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pymosh ") and "fast path:" in out


# the wrapper's own reading of common command lines (wrapper.fast_args) against argparse's:
# the same options, or None (argparse reads it)
WORDS = [
    "--local",
    "-a",
    "-n",
    "-o",
    "--predict-overwrite",
    "-4",
    "-6",
    "-A",
    "--list",
    "--no-share-port",
    "--no-ssh-pty",
    "--no-init",
    "--fake-proxy",
    "--version",
    "--resume",
    "--resume=ab12",
    "--resume=",
    "--kill",
    "all-detached",
    "--client",
    "--client=",
    "--server=pymosh-server",
    "--predict",
    "always",
    "--predict=never",
    "--predict=bogus",
    "--family",
    "inet6",
    "--family=all",
    "-p",
    "60001",
    "--port=60002:60009",
    "-J",
    "jump",
    "--relay-port",
    "60001",
    "--relay-port=x",
    "--relay-port=07",
    "-P",
    "2222",
    "--ssh-port=22",
    "--bind-server=any",
    "--ssh",
    "ssh -v",
    "--scrollback=0",
    "--scrollback",
    "50",
    "--scrollback=-1",
    "--experimental-remote-ip=local",
    "-L",
    "8080:localhost:80",
    "-R",
    "2:h:3",
    "--",
    "--",
    "host",
    "user@host:2222",
    "[::1]:22",
    "::1",
    "bash",
    "-l",
    "--norc",
    "",
    "-",
    "--loc",
    "-an",
    "-p60001",
    "--help",
    "-x",
    "tmux",
    "attach",
]


def _both(argv: list[str]):
    """(fast_args's reading or None, argparse's) of ``argv``, each after the fix-ups; an
    error is ("error", code)."""

    def outcome(read):
        try:
            return vars(read())
        except SystemExit as exc:
            return ("error", exc.code)

    parser = wrapper.build_parser()
    values = {
        o for a in parser._actions if a.option_strings and a.nargs is None for o in a.option_strings
    }
    slow = outcome(lambda: wrapper.parse(parser, split_resume(argv, values)))
    fast = wrapper.fast_args(argv)
    if fast is None:
        return None, slow
    return outcome(lambda: wrapper.fix_up(fast, argv, parser.error)), slow


def test_wrapper_fast_reading_is_argparse_on_random_command_lines(capsys):
    rng = random.Random(17)
    accepted = 0
    for _ in range(4000):
        argv = [rng.choice(WORDS) for _ in range(rng.randint(0, 7))]
        fast, slow = _both(argv)
        if fast is not None:
            accepted += 1
            assert fast == slow, argv
    capsys.readouterr()
    assert accepted > 400  # (the comparison above covered many forms)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["host"],
        ["--local"],
        ["--local", "--", "/bin/bash", "--norc", "--noprofile"],
        ["--local", "::1", "-6"],
        ["-a", "-p", "60001", "user@host:2222", "tmux", "attach", "-d"],
        ["--ssh=ssh -p 2222", "--predict", "experimental", "-L", "1:h:2", "-L", "3:h:4", "h"],
        ["--resume", "host"],
        ["--resume=ab12", "--local"],
        ["--kill", "all-detached", "host"],
        ["--scrollback", "0", "--client=", "--server", "pymosh-server", "host"],
        ["--list", "--local"],
    ],
)
def test_wrapper_fast_reading_of_common_command_lines(argv, capsys):
    fast, slow = _both(argv)
    assert fast is not None and fast == slow
    capsys.readouterr()


def test_wrapper_defaults_are_argparse_defaults():
    assert wrapper.DEFAULTS == vars(wrapper.build_parser().parse_args([]))


# ------------------------------------------------------------------ server


def test_server_options():
    opts = server.parse_args(
        [
            "new",
            "-s",
            "-c",
            "256",
            "-p",
            "60001:60010",
            "-l",
            "LANG=x",
            "-lLC_ALL=y",
            "-vv",
            "--",
            "bash",
            "-l",
        ]
    )
    assert opts.ssh_bind and opts.colors == 256 and opts.port == "60001:60010"
    assert opts.locales == ["LANG=x", "LC_ALL=y"] and opts.verbose == 2
    assert opts.command == ["bash", "-l"]


def test_server_scrollback_cap():
    assert server.parse_args(["new", "--", "sh"]).scrollback is None
    assert server.parse_args(["new", "--scrollback=0", "--", "sh"]).scrollback == 0
    assert server.parse_args(["new", "-s", "--scrollback=500"]).scrollback == 500
    with pytest.raises(server.UsageError):
        server.parse_args(["new", "--scrollback=lots"])


def test_server_share_port_option():
    assert server.parse_args(["new", "-p", "60001"]).share_port
    opts = server.parse_args(["new", "-p", "60001", "--no-share-port", "--", "sh"])
    assert not opts.share_port and opts.command == ["sh"] and opts.warnings == []


def test_server_tolerates_harness_options_and_unknown_flags():
    opts = server.parse_args(["new", "-@", "new", "-i", "127.0.0.1", "-x", "new", "-c", "8"])
    assert opts.ip == "127.0.0.1" and opts.colors == 8 and opts.command == []
    assert opts.warnings == ["Unknown option -x"]


def test_server_legacy_and_help_forms():
    assert server.parse_args(["10.0.0.1", "60005"]).port == "60005"
    assert server.parse_args(["new", "--help"]).help
    assert server.parse_args(["--version"]).version
    with pytest.raises(server.UsageError):
        server.parse_args(["new", "-c", "lots"])


def test_server_ssh_address():
    assert server.ssh_local_ip({"SSH_CONNECTION": "1.1.1.1 5 ::ffff:2.2.2.2 22"}) == "2.2.2.2"
    assert server.ssh_local_ip({}) is None


# ------------------------------------------------------------------ client


def test_client_arguments():
    assert client.parse_args(["-#", "host -a |", "127.0.0.1", "60001"]) == ("127.0.0.1", "60001")
    assert client.parse_args(["-# pymosh host |", "::1", "5"]) == ("::1", "5")
    assert client.parse_args(["-c"]) == "colors"
    with pytest.raises(client.ClientError, match="Bad UDP port"):
        client.parse_args(["127.0.0.1", "60a"])
    with pytest.raises(client.ClientError):
        client.parse_args(["127.0.0.1"])


def test_client_title_prefix():
    assert client.prefix_titles(b"a\x1b]0;vim\x07b") == b"a\x1b]0;[mosh] vim\x07b"
    assert client.prefix_titles(b"\x1b]1;i\x07\x1b]2;t\x07") == b"\x1b]1;i\x07\x1b]2;[mosh] t\x07"
    assert client.prefix_titles(b"plain") == b"plain"


def test_client_needs_a_key(monkeypatch, capsys):
    monkeypatch.delenv("MOSH_KEY", raising=False)
    assert client.run(["127.0.0.1", "60001"]) == 1
    assert "MOSH_KEY environment variable not found." in capsys.readouterr().err


def test_client_bad_key_is_not_echoed(monkeypatch, capsys):
    monkeypatch.setenv("MOSH_KEY", "not-a-key-but-secret!!")
    assert client.run(["127.0.0.1", "60001"]) == 1
    err = capsys.readouterr().err
    assert "bad MOSH_KEY" in err and "secret" not in err
    import os

    assert "MOSH_KEY" not in os.environ


# ------------------------------------------------------------------ escape key


def feed(keys: EscapeKeys, data: bytes):
    return [keys.feed(b) for b in data]


def test_escape_quit_and_literal():
    keys = EscapeKeys(None)
    first, second = feed(keys, b"\x1e.")
    assert first.show_help and not first.send
    assert second.quit and second.hide_help
    assert feed(keys, b"\x1e^")[1].send == b"\x1e"
    assert feed(keys, b"\x1ex")[1].send == b"\x1ex"
    assert feed(keys, b"\x1e\x1a")[1].suspend
    assert keys.help_text() == (
        'Commands: Ctrl-Z suspends, "." quits, "s" stats, "^" gives literal Ctrl-^'
    )


def test_escape_s_toggles_the_statistics_line():
    keys = EscapeKeys(None)
    first, second = feed(keys, b"\x1es")
    assert first.show_help and second.toggle_stats and second.hide_help and not second.send
    assert not any(a.toggle_stats for a in feed(keys, b"s\x1e^"))
    ctrl_s = EscapeKeys("\x13")  # Ctrl-S: "s" is its literal key
    assert feed(ctrl_s, b"\x13s")[1].send == b"\x13"
    assert "stats" not in ctrl_s.help_text()


def test_escape_key_settings():
    assert EscapeKeys("").key is None
    assert feed(EscapeKeys(""), b"\x1e")[0].send == b"\x1e"
    assert EscapeKeys("\x03").key == 0x1E  # Ctrl-C refused
    ctrl_b = EscapeKeys("\x02")
    assert ctrl_b.key == 2 and ctrl_b.pass_keys == {ord("B"), ord("b")}
    tilde = EscapeKeys("~")  # printable: only after CR/LF
    assert tilde.requires_lf
    assert feed(tilde, b"a~")[1].send == b"~"
    assert feed(tilde, b"\r~.")[2].quit


def test_ctrl_l_requests_a_repaint():
    assert EscapeKeys(None).feed(0x0C).repaint
