"""The Cython terminal (``_fastpath.terminal``) against its pure-Python twin.

Random byte streams biased toward escape sequences, OSC strings, UTF-8 (valid and
broken) and controls are fed to both implementations in random chunkings; the
``dump()`` of both must be identical after every step. Random frame pairs must give
byte-identical ``new_frame`` output on both, and on a benign alphabet the diff must
round-trip (applying it to a receiver holding the old frame shows the new one).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pymosh import _accel
from pymosh.terminal import emulator as twin

fast = _accel.fast_module("terminal")
if fast is None:
    if os.environ.get("PYMOSH_REQUIRE_EXTENSIONS") == "1" and not _accel.NO_EXTENSIONS:
        raise RuntimeError("_fastpath.terminal is not built but PYMOSH_REQUIRE_EXTENSIONS=1")
    pytest.skip("_fastpath.terminal not built", allow_module_level=True)

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- byte-stream strategies ------------------------------------------------------------
_params = st.lists(
    st.one_of(st.integers(0, 12), st.integers(0, 300), st.sampled_from([65535, 65536, 99999999])),
    max_size=6,
).map(lambda ps: ";".join(str(p) for p in ps))
_csi_final = st.sampled_from(list("@ABCDEFGHIJKLMPSTXZ`cdfghlmnqrstu") + ["\x7f", "中"])
_csi = st.builds(
    lambda lead, prefix, params, inter, final: (lead + prefix + params + inter + final).encode(
        "utf-8"
    ),
    st.sampled_from(["\x1b[", "\x1b[", "\xc2\x9b"]).map(
        lambda s: s if s != "\xc2\x9b" else "\u009b"
    ),
    st.sampled_from(["", "", "?", ">", "!", "=", ":", "<"]),
    _params,
    st.sampled_from(["", "", " ", "!", "$", ":", "1"]),
    _csi_final,
)
_modes = st.lists(
    st.sampled_from(
        [
            1,
            3,
            4,
            5,
            6,
            7,
            9,
            25,
            47,
            1000,
            1001,
            1002,
            1003,
            1004,
            1005,
            1006,
            1007,
            1015,
            1047,
            1049,
            2004,
            12,
        ]
    ),
    min_size=1,
    max_size=3,
)
_decset = st.builds(
    lambda ms, hl: ("\x1b[?" + ";".join(map(str, ms)) + hl).encode(),
    _modes,
    st.sampled_from(["h", "l"]),
)
_sgr = st.lists(
    st.sampled_from(
        [
            "0",
            "1",
            "3",
            "4",
            "5",
            "7",
            "8",
            "22",
            "23",
            "24",
            "27",
            "31",
            "39",
            "42",
            "49",
            "95",
            "104",
            "38;5;200",
            "48;5;3",
            "38;2;1;2;3",
            "48;2;300;0;70000",
            "38;5",
            "38;2;1",
            "",
        ]
    ),
    max_size=4,
).map(lambda xs: ("\x1b[" + ";".join(xs) + "m").encode())
_osc = st.builds(
    lambda body, end: b"\x1b]" + body.encode("utf-8") + end,
    st.sampled_from(
        [
            "0;title",
            "1;icon",
            "2;win",
            ";semi",
            "52;c;aGVsbG8=",
            "52;p;x",
            "10;x",
            "0;" + "t" * 300,
            "2;中文",
            "8;;url",
            "52;p;eA==",
            "52;;aGk=",
            "52;cp7;eHl6",
            "52;c;?",
            "52;s;?",
            "52;q;e",
            "52;c",
            "52;x;eA==",
            "52;0;",
            "52;c;" + "QQ" * 9000,
        ]
    ),
    st.sampled_from([b"\x07", b"\x1b\\", b"\xc2\x9c", b"\x18", b""]),
)
_esc = st.sampled_from(
    [
        b"\x1b7",
        b"\x1b8",
        b"\x1bc",
        b"\x1b#8",
        b"\x1bD",
        b"\x1bE",
        b"\x1bH",
        b"\x1bM",
        b"\x1b=",
        b"\x1b>",
        b"\x1b(0",
        b"\x1bP1;2qdata",
        b"\x1b\\",
        b"\x1bX sos \x9c",
        b"\x1b_apc\x1b\\",
        b"\x1b\xe4\xb8\xad",
        b"\x1b \x1b!",
        b"\x1bZ",
        b"\x1bN",
        b"\x1b[5n",
        b"\x1b[6n",
        b"\x1b[c",
        b"\x1b[>c",
        b"\x1b[0c",
    ]
)
_text = st.sampled_from(
    [
        b"hello",
        b"0123456789",
        b"abcdefghijklmnopqrstuvwxyz",
        b" ",
        "中文字".encode(),
        "é".encode(),
        "e\u0301".encode(),
        "\u0302".encode(),
        "\U0001f600".encode(),
        "\u200b".encode(),
        "\U0001f1e6".encode(),
        "\u00ad".encode(),
        "\ufe0f".encode(),
        "x\u0300\u0301\u0302\u0303\u0304\u0305\u0306\u0307\u0308\u0309\u030a"
        "\u030b\u030c\u030d\u030e\u030f".encode(),
    ]
)
_broken = st.sampled_from(
    [
        b"\xc0\x80",
        b"\xc2A",
        b"\xe0\x80\x80",
        b"\xed\xa0\x80",
        b"\xf0\x80\x80\x80",
        b"\xf4\x90\x80\x80",
        b"\xf8\x88\x80\x80\x80",
        b"\xfc\x84\x80\x80\x80\x80",
        b"\xff",
        b"\x80",
        b"\xe4\xb8",
        b"\xc2\x80",
        b"\xc2\x85",
        b"\xc2\x88",
        b"\xc2\x8d",
        b"\xc2\x90x",
        b"\xc2\x98",
        b"\xc2\x9d0;t\xc2\x9c",
    ]
)
_ctl = st.sampled_from(
    [
        b"\r",
        b"\n",
        b"\r\n",
        b"\t",
        b"\x08",
        b"\x07",
        b"\x00",
        b"\x0b",
        b"\x0c",
        b"\x0e",
        b"\x0f",
        b"\x18",
        b"\x1a",
        b"\x1b",
        b"\x7f",
    ]
)
fragment = st.one_of(
    _csi, _csi, _decset, _sgr, _osc, _esc, _text, _text, _broken, _ctl, st.binary(max_size=8)
)
stream = st.lists(fragment, max_size=40).map(b"".join)


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, prev = [], 0
    for p in points + [len(data)]:
        out.append(data[prev:p])
        prev = p
    return out


def _both(w: int, h: int):
    return fast.Emulator(w, h), twin.Emulator(w, h)


sizes = st.tuples(st.integers(1, 12), st.integers(1, 6))
# sizes past the 1..1024 clamp, one side small so a dump stays cheap
_clamped_sizes = st.sampled_from([(0, 0), (-1, 3), (100000, 2), (3, 5000), (1025, 1)])
# cell texts around the 39-byte cap (both cut at a character boundary), lone surrogates
_cell_texts = st.sampled_from(
    [
        "",
        "a",
        "中",
        "e\u0301" * 7,
        "x" * 39,
        "x" * 40,
        "中" * 14,
        "e" + "\u0301" * 25,
        "\U0001f600" * 11,
        "a\ud800b" * 9,
    ]
) | st.text(max_size=30)


@SETTINGS
@given(size=sizes, data=stream, cuts=st.lists(st.integers(0, 10_000), max_size=8))
def test_random_streams_dump_identical(size, data, cuts):
    c, p = _both(*size)
    for chunk in _chunks(data, cuts):
        c.feed(chunk)
        p.feed(chunk)
        assert c.dump() == p.dump()
    assert c.take_replies() == p.take_replies()


@SETTINGS
@given(
    size=sizes,
    data=st.lists(
        stream | st.sampled_from([b"\r\n" * 9, b"\x1b[3J", b"\x1b[9S", b"\x1b[H\x1b[3M"]),
        max_size=6,
    ).map(b"".join),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
    limit=st.integers(0, 8),
    takes=st.lists(st.integers(-1, 4), max_size=8),
)
def test_history_identical(size, data, cuts, limit, takes):
    """Taken whole or in part (the rest stays pending: the ring fills, evicts and hands
    its rows back as blank rows), the lines and the screen agree."""
    c, p = _both(*size)
    c.set_history_limit(limit)
    p.set_history_limit(limit)
    for i, chunk in enumerate(_chunks(data, cuts)):
        c.feed(chunk)
        p.feed(chunk)
        n = takes[i] if i < len(takes) and takes[i] >= 0 else None
        assert c.take_history(n) == p.take_history(n)
        assert c.history_pending == p.history_pending <= limit
        assert c.dump() == p.dump()
    assert c.take_history() == p.take_history()


def test_history_identical_on_corpus():
    from tests.terminal.corpus import CASES

    for case in CASES:
        c, p = _both(case.width, case.height)
        c.set_history_limit(7)
        p.set_history_limit(7)
        for i in range(0, len(case.data), 5):
            c.feed(case.data[i : i + 5])
            p.feed(case.data[i : i + 5])
            assert c.take_history() == p.take_history(), case.name


@pytest.mark.parametrize("name", ["sgr_ls", "utf8_wide", "truecolor"])
def test_history_identical_through_the_arena(name):
    """Enough rows of colours, wide characters and 24-bit colour to make the fast path's
    arena grow, compact and evict, taken in uneven portions: the same lines as the twin."""
    from bench.corpus import make_corpus

    data = make_corpus(name, 256 << 10).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    c, p = _both(80, 24)
    c.set_history_limit(300)
    p.set_history_limit(300)
    for n, i in enumerate(range(0, len(data), 4096)):
        c.feed(data[i : i + 4096])
        p.feed(data[i : i + 4096])
        take = None if n % 5 == 4 else (n * 37) % 120
        assert c.take_history(take) == p.take_history(take)
        assert c.history_pending == p.history_pending
    assert c.take_history() == p.take_history()
    assert c.history_pending_bytes == p.history_pending_bytes == 0


@SETTINGS
@given(size=sizes, data=stream, cuts=st.lists(st.integers(0, 10_000), max_size=8))
def test_chunked_equals_one_shot(size, data, cuts):
    one, _ = _both(*size)
    one.feed(data)
    chunked, _ = _both(*size)
    for chunk in _chunks(data, cuts):
        chunked.feed(chunk)
    assert chunked.dump() == one.dump()
    assert chunked.take_replies() == one.take_replies()


def test_chunked_every_split_point():
    data = (
        "\x1b[1;31mred\x1b]0;t\xe4\x07中\u0302\x1b[?1049h\x1b[5;2H\xc2\x9b2Jx\x1b[38;2;1;2;3mq"
    ).encode("utf-8") + b"\xe0\x80\xff\x1bP1$q\x1b\\ok"
    ref, _ = _both(8, 4)
    ref.feed(data)
    for i in range(len(data) + 1):
        for j in range(i, len(data) + 1, 3):
            e, _ = _both(8, 4)
            e.feed(data[:i])
            e.feed(data[i:j])
            e.feed(data[j:])
            assert e.dump() == ref.dump(), (i, j)


@SETTINGS
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("feed"), stream),
            st.tuples(st.just("resize"), sizes | _clamped_sizes),
            st.tuples(st.just("copy"), st.none()),
            st.tuples(st.just("cursor"), st.tuples(st.integers(-3, 20), st.integers(-3, 20))),
            st.tuples(
                st.just("set_cell"), st.tuples(st.integers(0, 5), st.integers(0, 11), _cell_texts)
            ),
            st.tuples(st.just("input"), st.binary(max_size=6)),
            st.tuples(st.just("history"), st.integers(0, 5)),
            st.tuples(st.just("take"), st.integers(0, 3)),
            st.tuples(st.just("scroll"), st.integers(1, 9)),
        ),
        max_size=12,
    ),
    size=sizes,
)
def test_random_operations_identical(ops, size):
    c, p = _both(*size)
    for op, arg in ops:
        if op == "feed":
            c.feed(arg)
            p.feed(arg)
        elif op == "resize":
            c.resize(*arg)
            p.resize(*arg)
        elif op == "copy":
            c, p = c.copy(), p.copy()
        elif op == "cursor":
            c.cursor_row, c.cursor_col = arg
            p.cursor_row, p.cursor_col = arg
        elif op == "set_cell":
            y, x, s = arg
            if y < c.height and x < c.width:
                c.set_cell(y, x, s, 31, 0x1000102, 5, len(s) == 1 and s == "中")
                p.set_cell(y, x, s, 31, 0x1000102, 5, len(s) == 1 and s == "中")
        elif op == "history":
            c.set_history_limit(arg)
            p.set_history_limit(arg)
        elif op == "take":
            assert c.take_history(arg) == p.take_history(arg)
        elif op == "scroll":
            c.feed(b"\n" * arg)
            p.feed(b"\n" * arg)
        else:
            assert c.translate_input(arg) == p.translate_input(arg)
        assert c.history_pending == p.history_pending
        assert c.dump() == p.dump()
        assert (c.cursor_row, c.cursor_col, c.cursor_visible) == (
            p.cursor_row,
            p.cursor_col,
            p.cursor_visible,
        )
    for y in range(c.height):
        for x in range(c.width):
            assert c.get_cell(y, x) == p.get_cell(y, x)
    assert c.take_history() == p.take_history()


@SETTINGS
@given(
    size=sizes,
    first=stream,
    second=stream,
    shared=st.booleans(),
    init=st.booleans(),
    resize=st.one_of(st.none(), sizes),
)
def test_new_frame_byte_identical(size, first, second, shared, init, resize):
    c_old, p_old = _both(*size)
    c_old.feed(first)
    p_old.feed(first)
    if shared:  # the server's way: the new state is a copy of the old one, fed more
        c_new, p_new = c_old.copy(), p_old.copy()
    else:
        c_new, p_new = _both(*size)
    if resize is not None:
        c_new.resize(*resize)
        p_new.resize(*resize)
    c_new.feed(second)
    p_new.feed(second)
    assert c_new.dump() == p_new.dump()
    assert (c_new == c_old) == (p_new == p_old)
    assert fast.new_frame(init, c_old, c_new) == twin.new_frame(init, p_old, p_new)
    for kw in (
        {"has_ech": False},
        {"has_bce": False},
        {"has_title": False},
        {"clipboard_selections": True},
        {"scroll_below_top": True},
    ):
        assert fast.new_frame(init, c_old, c_new, **kw) == twin.new_frame(init, p_old, p_new, **kw)


# -- round trip on a benign alphabet ------------------------------------------------------
# No wide characters here: half-overwritten wide characters leave stray cells that Mosh's
# differ never draws (terminal.md 2.4 "Not handled", 4.7-7), on both implementations.
_benign = st.lists(
    st.one_of(
        st.sampled_from(
            [
                b"hello",
                b"0123456789",
                b"ab",
                b" ",
                b"\r\n",
                b"\r",
                b"\n",
                b"\x1b[K",
                b"\x1b[2K",
                b"\x1b[J",
                b"\x1b[2J",
                b"\x1b[1J",
                b"\x1b[L",
                b"\x1b[M",
                b"\x1b[2S",
                b"\x1b[T",
                b"\x1b[3X",
                b"\x1b[P",
                b"\x1b[2@",
                b"\x1b[0m",
                b"\x1b[1;44m",
                b"\x1b[7;38;5;200m",
                b"\x1b[48;2;9;8;7m",
                b"\x1b[?25l",
                b"\x1b[?25h",
                b"\x1b[?2004h",
                b"\x1b[?1000h",
                b"\x1b[?1006h",
                b"\x1b[?5h",
                b"\x1b[2;3r",
                b"\x1b[r",
                b"\x07",
                b"\x1b]0;t\x07",
                b"\x1b]52;c;eA==\x07",
            ]
        ),
        st.builds(lambda y, x: b"\x1b[%d;%dH" % (y, x), st.integers(1, 7), st.integers(1, 13)),
    ),
    max_size=30,
).map(b"".join)


def _visible(e) -> tuple:
    d = e.dump()
    rows = []
    for row in d["rows"]:
        cells = []
        skip = False
        for cell in row:
            if skip:  # the cell under a wide character's right half is never drawn
                skip = False
                continue
            contents = cell[0] if cell[0] not in ("", " ") else " "
            cells.append((contents, cell[1], cell[2], cell[3], cell[4]))
            skip = cell[4]
        rows.append(cells)
    return rows, d["cursor"], d["cursor_visible"], d["renditions"]


@pytest.mark.parametrize("impl", ["c", "py"])
@SETTINGS
@given(
    size=st.tuples(st.integers(2, 12), st.integers(1, 6)),  # 1 column cannot hold a wide char
    first=_benign,
    second=_benign,
    shared=st.booleans(),
)
def test_new_frame_round_trips(impl, size, first, second, shared):
    mod = fast if impl == "c" else twin
    old = mod.Emulator(*size)
    old.feed(first)
    new = old.copy() if shared else mod.Emulator(*size)
    new.feed(second)
    for below_top in (False, True):
        receiver = mod.Emulator(*size)
        receiver.feed(mod.new_frame(False, mod.Emulator(*size), old))
        assert _visible(receiver) == _visible(old)
        receiver.set_history_limit(100)
        receiver.feed(mod.new_frame(True, old, new, scroll_below_top=below_top))
        assert _visible(receiver) == _visible(new)
        assert receiver.take_replies() == b""
        if below_top:  # (the client's history holds the server's lines only)
            assert receiver.take_history()[1] == []


def test_copy_is_independent_and_equal():
    e = fast.Emulator(10, 3)
    e.feed(b"abc\r\ndef")
    c = e.copy()
    assert c == e
    c.feed(b"X")
    assert c != e
    assert e.get_cell(1, 3)[0] == ""
    assert c.get_cell(1, 3)[0] == "X"
    e.feed(b"\x1b[H\x1b[2J")
    assert c.get_cell(0, 0)[0] == "a"


def test_width_table_matches_twin():
    from pymosh.terminal.width import char_width

    probes = [
        0,
        0x7F,
        0xAD,
        0x300,
        0x1100,
        0x1160,
        0x200B,
        0x2028,
        0x3000,
        0x4E2D,
        0xE000,
        0xFE0F,
        0xFFFD,
        0x1F1E6,
        0x1F600,
        0x10FFFF,
        0x110000,
        0xE33,
    ]
    probes += list(range(0x2E80, 0x2F00)) + list(range(0x1F300, 0x1F700, 7))
    for cp in probes:
        assert fast._char_width(cp) == char_width(cp), hex(cp)


@pytest.mark.parametrize(
    "data",
    [
        b"abcdef\rXY",  # printed over from the first column
        b"abcdef\x1b[3DZ",  # back, then over
        b"abc\x1b[1K",  # erased
        b"abcdef\x1b[2G\x1b[2P",  # DCH
        b"abcdef\x1b[2G\x1b[2@",  # ICH
        b"ab\xcc\x81c",  # a combining mark on a printed cell
        b"ab\tc",  # a jump over blank cells
        b"a\x1b[31mb\x1b[1;44mc\x1b[0md",  # renditions changing at every cell
        b"\x1b[44m\x1b[Kab\x1b[0m",  # coloured blanks first
        b"ab\x1b[4hXY\x1b[4l",  # insert mode
        b"abc\x1b[2X",  # ECH after the text
        b"0123456789abc",  # wraps: the next row goes on in ASCII
        b"012345678\xe4\xb8\x80b",  # a wide character at the edge
        b"ab\x1b#8",  # DECALN
        b"ab\x1b[?1049hxy\x1b[?1049lcd",  # the alternate screen in between
        b"ab\x1b[2;3Hcd\x1b[1;3Hef",  # away and back to where the row ended
    ],
)
@pytest.mark.parametrize("piece", [1, 64])
def test_history_identical_for_rows_printed_then_changed(data, piece):
    """The fast path keeps a row's history record as characters are printed left to
    right and copies it when the row leaves; any other change to the row must end it
    (the rows taken agree with the twin's, which renders each row as it leaves)."""
    c, p = _both(10, 3)
    for emu in (c, p):
        emu.set_history_limit(50)
        stream = data + b"\r\n" * 4
        for i in range(0, len(stream), piece):
            emu.feed(stream[i : i + piece])
    assert c.take_history() == p.take_history()


KEPT = [  # rows the fast path's record covers: written left to right, any cells
    "\x1b[38;2;1;2;3;48;2;4;5;6m▀\x1b[38;2;7;8;9m▀▀\x1b[0m",  # 24-bit colour
    "\x1b[38;5;208mé\x1b[48;5;3m中\x1b[1;4;7mü\x1b[0mb",  # 256 colours, attributes
    "ab中\u0301",  # a combining mark on the wide character printed last
    "a\u0301b\u0308\u0323",  # ... on ASCII cells, stacked
    "e" + "\u0301" * 12,  # a cluster past the cell's inline bytes
    "x" + "\u0301" * 25,  # ... and past its 32-byte cap
    "\u2764\ufe0f\U0001f468\u200d\U0001f469",  # emoji, variation selector, ZWJ
    "\x1b[31mabc\b\x1b[32mX",  # the last cell printed over, other renditions
    "a\x1b[31mb\b\x1b[0mX",  # ... its style record goes with it
    "\x1b[31mab\x1b[0mc\b\x1b[31mX",  # ... the renditions before it come back
    "\x1b[31mé\x1b[0mü\b\x1b[31mX",  # ... after non-ASCII cells
    "\x1b[31m中\x1b[0m文\b\b\x1b[31m字",  # ... wide ones
    "中\bX",  # the right half of a wide character printed over
    "ab中\x1b[K",  # EL past the end (grep --color)
    "\x1b[01;31m\x1b[Kmatch\x1b[m\x1b[K rest",  # grep --color, whole
    "ab中\x1b[44m\x1b[K\x1b[0m",  # EL past the end in a colour: coloured blanks
    "abcdef\x1b[1D\x1b[K",  # EL of the last cell
    "abc\b\x1b[X",  # ECH of the last cell
    "ab\x1b[3X",  # ECH past the end
    "é\tb",  # a tab over blank cells
    "é\x1b[3Cb",  # CUF over blank cells
]


@pytest.mark.parametrize("data", KEPT)
def test_carried_record_is_the_encoding_of_the_row(data):
    """A row the fast path's record covers leaves as the same bytes in the arena as the
    same row encoded cell by cell: printed a second time from its first column (which ends
    the record: the row is encoded when it leaves), the row's cells are the same."""
    once, twice = fast.Emulator(10, 3), fast.Emulator(10, 3)
    for emu, stream in ((once, data), (twice, data + "\r" + data)):
        emu.set_history_limit(50)
        emu.feed(stream.encode() + b"\r\n\r\n\r\n")
    assert once.dump() == twice.dump()
    assert once.history_pending_bytes == twice.history_pending_bytes
    assert once.take_history() == twice.take_history()


@pytest.mark.parametrize(
    "data",
    KEPT
    + [
        "ab\x1b[C\u0301",  # a combining mark on a blank cell past the end
        "\x1b[35m0123456789中abc",  # a wrap in a colour
        "é12345678中x",  # a wide character wrapping early
        # ended: a write before the last printed cell
        "ab中cd\x1b[4D\u0301",  # a combining mark further back
        "ab\x1b[31mcd\x1b[2D\x1b[0mXY",  # printed over two cells back
        "abcdef\x1b[3D\x1b[K",  # EL inside the row
        "中文\x1b[2G\x1b[2P",  # DCH
        "0123456789\x1b[2G\x1b[2P",  # ... in a full row (``used`` stays where it was)
        "0123456789\x1b[2G\x1b[2@",  # ICH in a full row
        "01234567é\x1b[1G\x1b[4hX\x1b[4l",  # insert mode in a full row
        "0123456789\x1b#8",  # DECALN after a full row
        "é\x1b[1G\x1b[@",  # ICH
        "é\x1b[4hXY\x1b[4l",  # insert mode
        "ab\x1b[1K",  # EL to the start
        "é中\x1b#8",  # DECALN
        "\x1b[44m\x1b[2Kab\x1b[0m",  # a row blanked in a colour first
        "".join(f"\x1b[3{i % 8}me" + "\u0301" * 12 for i in range(10)),  # past the cap
        "中\x1b[?1049hxy\x1b[?1049l文",  # the alternate screen in between
    ],
)
@pytest.mark.parametrize("piece", [1, 3, 64])
def test_history_identical_for_any_row_printed_then_changed(data, piece):
    """The fast path's carried record covers cells of any kind written left to right
    (and rewrites of the last printed one); anything else ends it. Either way the rows
    taken are the twin's, which renders each row as it leaves."""
    stream = data.encode() + b"\r\n" * 4
    c, p = _both(10, 3)
    for emu in (c, p):
        emu.set_history_limit(50)
        for i in range(0, len(stream), piece):
            emu.feed(stream[i : i + piece])
    assert c.take_history() == p.take_history()


RECORDED = [  # what a record holds (the row's text) and what rendering it trims
    "ab   ",  # trailing spaces: trimmed
    "ab\x1b[3C",  # trailing empty cells (``used`` past the text): trimmed
    "a \x1b[Cb",  # a space and an empty cell inside: kept, both as spaces
    "\x1b[31mab\x1b[0m   ",  # trailing blanks after a change back: they and its SGR go
    "\x1b[31mab\x1b[0m \x1b[44m \x1b[0m  ",  # a coloured blank among them stays
    "\x1b[31mab\x1b[0m\x1b[3C",  # empty cells after a change back
    "\x1b[31mab   ",  # trailing spaces in a colour: kept
    "\x1b[1mab\x1b[0m  ",  # ... an attribute: the same
    "\x1b[38;2;32;32;32;48;2;255;255;255mx\x1b[0m  ",  # style bytes of spaces and 0xFF
    "\x1b[38;5;255;48;5;32mx\x1b[0m y  ",  # ... in 256 colours
    "\x1b[7m\x1b[0m  ",  # a change with no cell after it: nothing
    "中\x1b[31m文\x1b[0m字 ",  # wide cells: their right halves are not written
    "中\x1b[D\x1b[41mX\x1b[0m",  # a wide cell's right half printed over in a colour
    "0123456789\x1b[1;10H中",  # a wide character in the last column (no wrap yet)
    "\x1b[?7l012345678中\x1b[?7h",  # ... without auto-wrap
    "\x1b[C\u0301a",  # a fallback cell (a mark on an empty cell) first
    "ab\x1b[C\u0301",  # ... last
    "\x1b[32m\x1b[C\u0301\x1b[0m ",  # ... in a colour
    "a\u0301\u0302 ",  # marks on a cell, then a blank
    "e" + "\u0301" * 14 + "  ",  # a cluster past the cell's inline bytes
    " \u0301 ",  # a mark on a space: not a blank
    "0123456789abc  ",  # a wrapped row, then trailing blanks on the next
    "\x1b[31m0123456789\x1b[0mab",  # a wrap in a colour
    "\x1b[44m\x1b[K\x1b[0m",  # a row of coloured blanks
    "        ",  # only blanks: an empty line
    "中\u0301\u0302x",  # marks on the wide character printed last, then more
    "a\u0301b\x1b[D\x1b[D\u0302",  # a mark on a cell before the last one
    "\x1b[31m中\u0301\x1b[0m é\u0308 ",  # marks in a colour, then in the defaults
    "ü" + "\u0301" * 20 + "z",  # marks past the cell's 32-byte cap
    "\U0001f468\u200d\U0001f469\u200d\U0001f467 \u2764\ufe0f",  # ZWJ, variation selector
]


@pytest.mark.parametrize("data", RECORDED)
@pytest.mark.parametrize("again", [False, True])
def test_history_identical_for_every_record_case(data, again):
    """Rows as records hold them (text, style records, blanks, wide, combining and
    fallback cells, wraps) render as the twin's lines: as printed (the carried record
    where it covers the row) and printed a second time from the first column (which ends
    the record: the row is encoded when it leaves)."""
    stream = data.encode() + (b"\r" + data.encode() if again else b"") + b"\r\n" * 4
    c, p = _both(10, 3)
    for emu in (c, p):
        emu.set_history_limit(50)
        emu.feed(stream)
    assert c.take_history() == p.take_history()


@pytest.mark.parametrize("name", ["ascii_log", "sgr_ls", "utf8_wide", "truecolor"])
def test_history_identical_for_corpus_rows_shared_with_copies(name):
    """Rows taken while a state copy shares them (the server's frames): every one cloned,
    record and all, on the next write; the same lines as the twin."""
    from bench.corpus import make_corpus

    data = make_corpus(name, (160 if name == "truecolor" else 48) << 10)  # 24+ rows of it
    c, p = _both(80, 24)
    lines = []
    for emu in (c, p):
        emu.set_history_limit(1000)
        copies = []
        for i in range(0, len(data), 997):
            emu.feed(data[i : i + 997])
            copies = [emu.copy()] + copies[:2]
        lines.append(emu.take_history())
    assert lines[0] == lines[1]
    assert len(lines[0][1]) > 24


def test_history_identical_for_a_row_shared_with_a_copy_then_printed_on():
    """A state copy shares the rows; the next print clones the row, record and all."""
    c, p = _both(10, 3)
    copies = []
    for emu in (c, p):
        emu.set_history_limit(50)
        emu.feed(b"ab\x1b[31mc")
        copies.append(emu.copy())
        emu.feed(b"de\x1b[0mf\r\nxy")
        copies.append(emu.copy())
        emu.feed(b"\rZ\r\n\r\n\r\n\r\n")
    lines = p.take_history()
    assert c.take_history() == lines
    assert [text.replace(b"\x1b[0;31m", b"").replace(b"\x1b[0m", b"") for text, _ in lines[1]][
        :2
    ] == [b"abcdef", b"Zy"]
