"""Fuzz the VT parser + emulator (Emulator.feed) with random chunking.

Input: byte 0/1 = width/height (a byte >= 0xF0 asks for (byte - 0xF0) * 300, past the
1..1024 clamp, with a small other side), byte 2 = chunking seed (bit 7: resize half-way;
bit 6: ``set_cell`` half-way with the start of the stream as text, long enough to reach the
39-byte cell cap, with invalid UTF-8 as lone surrogates; seed % 5 * 3: the scrollback
limit), rest = host output.  For each implementation: feeding the stream whole or in random chunks
gives the same screen (dump(); == is Mosh's row-identity
equality, so it is not used across independent emulators), the same replies and the same
history; a copy taken half-way is independent of later input; nothing ever raises.  Both implementations agree.
"""

from __future__ import annotations

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import implementations, run_atheris  # noqa: E402


def _chunks(data: bytes, rng: random.Random):
    i = 0
    while i < len(data):
        n = rng.choice((1, 1, 2, 3, 5, 8, 13, 64, 1000))
        yield data[i : i + n]
        i += n


def _poke(emu, seed: int, text: bytes) -> None:
    if seed & 0x40:
        emu.set_cell(
            emu.height - 1,
            emu.width - 1,
            text[:64].decode("utf-8", "surrogateescape"),
            seed & 7,
            0,
            seed & 0x3F,
            bool(seed & 1),
        )


def run_one(impl, width, height, seed, stream):
    """(dump, replies, history) for one implementation."""
    half = len(stream) // 2
    first, second = stream[:half], stream[half:]
    limit = seed % 5 * 3
    whole = impl.Emulator(width, height)
    whole.set_history_limit(limit)
    whole.feed(first)
    _poke(whole, seed, first)
    snapshot = whole.dump()
    frozen = whole.copy()
    if seed & 0x80:
        whole.resize(height, width)
    whole.feed(second)
    replies = whole.take_replies()
    assert frozen.dump() == snapshot, "a copy changed when its original was fed"
    assert frozen.take_history() == (0, [], False), "a copy took its original's history"
    history = whole.take_history()

    rng = random.Random(seed)
    chunked = impl.Emulator(width, height)
    chunked.set_history_limit(limit)
    chunk_replies = b""
    for part in _chunks(first, rng):
        chunked.feed(part)
        if rng.random() < 0.2:
            chunk_replies += chunked.take_replies()
    _poke(chunked, seed, first)
    if seed & 0x80:
        chunked.resize(height, width)
    for part in _chunks(second, rng):
        chunked.feed(part)
    chunk_replies += chunked.take_replies()
    dump = whole.dump()
    assert chunked.dump() == dump, "chunking changed the result"
    assert chunk_replies == replies, (chunk_replies, replies)
    assert chunked.take_history() == history, "chunking changed the history"
    assert whole.take_replies() == b""
    assert len(history[1]) <= limit
    return dump, replies, history


def check(data: bytes, impls) -> None:
    if impls is None:
        impls = implementations("terminal")
    data = data.ljust(3, b"\x00")
    width = 1 + data[0] % 100
    height = 1 + data[1] % 40
    if data[0] >= 0xF0:
        width, height = (data[0] - 0xF0) * 300, 1 + data[1] % 4
    elif data[1] >= 0xF0:
        width, height = 1 + data[0] % 4, (data[1] - 0xF0) * 300
    results = [run_one(impl, width, height, data[2], data[3:]) for impl in impls]
    for r in results[1:]:
        assert r == results[0], "implementations disagree"


def main() -> None:
    run_atheris("emulator", check, "terminal")


if __name__ == "__main__":
    main()
