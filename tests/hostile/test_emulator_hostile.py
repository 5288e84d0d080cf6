"""Hostile host output at the emulator level: fuzz-target smoke runs on both
implementations, bounded memory under endless OSC / giant parameters, and the known
frame round-trip cases the display fuzzer found (now fixed; kept as regressions)."""

from __future__ import annotations

import gc
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile._fuzzload import load
from tests.support.procs import proc_rss_kb

common = load("common")
fuzz_emulator = load("fuzz_emulator")
fuzz_display = load("fuzz_display")

SMOKE = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# bytes that make up escape sequences, so random streams hit the parser's states
VT_ALPHABET = (
    b"\x1b\x1b\x1b[[[]];;?0123456789mHJKABCDhlrcnPX\\^_@`dfgqstu\x07\x08\n\r\t"
    b" abcxyz\x18\x1a\x7f\x9b\x9c\x9d\x90\x84\x85\xc3\xa9\xe2\x94\x80\xe4\xb8\x96"
    b"\xf0\x9f\x98\x80\xcc\x81\xff"
)
vt_streams = st.lists(st.sampled_from(list(VT_ALPHABET)), max_size=300).map(bytes)


# ---------------------------------------------------------------- fuzz smoke runs


def test_emulator_corpus(terminal_impl):
    for seed in common.corpus("emulator"):
        fuzz_emulator.check(seed, [terminal_impl])


@SMOKE
@given(head=st.binary(min_size=3, max_size=3), stream=vt_streams | st.binary(max_size=300))
def test_emulator_chunking_and_copy(terminal_impl, head, stream):
    fuzz_emulator.check(head + stream, [terminal_impl])


@settings(SMOKE, max_examples=60)
@given(head=st.binary(min_size=3, max_size=3), stream=vt_streams)
def test_emulator_implementations_agree(head, stream):
    impls = common.implementations("terminal")
    fuzz_emulator.check(head + stream, impls)


def test_display_corpus(terminal_impl):
    for seed in common.corpus("display"):
        fuzz_display.check(seed, [terminal_impl])


@SMOKE
@given(head=st.binary(min_size=6, max_size=6), stream=vt_streams)
def test_display_round_trip(terminal_impl, head, stream):
    fuzz_display.check(head + stream, [terminal_impl])


@settings(SMOKE, max_examples=60)
@given(head=st.binary(min_size=6, max_size=6), stream=vt_streams)
def test_display_implementations_agree(head, stream):
    fuzz_display.check(head + stream, common.implementations("terminal"))


# ---------------------------------------------------------------- bounded memory


def _rss_kb() -> int:
    return proc_rss_kb(os.getpid())


MB = 1_000_000
HOSTILE_STREAMS = {
    # OSC text that never ends (kept to 16384 code points, terminal.md §2.3)
    "endless-osc": (b"\x1b]0;", b"A" * 65536),
    # the same as an OSC 52 clipboard, with multi-byte characters
    "endless-osc52": (b"\x1b]52;c;", "é世".encode() * 10000),
    # one CSI with an unbounded parameter string (kept to 100 chars)
    "giant-csi-params": (b"\x1b[", b"1234567890;" * 6000),
    # DCS / APC strings that never end
    "endless-dcs": (b"\x1bP", b"q#0;2;0;0;0#1" * 5000),
    "endless-apc": (b"\x1b_", b"G" * 65536),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HOSTILE_STREAMS))
def test_unterminated_strings_use_bounded_memory(terminal_impl, name):
    """50 MB of hostile output that never terminates: the process's RSS does not grow
    with it (a retained copy would add >= 50 MB) and the emulator keeps working.
    (The twin parses CSI parameters at ~1.6 s/MB, so it gets 3 MB of those.)"""
    head, chunk = HOSTILE_STREAMS[name]
    total = (
        3 * MB
        if (name == "giant-csi-params" and terminal_impl.__name__.startswith("pymosh"))
        else 50 * MB
    )
    emu = terminal_impl.Emulator(80, 24)
    emu.feed(head)
    emu.feed(chunk)  # warm up caches before measuring
    gc.collect()
    before = _rss_kb()
    fed = len(chunk)
    while fed < total:
        emu.feed(chunk)
        fed += len(chunk)
    growth = _rss_kb() - before
    assert growth < 16 * 1024, f"{name}: RSS grew {growth} kB over {fed} bytes"
    # the string ends; the terminal still works afterwards
    emu.feed(b"\x07\x1b\\\x18\x1b[H\x1b[2Jok")
    assert "".join(emu.get_cell(0, c)[0] for c in range(2)) == "ok"
    dump = emu.dump()
    assert len(dump["title"]) <= 16384 and len(dump["clipboard"]) <= 16384 * 4


@pytest.mark.parametrize(
    "params",
    [
        b"99999999999999999999999999",
        b"4294967296;4294967296",
        b";" * 5000,
        b"1;" * 5000 + b"31",
        b"-1",
        b"38;5;99999;48;2;999;999;999",
    ],
)
@pytest.mark.parametrize("final", list(b"@ABCDEFGHIJKLMPSTXZ`abcdefghlmnqrsu"))
def test_giant_csi_parameters(terminal_impl, params, final):
    emu = terminal_impl.Emulator(80, 24)
    emu.feed(b"\x1b[" + params + bytes([final]) + b"x")
    emu.feed(b"\x1b[?" + params + bytes([final]))
    emu.take_replies()
    d = emu.dump()
    assert d["size"] == (80, 24)
    assert 0 <= d["cursor"][0] < 24 and 0 <= d["cursor"][1] < 80


def test_giant_resizes_are_clamped(terminal_impl):
    emu = terminal_impl.Emulator(80, 24)
    for w, h in ((0, 0), (1, 1), (100000, 3), (3, 100000), (-5, -5)):
        try:
            emu.resize(w, h)
        except ValueError:
            continue  # refusing is fine; running out of memory is not
        width, height = emu.dump()["size"]
        assert width * height <= 4 * 1024 * 1024
        emu.feed(b"\x1b[999;999Hx\x1b[2J")


@pytest.mark.parametrize(
    ("asked", "got"),
    [
        ((0, 0), (1, 1)),
        ((-5, 3), (1, 3)),
        ((1024, 1024), (1024, 1024)),
        ((1025, 7), (1024, 7)),
        ((4096, 4096), (1024, 1024)),
        ((100000, 100000), (1024, 1024)),
    ],
)
def test_window_size_cap(terminal_impl, asked, got):
    """An authenticated client can ask for any size; it gets at most 1024x1024 cells."""
    emu = terminal_impl.Emulator(*asked)
    assert (emu.width, emu.height) == got
    emu = terminal_impl.Emulator(80, 24)
    emu.resize(*asked)
    assert (emu.width, emu.height) == got
    emu.feed(b"\x1b[9999;9999Hx\x1b[2J\x1b[9999@")
    assert emu.cursor_row == got[1] - 1 and emu.cursor_col == got[0] - 1


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("x" * 39, "x" * 39),
        ("x" * 40, "x" * 39),
        ("中" * 14, "中" * 13),
        ("e" + "\u0301" * 30, "e" + "\u0301" * 19),
        ("a\ud800b", "a" + "\ufffd" * 3 + "b"),
        ("\U0001f600" * 10, "\U0001f600" * 9),
    ],
)
def test_long_cell_text_is_cut_at_39_bytes(terminal_impl, text, kept):
    """set_cell keeps at most 39 UTF-8 bytes, whole characters, in both implementations."""
    emu = terminal_impl.Emulator(4, 2)
    emu.set_cell(0, 1, text, 31, 0, 1)
    assert emu.get_cell(0, 1)[0] == kept
    emu.feed(b"\x1b[1;2H\xcc\x81")  # a mark on a full cell (32+ bytes) is dropped
    assert emu.get_cell(0, 1)[0] == (kept if len(kept.encode()) >= 32 else kept + "\u0301")
    frame = terminal_impl.new_frame(False, terminal_impl.Emulator(4, 2), emu)
    assert kept.encode() in frame


# ---------------------------------------------------------------- found by fuzz_display


def _visible_with_wrap(emu):
    return [[(c[0] or " ",) + c[1:5] + (c[6],) for c in row] for row in emu.dump()["rows"]]


def test_frame_keeps_wrap_flag_after_pending_wrap(terminal_impl):
    e = terminal_impl
    a = e.Emulator(80, 24)
    a.feed("世界".encode() * 20)  # 40 wide characters: exactly full, pending wrap
    b = a.copy()
    b.feed("x世".encode() * 10)  # wraps: row 0 gets its wrap flag
    client = e.Emulator(80, 24)
    client.feed(e.new_frame(False, e.Emulator(80, 24), a))
    client.feed(e.new_frame(True, a, b))
    assert _visible_with_wrap(client) == _visible_with_wrap(b)


def test_frame_keeps_wrap_flag_one_column(terminal_impl):
    e = terminal_impl
    b = e.Emulator(1, 6)
    b.feed(b";J9")
    client = e.Emulator(1, 6)
    client.feed(e.new_frame(False, e.Emulator(1, 6), b))
    assert _visible_with_wrap(client) == _visible_with_wrap(b)


def test_frame_wide_char_cut_by_resize(terminal_impl):
    e = terminal_impl
    a = e.Emulator(79, 24)
    a.feed("lie6b\ufffd\ufffd\ufffd疕".encode())  # the wide character sits in columns 8-9
    b = a.copy()
    b.resize(9, 30)  # column 9 is cut off
    client = e.Emulator(79, 24)
    client.feed(e.new_frame(False, e.Emulator(79, 24), a))
    client.resize(9, 30)
    client.feed(e.new_frame(True, a, b))
    assert [[c[0] or " " for c in row] for row in client.dump()["rows"]] == [
        [c[0] or " " for c in row] for row in b.dump()["rows"]
    ]
