"""Deterministic (seeded) terminal-output corpora for the emulator benchmarks (peers.md):
ASCII log, SGR ``ls --color``, UTF-8 wide/combining/emoji, TUI redraws, truecolor.
``\\n`` becomes ``\\r\\n`` as a pty delivers it."""

from __future__ import annotations

import os
import random

QUICK = os.environ.get("PYMOSH_BENCH_QUICK", "") not in ("", "0")
DEFAULT_SIZE = 64 * 1024 if QUICK else 1024 * 1024
_WORDS = (
    "GET POST /api/v1/users 200 404 500 INFO WARN ERROR debug request took ms "
    "connection reset upstream timeout cache hit miss session token"
).split()


def _fill(rng: random.Random, size: int, make) -> bytes:
    parts, total = [], 0
    while total < size:
        chunk = make(rng)
        parts.append(chunk)
        total += len(chunk)
    return b"".join(parts)[:size].replace(b"\n", b"\r\n")


def ascii_log(rng: random.Random) -> bytes:
    words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(5, 40)))
    return f"2024-01-{rng.randint(1, 28):02d} 12:{rng.randint(0, 59):02d} {words}\n".encode()


def sgr_ls(rng: random.Random) -> bytes:
    out = []
    for _ in range(rng.randint(3, 8)):
        colour = rng.choice(["01;34", "01;32", "01;36", "38;5;208", "01;31", "00"])
        name = "".join(rng.choice("abcdefghij_.") for _ in range(rng.randint(3, 14)))
        out.append(f"\x1b[{colour}m{name}\x1b[0m  ")
    return ("".join(out) + "\n").encode()


_WIDE = "中文字符測試日本語한국어"
_COMBINING = ["e\u0301", "a\u0308", "n\u0303", "o\u0302\u0323"]
_EMOJI = [
    "\U0001f600",
    "\U0001f44d\U0001f3fd",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\u2764\ufe0f",
]


def utf8_wide(rng: random.Random) -> bytes:
    out = []
    for _ in range(rng.randint(5, 30)):
        kind = rng.random()
        if kind < 0.5:
            out.append(rng.choice(_WIDE))
        elif kind < 0.7:
            out.append(rng.choice(_COMBINING))
        elif kind < 0.85:
            out.append(rng.choice(_EMOJI))
        else:
            out.append(" ")
    return ("".join(out) + "\n").encode()


def tui_redraw(rng: random.Random) -> bytes:
    out = ["\x1b[?1049h" if rng.random() < 0.01 else "", "\x1b[H"]
    for row in range(1, 24):
        out.append(f"\x1b[{row};1H\x1b[{rng.choice(['7', '0', '1;33', '44'])}m")
        out.append(" ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 10)))[:79])
        out.append("\x1b[K")
    out.append(f"\x1b[2;23r\x1b[23;1H\n\x1b[{rng.randint(2, 20)}H\x1b[2L\x1b[3M")
    out.append(f"\x1b[5;10H\x1b[4@xy\x1b[2P\x1b[r\x1b[0m\x1b[24;{rng.randint(1, 80)}H")
    return "".join(out).encode()


def truecolor(rng: random.Random) -> bytes:
    out = []
    for _ in range(80):
        r, g, b = rng.randrange(256), rng.randrange(256), rng.randrange(256)
        out.append(f"\x1b[38;2;{r};{g};{b};48;2;{b};{r};{g}m\u2580")
    return ("".join(out) + "\x1b[0m\n").encode()


GENERATORS = {
    "ascii_log": ascii_log,
    "sgr_ls": sgr_ls,
    "utf8_wide": utf8_wide,
    "tui_redraw": tui_redraw,
    "truecolor": truecolor,
}


def make_corpus(name: str, size: int = DEFAULT_SIZE, seed: int = 1234) -> bytes:
    """``size`` bytes of corpus ``name``, the same for the same seed."""
    return _fill(random.Random(seed), size, GENERATORS[name])


def pieces(data: bytes, piece: int = 16384) -> list[bytes]:
    """Split as mosh-server reads the pty (16 KiB)."""
    return [data[i : i + piece] for i in range(0, len(data), piece)]
