"""Shared emulator vectors: input bytes and what Mosh 1.4.0's emulator shows afterwards.

Each case: name, width, height, input, and expectations. ``lines`` are the screen
rows rendered as text (empty cell -> space, fallback -> NBSP + marks) with trailing
spaces stripped; ``cells`` maps (row, col) to (contents, fg, bg, attrs); other keys
compare against ``Emulator.dump()`` fields of the same name (``modes`` partially).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ESC = b"\x1b"
CSI = b"\x1b["


@dataclass
class Case:
    name: str
    width: int
    height: int
    data: bytes
    lines: list[str] | None = None
    cursor: tuple[int, int] | None = None
    cells: dict[tuple[int, int], tuple] = field(default_factory=dict)
    expect: dict[str, Any] = field(default_factory=dict)  # dump() fields
    modes: dict[str, Any] = field(default_factory=dict)
    replies: bytes = b""
    wrapped_rows: list[int] | None = None  # rows whose last cell carries the wrap bit
    resize: tuple[int, int] | None = None  # (width, height) applied after ``data``


def render_row(cells: list) -> str:
    out = []
    x = 0
    while x < len(cells):
        contents, wide, fallback = cells[x][0], cells[x][4], cells[x][5]
        out.append(" " if not contents else ("\u00a0" + contents if fallback else contents))
        x += 2 if wide else 1
    return "".join(out).rstrip(" ")


CASES = [
    Case("plain text", 10, 3, b"hello", ["hello", "", ""], (0, 5)),
    Case("crlf", 10, 3, b"ab\r\ncd", ["ab", "cd", ""], (1, 2)),
    Case("lf does not imply cr", 10, 3, b"ab\ncd", ["ab", "  cd", ""], (1, 4)),
    Case("wrap at last column", 5, 3, b"abcdefg", ["abcde", "fg", ""], (1, 2),
         wrapped_rows=[0], expect={"next_print_will_wrap": False}),
    Case("pending wrap after last column", 5, 3, b"abcde", ["abcde", "", ""], (0, 4),
         wrapped_rows=[], expect={"next_print_will_wrap": True}),
    Case("pending wrap absorbs crlf (80th column)", 5, 3, b"abcde\r\nfghij\r\nk",
         ["abcde", "fghij", "k"], (2, 1), wrapped_rows=[]),
    Case("bel clears pending wrap", 10, 2, b"0123456789\x07X", ["012345678X", ""], (0, 9),
         expect={"bell_count": 1}),
    Case("sgr keeps pending wrap", 5, 2, b"abcde\x1b[1mX", ["abcde", "X"], (1, 1),
         cells={(1, 0): ("X", 0, 0, 1)}),
    Case("tab keeps pending wrap", 5, 2, b"abcde\tX", ["abcde", "X"], (1, 1)),
    Case("scroll at bottom", 5, 3, b"a\r\nb\r\nc\r\nd", ["b", "c", "d"], (2, 1)),
    Case("autowrap off overwrites last column", 5, 2, b"\x1b[?7labcdefg", ["abcdg", ""], (0, 4),
         modes={"auto_wrap": False}),
    Case("backspace clamps", 5, 2, b"\x08\x08a", ["a", ""], (0, 1)),
    Case("cup", 10, 5, b"\x1b[3;4Hx", ["", "", "   x", "", ""], (2, 4)),
    Case("cup clamps and 0 means 1", 10, 5, b"\x1b[99;0Hx", ["", "", "", "", "x"], (4, 1)),
    Case("cursor moves", 10, 5, b"\x1b[3;3H\x1b[2A\x1b[5C\x1b[1B\x1b[2Dx",
         ["", "     x", "", "", ""], (1, 6)),
    Case("cha hpa vpa", 10, 5, b"\x1b[4G\x1b[3dx\x1b[8`y", ["", "", "   x   y", "", ""], (2, 8)),
    Case("el 0", 10, 2, b"abcdefgh\x1b[4G\x1b[K", ["abc", ""], (0, 3)),
    Case("el 1", 10, 2, b"abcdefgh\x1b[4G\x1b[1K", ["    efgh", ""], (0, 3)),
    Case("el 2", 10, 2, b"abcdefgh\x1b[4G\x1b[2K", ["", ""], (0, 3)),
    Case("ed 0", 5, 3, b"abc\r\ndef\r\nghi\x1b[2;2H\x1b[J", ["abc", "d", ""], (1, 1)),
    Case("ed 1", 5, 3, b"abc\r\ndef\r\nghi\x1b[2;2H\x1b[1J", ["", "  f", "ghi"], (1, 1)),
    Case("ed 2 keeps cursor", 5, 3, b"abc\r\ndef\x1b[2J", ["", "", ""], (1, 3)),
    Case("ed 3 ignored", 5, 2, b"abc\x1b[3J", ["abc", ""], (0, 3)),
    Case("ech", 10, 1, b"abcdefgh\x1b[3G\x1b[3X", ["ab   fgh"], (0, 2)),
    Case("ich", 10, 1, b"abcdefghij\x1b[3G\x1b[2@", ["ab  cdefgh"], (0, 2)),
    Case("giant ich param is default 1", 10, 1, b"abcdefghij\x1b[3G\x1b[99999999@",
         ["ab cdefghi"], (0, 2)),
    Case("ich 65535 clears the rest", 10, 1, b"abcdefghij\x1b[3G\x1b[65535@", ["ab"], (0, 2)),
    Case("dch", 10, 1, b"abcdefghij\x1b[3G\x1b[2P", ["abefghij"], (0, 2)),
    Case("il homes column", 5, 4, b"a\r\nb\r\nc\r\nd\x1b[2;3H\x1b[L", ["a", "", "b", "c"], (1, 0)),
    Case("dl", 5, 4, b"a\r\nb\r\nc\r\nd\x1b[2;3H\x1b[2M", ["a", "d", "", ""], (1, 0)),
    Case("il huge count", 5, 4, b"a\r\nb\r\nc\r\nd\x1b[2H\x1b[99L", ["a", "", "", ""], (1, 0)),
    Case("su sd keep cursor", 5, 4, b"a\r\nb\r\nc\r\nd\x1b[2;2H\x1b[1S\x1b[2T",
         ["", "", "b", "c"], (1, 1)),
    Case("scroll region lf", 5, 4, b"\x1b[2;3r\x1b[4Hz\x1b[2Ha\r\nb\r\nc\r\nd",
         ["", "c", "d", "z"], (2, 1), expect={"scroll_region": (1, 2)}),
    Case("lf below region does not scroll", 5, 4, b"\x1b[1;2r\x1b[4Ha\r\nb", ["", "", "", "b"],
         (3, 1)),
    Case("reverse index at top of region", 5, 3, b"a\r\nb\r\nc\x1b[H\x1bMx", ["x", "a", "b"],
         (0, 1)),
    Case("nel ind", 5, 3, b"ab\x1bEc\x1bDd", ["ab", "c", " d"], (2, 2)),
    Case("c1 nel as utf-8", 5, 3, b"ab\xc2\x85c", ["ab", "c", ""], (1, 1)),
    Case("decstbm invalid ignored", 5, 4, b"abc\x1b[3;2r", ["abc", "", "", ""], (0, 3),
         expect={"scroll_region": (0, 3)}),
    Case("decstbm homes", 5, 4, b"abc\x1b[2;3r", ["abc", "", "", ""], (0, 0)),
    Case("origin mode", 5, 4, b"\x1b[2;3r\x1b[?6h\x1b[1;1Hx\x1b[9;1Hy",
         ["", "x", "y", ""], (2, 1), modes={"origin": True}),
    Case("tabs", 20, 1, b"a\tb\tc", ["a       b       c"], (0, 17)),
    Case("tab to last column", 10, 1, b"abcdefghi\tX", ["abcdefghiX"], (0, 9)),
    Case("cht cbt", 30, 1, b"\x1b[2Ia\x1b[2Zb\x1b[99Zc", ["c       b       a"], (0, 1)),
    Case("hts tbc", 20, 1, b"\x1b[3G\x1bH\x1b[H\ta\x1b[3g\r\tb", ["  a                b"], (0, 19)),
    Case("insert mode", 10, 1, b"abcdef\x1b[3G\x1b[4hXY\x1b[4l", ["abXYcdef"], (0, 4),
         modes={"insert": False}),
    Case("decsc decrc", 10, 3, b"\x1b[2;3H\x1b[1m\x1b7\x1b[0m\x1b[H\x1b8x", ["", "  x", ""],
         (1, 3), cells={(1, 2): ("x", 0, 0, 1)}),
    Case("decaln", 3, 2, b"\x1b[44m\x1b#8", ["EEE", "EEE"], (0, 0),
         cells={(0, 0): ("E", 0, 44, 0)}),
    Case("sgr basic", 10, 1, b"\x1b[1;3;4;5;7;8;31;42mA\x1b[22;23;24;25;27;28;39;49mB",
         ["AB"], (0, 2), cells={(0, 0): ("A", 31, 42, 1 | 4 | 8 | 16 | 32 | 64),
                                (0, 1): ("B", 0, 0, 0)}),
    Case("sgr bright", 10, 1, b"\x1b[92;103mA", ["A"], (0, 1), cells={(0, 0): ("A", 40, 51, 0)}),
    Case("sgr 256 folds 0-7", 10, 1, b"\x1b[38;5;3;48;5;200mA\x1b[38;5;10mB", ["AB"], (0, 2),
         cells={(0, 0): ("A", 33, 240, 0), (0, 1): ("B", 40, 240, 0)}),
    Case("sgr truecolor", 10, 1, b"\x1b[38;2;1;2;3;48;2;255;128;0mA", ["A"], (0, 1),
         cells={(0, 0): ("A", 0x1010203, 0x1FF8000, 0)}),
    Case("sgr truecolor bleeds", 10, 1, b"\x1b[38;2;0;256;0mA", ["A"], (0, 1),
         cells={(0, 0): ("A", 0x1010000, 0, 0)}),
    Case("sgr short 38;5 is blink", 10, 1, b"\x1b[38;5mA", ["A"], (0, 1),
         cells={(0, 0): ("A", 0, 0, 16)}),
    Case("sgr colon form ignored", 10, 1, b"\x1b[1m\x1b[38:2:1:2:3mA", ["A"], (0, 1),
         cells={(0, 0): ("A", 0, 0, 1)}),
    Case("sgr empty resets", 10, 1, b"\x1b[1;31m\x1b[mA", ["A"], (0, 1),
         cells={(0, 0): ("A", 0, 0, 0)}),
    Case("bce erase", 10, 1, b"abc\x1b[44m\x1b[2K", [""], (0, 3),
         cells={(0, 0): ("", 0, 44, 0)}),
    Case("wide char", 10, 1, "中x".encode(), ["中x"], (0, 3),
         cells={(0, 0): ("中", 0, 0, 0), (0, 1): ("", 0, 0, 0)}),
    Case("wide char at last column wraps", 5, 2, "abcd中".encode(), ["abcd", "中"], (1, 2),
         wrapped_rows=[]),
    Case("combining attaches", 10, 1, "e\u0301x".encode(), ["e\u0301x"], (0, 2)),
    Case("combining after cursor move attaches", 10, 1, b"ab\x1b[1G\xcc\x82", ["a\u0302b"],
         (0, 0)),
    Case("combining on empty cell is fallback", 10, 2, b"abc\r\n\xcc\x82",
         ["abc", "\u00a0\u0302"], (1, 1)),
    Case("combining after erase (issue 667)", 10, 2, b"0\x1b[1J\xcc\xb4",
         ["\u00a0\u0334", ""], (0, 2)),
    Case("combining capped at 32 bytes", 10, 1, b"a" + "\u0301".encode() * 40,
         ["a" + "\u0301" * 16], (0, 1)),
    Case("regional indicator is narrow", 10, 1, "\U0001F1E6x".encode(), ["\U0001F1E6x"], (0, 2)),
    Case("emoji wide", 10, 1, "\U0001F600".encode(), ["\U0001F600"], (0, 2)),
    Case("utf-8 invalid", 20, 1, b"\xc0\x80|\xc2A|\xe0\x80\x80|\xf4\x90\x80\x80|\xff",
         ["\ufffd\ufffd|\ufffdA|\ufffd\ufffd|\ufffd|\ufffd"], (0, 12)),
    Case("utf-8 5-byte form is one fffd", 10, 1, b"\xf8\x88\x80\x80\x80x", ["\ufffdx"], (0, 2)),
    Case("utf-8 split surrogate", 10, 1, b"\xed\xa0\x80x", ["\ufffd\ufffdx"], (0, 3)),
    Case("del ignored", 10, 1, b"a\x7fb", ["ab"], (0, 2)),
    Case("esc with non-ascii final swallows it", 10, 1, "a\x1b中b".encode(), ["ab"], (0, 2)),
    Case("csi with non-ascii final swallows it", 10, 1, "a\x1b[1中b".encode(), ["ab"], (0, 2)),
    Case("can aborts csi", 10, 1, b"a\x1b[1\x18;2Hb", ["a;2Hb"], (0, 5)),
    Case("c0 inside csi executes", 10, 2, b"ab\x1b[\r3Cx", ["ab x", ""], (0, 4)),
    Case("dcs swallowed until st", 10, 1, b"a\x1bPq#0;1;2\x07junk\x1b\\b", ["ab"], (0, 2)),
    Case("sos pm apc swallowed", 10, 1, b"a\x1bXx\x1b\\\x1b^y\xc2\x9c\x1b_z\x07\x1b\\b", ["ab"], (0, 2)),
    Case("osc 0 title", 10, 1, b"\x1b]0;hello\x07x", ["x"], (0, 1),
         expect={"title": "hello", "icon_name": "hello"}),
    Case("osc 1 and 2 with st", 10, 1, b"\x1b]1;icon\x1b\\\x1b]2;win\xc2\x9c", [""], (0, 0),
         expect={"title": "win", "icon_name": "icon"}),
    Case("osc leading semicolon", 10, 1, b"\x1b];t\x07", [""], (0, 0),
         expect={"title": "t", "icon_name": "t"}),
    Case("osc title truncated at 256", 10, 1, b"\x1b]2;" + b"x" * 400 + b"\x07", [""], (0, 0),
         expect={"title": "x" * 254}),
    Case("osc 10 ignored", 10, 1, b"\x1b]10;rgb:0/0/0\x07", [""], (0, 0),
         expect={"title": "", "icon_name": ""}),
    Case("osc 52 clipboard", 10, 1, b"\x1b]52;c;aGVsbG8=\x07", [""], (0, 0),
         expect={"clipboard": "aGVsbG8="}),
    Case("osc 52 other selection ignored", 10, 1, b"\x1b]52;p;aGVsbG8=\x07", [""], (0, 0),
         expect={"clipboard": ""}),
    # (deliberate deviation: Mosh stores the query and forwards it as the payload "?")
    Case("osc 52 query never stored", 10, 1, b"\x1b]52;c;?\x07", [""], (0, 0),
         expect={"clipboard": ""}),
    Case("osc ended by can", 10, 1, b"\x1b]2;ab\x18c", ["c"], (0, 1), expect={"title": "ab"}),
    Case("osc 8 ignored", 20, 1, b"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", ["link"], (0, 4),
         expect={"title": ""}),
    Case("bell", 10, 1, b"\x07\x07", [""], (0, 0), expect={"bell_count": 2}),
    Case("dsr", 10, 5, b"\x1b[3;4H\x1b[6n\x1b[5n", None, (2, 3),
         replies=b"\x1b[3;4R\x1b[0n"),
    Case("dsr in origin mode is absolute", 10, 5, b"\x1b[2;4r\x1b[?6h\x1b[2;2H\x1b[6n", None,
         (2, 1), replies=b"\x1b[3;2R"),
    Case("da1 da2", 10, 1, b"\x1b[c\x1b[0c\x1b[>c", None, None,
         replies=b"\x1b[?62c\x1b[?62c\x1b[>1;10;0c"),
    Case("modes", 10, 1,
         b"\x1b[?1h\x1b[?5h\x1b[?25l\x1b[?1002h\x1b[?1004h\x1b[?1006h\x1b[?1007h\x1b[?2004h\x1b=",
         None, None, expect={"cursor_visible": False},
         modes={"application_cursor_keys": True, "reverse_video": True,
                "mouse_reporting": 1002, "mouse_focus_event": True, "mouse_encoding": 1006,
                "mouse_alternate_scroll": True, "bracketed_paste": True,
                "application_keypad": True}),
    Case("mouse reset any resets all", 10, 1, b"\x1b[?1002h\x1b[?1000l\x1b[?1015h\x1b[?1005l",
         None, None, modes={"mouse_reporting": 0, "mouse_encoding": 0}),
    Case("decset multiple params", 10, 1, b"\x1b[?1;2004h", None, None,
         modes={"application_cursor_keys": True, "bracketed_paste": True}),
    Case("deccolm clears and homes", 10, 2, b"abc\r\nde\x1b[?3h", ["", ""], (0, 0)),
    Case("decstr", 10, 3, b"\x1b[2;3r\x1b[4h\x1b[?6h\x1b[?25l\x1b[1;31m\x1b[?5h\x1b[!px",
         ["x", "", ""], (0, 1), cells={(0, 0): ("x", 0, 0, 0)},
         expect={"cursor_visible": True, "scroll_region": (0, 2)},
         modes={"insert": False, "origin": False, "reverse_video": True}),
    Case("ris keeps icon name and bell", 10, 2, b"\x07\x1b]1;icon\x07\x1b]2;win\x07ab\x1bc", ["", ""],
         (0, 0), expect={"title": "", "icon_name": "icon", "bell_count": 1}),
    Case("alternate screen 1049", 10, 2, b"main\x1b[?1049halt\x1b[?1049l", ["main", ""], (0, 4),
         modes={"alternate_screen": False}),
    Case("alternate screen shown", 10, 2, b"main\x1b[?1049h\x1b[Halt", ["alt", ""], (0, 3),
         modes={"alternate_screen": True}),
    Case("alternate screen 47 keeps cursor", 10, 2, b"ab\x1b[?47hX\x1b[?47l", ["ab", ""], (0, 3)),
    Case("keypad mode", 10, 1, b"\x1b=\x1b>", None, None, modes={"application_keypad": False}),
    Case("malformed csi params", 10, 2, b"\x1b[;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;2;3Hx\x1b[??1hy", None,
         None),
    Case("csi private then digit is ignored", 10, 1, b"\x1b[1?2hx", ["x"], (0, 1)),
    Case("unknown csi clears pending wrap", 5, 2, b"abcde\x1b[5qX", ["abcdX", ""], (0, 4)),
    Case("esc backslash clears pending wrap", 5, 2, b"abcde\x1b\\X", ["abcdX", ""], (0, 4)),
    # beyond Mosh (which keeps the cut wide cell, undrawable in the last column): a resize
    # blanks a wide character cut at the new right edge, as xterm does
    Case("resize cutting a wide char blanks it", 10, 2, "abcdefgh中\x1b[44m".encode(),
         ["abcdefgh", ""], (0, 8), cells={(0, 8): ("", 0, 44, 0)}, resize=(9, 2)),
    Case("resize keeps a wide char that still fits", 10, 2, "abcdefg中".encode(),
         ["abcdefg中", ""], (0, 8), cells={(0, 7): ("中", 0, 0, 0)}, resize=(9, 2)),
    Case("resize cutting wide chars on every row", 6, 3, "ab中中中中中x".encode(),
         ["ab中", "中中", "x"], (2, 1), resize=(5, 3)),
]
