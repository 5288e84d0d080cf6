"""Hypothesis properties: totality, copies, and the display diff's round trip."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# pieces biased toward what terminals actually see; %d filled with small numbers
_PIECES = [
    "a",
    "bc",
    "xxxxxxxxxxxxxxx",
    "中",
    "😀",
    "e\u0301",
    "\u0302",
    "\r",
    "\n",
    "\b",
    "\t",
    "\x07",
    "\x1b[K",
    "\x1b[1K",
    "\x1b[2K",
    "\x1b[J",
    "\x1b[1J",
    "\x1b[2J",
    "\x1b[%dA",
    "\x1b[%dB",
    "\x1b[%dC",
    "\x1b[%dD",
    "\x1b[%d;%dH",
    "\x1b[%dL",
    "\x1b[%dM",
    "\x1b[%d@",
    "\x1b[%dP",
    "\x1b[%dX",
    "\x1b[%dS",
    "\x1b[%dT",
    "\x1b[%d;%dr",
    "\x1b[r",
    "\x1b[%dm",
    "\x1b[38;5;%dm",
    "\x1b[48;2;%d;%d;1m",
    "\x1b[1;4;7m",
    "\x1b[0m",
    "\x1bM",
    "\x1bD",
    "\x1bE",
    "\x1b7",
    "\x1b8",
    "\x1b[4h",
    "\x1b[4l",
    "\x1b[?6h",
    "\x1b[?6l",
    "\x1b[?25l",
    "\x1b[?25h",
    "\x1b[?1049h",
    "\x1b[?1049l",
    "\x1b]0;t%d\x07",
    "\x1b]1;i%d\x07",
    "\x1b]52;c;x%d\x07",
    "\x1b[?1000h",
    "\x1b[?1006h",
    "\x1b[?1000l",
    "\x1b[?2004h",
    "\x1b[?5h",
    "\x1b[?5l",
    "\x1bc",
    "\x1b#8",
    "\x1b[!p",
    "\x1b[?3h",
    "\x1b[%dI",
    "\x1b[%dZ",
    "\x1b[g",
    "\x1bH",
    "\x1b[3g",
    "\x1b[?1004h",
    "\x1b[?1015h",
    "\x1b[?9h",
]
_piece = st.builds(
    lambda p, nums: (p % tuple(nums[: p.count("%d")])).encode(),
    st.sampled_from(_PIECES),
    st.lists(st.integers(0, 12), min_size=3, max_size=3),
)
stream = st.lists(_piece, max_size=30).map(b"".join)
size = st.tuples(st.integers(3, 12), st.integers(1, 6))


@SETTINGS
@given(data=st.binary(max_size=300), w=st.integers(1, 20), h=st.integers(1, 8))
def test_any_bytes_never_crash(terminal_impl, data: bytes, w: int, h: int) -> None:
    emu = terminal_impl.Emulator(w, h)
    emu.feed(data)
    emu.resize(h + 1, w)
    emu.feed(data)
    d = emu.dump()
    assert 0 <= d["cursor"][0] < emu.height and 0 <= d["cursor"][1] < emu.width
    assert all(len(row) == emu.width for row in d["rows"])
    assert isinstance(terminal_impl.new_frame(True, terminal_impl.Emulator(w, h), emu), bytes)


@SETTINGS
@given(data=stream, more=stream, sz=size)
def test_copy_equals_and_is_independent(terminal_impl, data: bytes, more: bytes, sz) -> None:
    emu = terminal_impl.Emulator(*sz)
    emu.feed(data)
    copy = emu.copy()
    assert copy == emu
    assert copy.dump() == emu.dump()
    before = emu.dump()
    copy.feed(more + b"Z")
    assert emu.dump() == before


def visible(emu) -> dict:
    """dump() minus what the diff cannot carry (terminal.md 2.8, 4.1, 4.7): the wrap flag,
    region/origin/insert/auto-wrap/cursor-key/keypad modes, icon name, bell count (one BEL
    per frame), alternate-screen flag, contents of blank and fallback cells beyond their
    rendering, cells under a wide character's right half, and the wrap bit except as the
    soft-wrap of a row that is not the last and does not end in a wide character."""
    d = emu.dump()
    rows = []
    for y, row in enumerate(d["rows"]):
        cells, x = [], 0
        while x < len(row):
            contents, fg, bg, attrs, wide, fallback, _ = row[x]
            shown = (
                " "
                if contents in ("", " ", "\u00a0")
                else ("\u00a0" + contents if fallback else contents)
            )
            cells.append((x, shown, fg, bg, attrs, wide))
            x += 2 if wide else 1
        soft = bool(row[-1][6]) and y < len(d["rows"]) - 1 and not (len(row) > 1 and row[-2][4])
        rows.append((cells, soft))
    modes = d["modes"]
    return {
        "size": d["size"],
        "cursor": d["cursor"],
        "cursor_visible": d["cursor_visible"],
        "rows": rows,
        "renditions": d["renditions"],
        "title": d["title"],
        "clipboard": d["clipboard"],
        "modes": {
            k: modes[k]
            for k in (
                "reverse_video",
                "bracketed_paste",
                "mouse_reporting",
                "mouse_focus_event",
                "mouse_encoding",
            )
        },
    }


def representable(emu) -> bool:
    """Mosh's differ cannot express a wide character in the last column."""
    return not any(row[-1][4] for row in emu.dump()["rows"])


@SETTINGS
@given(first=stream, second=stream, sz=size, resize=st.none() | size)
def test_new_frame_round_trip(terminal_impl, first: bytes, second: bytes, sz, resize) -> None:
    a = terminal_impl.Emulator(*sz)
    a.feed(first)
    b = a.copy()
    b.feed(second)
    if resize:
        b.resize(*resize)
        b.feed(second)
    assume(representable(a) and representable(b))
    # the receiver holds A the way a client does: built only from diffs
    receiver = terminal_impl.Emulator(*sz)
    receiver.feed(terminal_impl.new_frame(False, terminal_impl.Emulator(*sz), a))
    assert visible(receiver) == visible(a)
    if (b.width, b.height) != (a.width, a.height):
        receiver.resize(b.width, b.height)
    receiver.feed(terminal_impl.new_frame(True, a, b))
    assert visible(receiver) == visible(b)
    assert receiver.take_replies() == b""


@SETTINGS
@given(data=stream, sz=size)
def test_chunking_does_not_matter(terminal_impl, data: bytes, sz) -> None:
    whole = terminal_impl.Emulator(*sz)
    whole.feed(data)
    pieces = terminal_impl.Emulator(*sz)
    for i in range(0, len(data), 3):
        pieces.feed(data[i : i + 3])
    assert pieces.dump() == whole.dump()
