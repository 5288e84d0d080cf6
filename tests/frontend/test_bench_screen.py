"""The e2e bench's view of the client's terminal (``bench.e2e.session.Screen``).

A bench run once timed out on ``cat`` of the utf8_wide corpus through pymosh although
both pymosh ends held the end marker: stock pyte drops the rest of a printable run after
U+FE0F / U+200D, so the marker the client drew never reached the bench's screen. These
tests draw the client's display diffs of that corpus into the bench's screen and check
that it shows what the emulator holds, frame after frame.
"""

from __future__ import annotations

import random

import pytest

pytest.importorskip("pyte")

from bench import corpus  # noqa: E402
from bench.e2e.scenarios import MARK  # noqa: E402
from bench.e2e.session import Screen  # noqa: E402

from pymosh.terminal import Emulator, new_frame  # noqa: E402

W, H = 80, 24
TAIL = b"\x1b[0m\x1b[r\x1b[?1049l\x1b[?25h\x1b[?7h\x1b[999;1H\n\r\n" + MARK.encode() + b"\r\nPMB> "


def _screen_rows(screen: Screen, width: int = W) -> list[str]:
    # a wide character's stub cell holds ""
    return [
        "".join(screen.buffer[y][x].data for x in range(width)).rstrip()
        for y in range(screen.lines)
    ]


def _emulator_rows(emu: Emulator) -> list[str]:
    rows = []
    for row in emu.dump()["rows"]:
        text, after_wide = [], False
        for cell in row:
            if not after_wide:
                text.append(cell[0] or " ")
            after_wide = bool(cell[4]) and not after_wide
        rows.append("".join(text).rstrip())
    return rows


def test_text_after_zero_width_characters_is_kept():
    import pyte

    screen = Screen(20, 2)
    pyte.ByteStream(screen).feed("\u2764\ufe0f ab \U0001f468\u200d\U0001f469 cd".encode())
    assert _screen_rows(screen, 20)[0] == "\u2764\ufe0f ab \U0001f468\u200d\U0001f469 cd"
    assert screen.buffer[0][5].data == "\U0001f468\u200d"  # on the wide cell, not its stub
    assert screen.cursor.x == 12


@pytest.mark.parametrize("seed", range(6))
def test_utf8_wide_frames_drawn_into_the_bench_screen(seed):
    import pyte

    rng = random.Random(seed)
    data = corpus.make_corpus("utf8_wide", 192 * 1024, seed=seed) + TAIL
    emu, local = Emulator(W, H), Emulator(W, H)
    screen = Screen(W, H)
    stream = pyte.ByteStream(screen)
    stream.feed(new_frame(False, local, local))
    pos = 0
    while pos < len(data):
        n = rng.choice([1, 7, 100, 4096, 16384])
        emu.feed(data[pos : pos + n])
        pos += n
        if rng.random() < 0.3 or pos >= len(data):
            snap = emu.copy()
            stream.feed(new_frame(True, local, snap))
            local = snap
            assert _screen_rows(screen) == _emulator_rows(snap)
            assert (screen.cursor.y, screen.cursor.x) == (snap.cursor_row, snap.cursor_col)
    assert _screen_rows(screen)[-2:] == [MARK, "PMB>"]
