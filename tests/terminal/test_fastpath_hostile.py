"""The Cython terminal under hostile input: caps, extreme sizes, copy-on-write stress.

Every case is checked against the pure-Python twin (same dump), so a clamp or cap
that drifted on one side fails here.
"""

from __future__ import annotations

import os
import random

import pytest

from pymosh import _accel
from pymosh.terminal import emulator as twin

fast = _accel.fast_module("terminal")
if fast is None:
    if os.environ.get("PYMOSH_REQUIRE_EXTENSIONS") == "1" and not _accel.NO_EXTENSIONS:
        raise RuntimeError("_fastpath.terminal is not built but PYMOSH_REQUIRE_EXTENSIONS=1")
    pytest.skip("_fastpath.terminal not built", allow_module_level=True)


def _same(w, h, *chunks):
    c, p = fast.Emulator(w, h), twin.Emulator(w, h)
    for chunk in chunks:
        c.feed(chunk)
        p.feed(chunk)
    assert c.dump() == p.dump()
    assert c.take_replies() == p.take_replies()
    return c


def test_caps_match_twin():
    e = _same(
        20,
        3,
        b"\x1b]2;" + b"t" * 5000 + b"\x07",
        b"\x1b]52;c;" + b"A" * 40000 + b"\x07",
        b"\x1b[" + b"9" * 5000 + b";4" * 300 + b"m",
        b"a" + "\u0301".encode() * 100,
        b"\x1b[" + b"!" * 20 + b"p",
        b"\x1b" + b" " * 20 + b"0",
    )
    d = e.dump()
    assert len(d["title"]) == 254
    assert len(d["clipboard"]) == 16384 - 5
    assert len(d["rows"][0][0][0].encode()) < 32 + 4


@pytest.mark.parametrize(
    "size", [(1, 1), (1024, 1), (4096, 1), (1, 300), (5000, 0), (0, 0), (-3, 10**12)]
)
def test_extreme_sizes(size):
    e = _same(
        *size,
        b"\x1b[?1049h\x1b[99999;99999H\xe4\xb8\xadx\x1b[9999@\x1b[9999L\x1b[2J",
        "\u0302中\U0001f600".encode() * 50,
        b"\x1b[1;65535r\x1b[65535S\x1b[65535T",
    )
    assert 1 <= e.width <= 1024 and 1 <= e.height <= 1024


def test_huge_counts_are_clamped():
    _same(
        80,
        24,
        b"x" * 5000,
        b"\x1b[65535L\x1b[65535M\x1b[65535P\x1b[65535@\x1b[65535X",
        b"\x1b[65535I\x1b[65535Z\x1b[65535A\x1b[65535C\x1b[65536;99999999H!",
        b"\x1b[3g\x1b[65535I\t?",
    )


def test_random_bytes_with_resizes_and_copies():
    rng = random.Random(4)
    c, p = fast.Emulator(13, 5), twin.Emulator(13, 5)
    snapshots = []
    for _ in range(300):
        k = rng.random()
        if k < 0.1:
            w, h = rng.randint(1, 30), rng.randint(1, 12)
            c.resize(w, h)
            p.resize(w, h)
        elif k < 0.2:
            snapshots.append((c.copy(), p.copy()))
        else:
            data = bytes(
                rng.choice(b"\x1b[;?0123456789mHJKLM\xc2\x9b\xe4\xb8\xad\x07\r\n abc")
                for _ in range(rng.randint(1, 60))
            )
            c.feed(data)
            p.feed(data)
        assert c.dump() == p.dump()
    # snapshots were never disturbed by later writes (copy-on-write)
    for sc, sp in snapshots:
        assert sc.dump() == sp.dump()
        assert fast.new_frame(True, sc, c) == twin.new_frame(True, sp, p)


def test_copies_share_until_written():
    e = fast.Emulator(80, 24)
    e.feed(b"line\r\n" * 30)
    copies = [e.copy() for _ in range(50)]
    e.feed(b"\x1b[H\x1b[2J")
    for c in copies:
        assert c == copies[0]
        assert c.get_cell(0, 0)[0] == "l"
    assert e != copies[0]
    assert fast.new_frame(True, copies[0], copies[1]) == b""
