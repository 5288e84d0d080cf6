"""Issue #12's sans-I/O pieces: host:PORT, the wrapper's forms, its own programs, 24-bit
colour, the server's locale decision, the statistics line and the prediction counters."""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

import pytest

from pymosh.frontend import wrapper
from pymosh.frontend.bootstrap import Bootstrap
from pymosh.frontend.hostspec import HostSpecError, split_host_port
from pymosh.frontend.locale_policy import decide, original_environ
from pymosh.frontend.overlay import OverlayManager
from pymosh.frontend.overlay.stats import format_stats
from pymosh.frontend.programs import is_pymosh_server, own_program
from pymosh.frontend.termcolour import TRUECOLOR, local_truecolor, shell_colour_env
from pymosh.terminal.emulator import Emulator

pytestmark = pytest.mark.smoke

# ------------------------------------------------------------------ host:PORT


@pytest.mark.parametrize(
    "spec,expected",
    [
        ("host", ("host", None)),
        ("localhost:1234", ("localhost", "1234")),
        ("user@host:22", ("user@host", "22")),
        ("[::1]:2222", ("::1", "2222")),
        ("me@[fe80::1%eth0]:22", ("me@fe80::1%eth0", "22")),
        ("[::1]", ("::1", None)),
        ("::1", ("::1", None)),  # bare IPv6: no port
        ("fe80::1:2", ("fe80::1:2", None)),
    ],
)
def test_host_port_shorthand(spec, expected):
    assert split_host_port(spec) == expected


@pytest.mark.parametrize(
    "spec", ["host:", "host:x", "host:0", "host:65536", ":22", "[::1", "[::1]x", "[]:22"]
)
def test_bad_host_port(spec):
    with pytest.raises(HostSpecError, match="host|port|\\]"):
        split_host_port(spec)


def parse(*argv: str):
    return wrapper.parse(wrapper.build_parser(), list(argv))


def test_wrapper_host_port_becomes_the_ssh_port():
    args = parse("user@box:2200", "ls")
    assert (args.host, args.ssh_port, args.command) == ("user@box", "2200", ["ls"])
    assert wrapper.ssh_argv(args, "x")[-3] == "user@box"
    assert parse("-P", "2200", "[::1]:2200").host == "::1"


def test_wrapper_conflicting_ports_and_bad_spec_are_one_line(capsys):
    for argv in (["-P", "1", "host:2"], ["host:99999"]):
        with pytest.raises(SystemExit) as info:
            parse(*argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and "port" in err


def test_wrapper_local_needs_no_host():
    args = parse("--local")
    assert (args.host, args.command) == ("127.0.0.1", [])
    assert parse("--local", "-6").host == "::1"
    args = parse("--local", "--", "sh", "-c", "echo hi")
    assert (args.host, args.command) == ("127.0.0.1", ["sh", "-c", "echo hi"])
    args = parse("--local", "127.0.0.2", "--", "top")
    assert args.host == "127.0.0.2" and [w for w in args.command if w != "--"] == ["top"]


# ------------------------------------------------------------------ own programs


def test_own_programs_beside_the_wrapper_then_this_interpreter(tmp_path):
    script = tmp_path / "pymosh"
    server = tmp_path / "pymosh-server"
    for path in (script, server):
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    assert own_program("pymosh-server", str(script)) == [str(server)]
    assert own_program("pymosh-client", str(script)) == [
        sys.executable,
        "-m",
        "pymosh.frontend.client",
    ]
    assert own_program("pymosh-server", "/elsewhere/wrapper.py")[1:] == [
        "-m",
        "pymosh.frontend.server",
    ]


def test_wrapper_server_command_defaults():
    assert wrapper.server_command(parse("host")) == ["pymosh-server"]
    assert wrapper.server_command(parse("--server=mosh-server -v", "--local")) == [
        "mosh-server",
        "-v",
    ]
    assert "pymosh.frontend.server" in " ".join(
        wrapper.server_command(parse("--local"))
    ) or wrapper.server_command(parse("--local"))[0].endswith("pymosh-server")


# ------------------------------------------------------------------ 24-bit colour


@pytest.mark.parametrize(
    "colorterm,rgb,expected",
    [
        ("truecolor", False, True),
        ("24bit", False, True),
        (" TrueColor ", False, True),
        ("", True, True),
        ("", False, False),
        ("yes", False, False),
        ("\x1b[31mjunk\x00", False, False),
        ("256", False, False),
    ],
)
def test_local_truecolor(colorterm, rgb, expected):
    assert local_truecolor({"COLORTERM": colorterm}, rgb) is expected


def test_only_pymosh_server_is_told_about_truecolor():
    env = {"COLORTERM": "truecolor", "TERM": "xterm-256color"}
    assert wrapper.colours_to_send(["pymosh-server"], env, 256, False) == TRUECOLOR
    assert (
        wrapper.colours_to_send([sys.executable, "-m", "pymosh.frontend.server"], env, 256, False)
        == TRUECOLOR
    )
    assert wrapper.colours_to_send(["mosh-server"], env, 256, True) == 256
    assert wrapper.colours_to_send(["pymosh-server"], {"COLORTERM": "junk"}, 256, False) == 256
    assert wrapper.colours_to_send(["pymosh-server"], {}, 256, True) == TRUECOLOR
    assert is_pymosh_server(["/opt/bin/pymosh-server"])
    assert not is_pymosh_server(["/usr/bin/mosh-server"])


def test_shell_colour_environment():
    env = {"COLORTERM": "truecolor"}  # the server's own, not the client's
    shell_colour_env(env, 256)
    assert env == {"TERM": "xterm-256color"}
    shell_colour_env(env, TRUECOLOR)
    assert env == {"TERM": "xterm-256color", "COLORTERM": "truecolor"}
    shell_colour_env(env, 8)
    assert env == {"TERM": "xterm"}


# ------------------------------------------------------------------ the server's locale

INSTALLED = {
    "C": "ANSI_X3.4-1968",
    "POSIX": "ANSI_X3.4-1968",
    "C.UTF-8": "UTF-8",
    "de_DE.ISO-8859-1": "ISO-8859-1",
}


def probe(name: str):
    return INSTALLED.get(name)


def no_utf8(name: str):
    return None if "UTF" in name.upper() else INSTALLED.get(name)


def test_utf8_server_keeps_its_locale_and_ignores_l():
    d = decide({"LANG": "C.UTF-8", "HOME": "/h"}, ["LANG=fr_FR.UTF-8"], probe, ["C.UTF-8"])
    assert d.env == {"LANG": "C.UTF-8", "HOME": "/h"} and not d.notices and not d.error


def test_l_values_reach_the_shell_when_the_server_is_not_utf8():
    d = decide(
        {"LANG": "C", "LC_TIME": "C", "HOME": "/h"},
        ["LANG=C.UTF-8", "LANGUAGE=fr:en"],
        probe,
        ["C.UTF-8"],
    )
    assert d.env == {"LANG": "C.UTF-8", "LANGUAGE": "fr:en", "HOME": "/h"}
    assert not d.notices and not d.error


def test_missing_locales_are_replaced_in_one_line():
    d = decide({}, ["LANG=en_US.UTF-8", "LC_CTYPE=UTF-8"], probe, ["C.utf8", "C.UTF-8"])
    assert d.env == {"LANG": "C.UTF-8", "LC_CTYPE": "C.UTF-8"}
    assert len(d.notices) == 1 and not d.error
    assert "LANG=en_US.UTF-8, LC_CTYPE=UTF-8" in d.notices[0]
    assert "using C.UTF-8" in d.notices[0] and "locale-gen en_US.UTF-8" in d.notices[0]


def test_installed_but_not_utf8_gets_a_utf8_ctype():
    d = decide({}, ["LANG=de_DE.ISO-8859-1"], probe, ["C.UTF-8"])
    assert d.env == {"LANG": "de_DE.ISO-8859-1", "LC_CTYPE": "C.UTF-8"}
    d = decide({}, ["LC_ALL=C"], probe, ["C.UTF-8"])
    assert d.env == {"LC_ALL": "C.UTF-8"} and "not UTF-8" in d.notices[0]
    d = decide({"LANG": "C"}, [], probe, ["C.UTF-8"])  # a stock client sends no -l
    assert d.env == {"LC_CTYPE": "C.UTF-8"}


def test_refused_only_without_any_utf8_locale():
    d = decide({"LANG": "C"}, ["LANG=en_US.UTF-8"], no_utf8, ["C.UTF-8", "en_US.UTF-8"])
    assert d.error and "UTF-8" in d.error and "en_US.UTF-8" in d.error
    assert "\n" not in d.error


@pytest.mark.parametrize(
    "item", ["garbage", "=x", "LD_PRELOAD=/tmp/x.so", "LANG=a\nb", "LANG=\x1b[2J"]
)
def test_broken_l_values_are_ignored_with_a_notice(item):
    d = decide({}, [item, "LANG=C.UTF-8"], probe, ["C.UTF-8"])
    assert d.env == {"LANG": "C.UTF-8"} and not d.error
    assert len(d.notices) == 1 and "ignored" in d.notices[0]


def test_utf8_check_reads_lc_ctype_precedence():
    from pymosh.frontend.locale_check import is_utf8_locale

    assert is_utf8_locale({"LANG": "C.UTF-8"})
    assert not is_utf8_locale({"LANG": "C"}) and not is_utf8_locale({})
    assert not is_utf8_locale({"LANG": "C.UTF-8", "LC_ALL": "C"})
    assert is_utf8_locale({"LANG": "C", "LC_CTYPE": "C.UTF-8", "LC_MESSAGES": "xx_YY"})
    assert not is_utf8_locale({"LC_CTYPE": "xx_NOWHERE.UTF-8"})


def test_original_environment_is_what_the_process_was_started_with():
    env = original_environ()
    assert env.get("PATH") == os.environ.get("PATH")
    os.environ["PYMOSH_TEST_LATE_VAR"] = "1"
    try:
        assert "PYMOSH_TEST_LATE_VAR" not in original_environ()
    finally:
        del os.environ["PYMOSH_TEST_LATE_VAR"]


# ------------------------------------------------------------------ statistics line


def stats(**over):
    base = dict(
        srtt=42.4,
        rttvar=7.0,
        rto=100,
        datagrams_sent=10,
        datagrams_received=9,
        bytes_sent=2048,
        bytes_received=3 * 1024 * 1024,
        retransmits=5,
        dropped=3,
        last_heard=1000.0,
        remote_addr=("127.0.0.1", 60001),
    )
    base.update(over)
    return SimpleNamespace(**base)


def test_format_stats():
    line = format_stats(stats(), 120, 4, 1500.0)
    assert line == (
        "RTT 42\u00b17 ms | lost 3 resent 5 | heard 0.5 s ago | "
        "predict 120 ok 4 wrong | up 2.0 KiB down 3.0 MiB | 127.0.0.1:60001"
    )
    line = format_stats(stats(last_heard=None, remote_addr=("::1", 60002), bytes_sent=5), 0, 0, 0)
    assert "heard never" in line and line.endswith("[::1]:60002") and "up 5 B" in line
    assert format_stats(stats(remote_addr=None), 0, 0, 200_000.0).endswith("no server address")
    assert "heard 3 min ago" in format_stats(stats(), 0, 0, 200_000.0)


def test_statistics_line_is_drawn_only_when_toggled():
    overlays = OverlayManager(0)
    overlays.stats.source = stats
    server = Emulator(100, 5)
    server.feed(b"$ ")
    frame = server.copy()
    overlays.apply(frame, 1500)
    assert frame == server and overlays.wait_time(1500) > 1000
    overlays.stats.toggle()
    frame = server.copy()
    overlays.apply(frame, 1500)
    bottom = "".join(frame.get_cell(4, c)[0] for c in range(100))
    assert bottom.startswith("RTT 42\u00b17 ms | lost 3") and overlays.wait_time(1500) == 1000
    assert frame.get_cell(0, 0)[0] == "$"
    overlays.stats.toggle()
    frame = server.copy()
    overlays.apply(frame, 1500)
    assert frame == server


def test_prediction_hits_and_misses_are_counted():
    overlays = OverlayManager(0, "always")
    predictions = overlays.predictions
    server = Emulator(40, 3)
    server.feed(b"$ ")
    screen = server.copy()
    for i, byte in enumerate(b"ab"):
        predictions.set_local_frame_sent(i)
        predictions.new_user_byte(byte, screen, 10 * i)
    server.feed(b"ax")  # "a" confirmed, "b" contradicted
    predictions.set_local_frame_late_acked(2)
    overlays.apply(server.copy(), 100)
    assert predictions.hits >= 1 and predictions.misses >= 1


def test_bootstrap_notes_the_detached_server_pid():
    boot = Bootstrap()
    boot.feed_line("MOSH CONNECT 60001 2yCnwwwd0L3sT9AjyQB4ag")
    boot.feed_trailer("[mosh-server detached, pid = 4242]\r\n")
    assert boot.server_pid == 4242
    boot.feed_trailer("[pymosh-server detached, pid = 17]")
    assert boot.server_pid == 17
