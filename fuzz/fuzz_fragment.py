"""Fuzz single-slot fragment reassembly (protocol.md §4.2) against an exact model.

Input: bytes 0..5 build an Instruction (state numbers, diff length) which is fragmented
with a tiny MTU; the rest is a schedule, one byte per step:
  op = b & 3
    0, 1: deliver genuine fragment (b >> 2) % n          (any order, duplicates)
    2:    a junk fragment under another id (contents from the schedule) -> resets the slot
    3:    a fragment under the genuine id numbered past the final one
Model: the slot completes exactly when every genuine fragment arrived since the last
reset, and then yields the original Instruction; a fragment numbered past the final one
is a DecodeError once the final fragment is (or becomes) held.  Only DecodeError may
ever come out of FragmentAssembly.add.
"""

from __future__ import annotations

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402,F401  (puts src/ on sys.path)
from common import run_atheris  # noqa: E402

from pymosh.errors import DecodeError  # noqa: E402
from pymosh.network.fragment import Fragment, FragmentAssembly, Fragmenter  # noqa: E402
from pymosh.wire.protobuf import Instruction  # noqa: E402


def _instruction(head: bytes) -> Instruction:
    head = head.ljust(6, b"\x00")
    size = head[4] * 8 + (head[5] & 7)
    if head[5] & 8:
        diff = bytes((i * 7 + head[0]) & 0xFF for i in range(size))
    else:  # incompressible noise -> more fragments
        diff = random.Random(head).randbytes(size)
    return Instruction(
        old_num=head[0],
        new_num=head[0] + head[1] + 1,
        ack_num=head[2],
        throwaway_num=head[3],
        diff=diff,
        chaff=head[5:6],
    )


def check(data: bytes, impls=None) -> None:
    original = _instruction(data[:6])
    mtu = 38 + 1 + (data[6] % 64 if len(data) > 6 else 20)
    frags = Fragmenter().make_fragments(original, mtu)
    n = len(frags)
    ident = frags[0].id
    assert frags[-1].final and not any(f.final for f in frags[:-1])
    assert [f.num for f in frags] == list(range(n))

    asm = FragmentAssembly()
    have: set = set()
    extra = False  # holds a genuine-id fragment numbered >= n
    schedule = data[7:]
    i = 0
    while i < len(schedule):
        b = schedule[i]
        i += 1
        op = b & 3
        if op in (0, 1):
            frag = frags[(b >> 2) % n]
            if frag.final and extra:
                outcome = _add(asm, frag)
                assert outcome == "error", outcome
                have, extra = set(), False
                continue
            have.add(frag.num)
            outcome = _add(asm, frag)
            if len(have) == n:
                assert outcome == original, (outcome, original)
                have = set()
            else:
                assert outcome is None, outcome
        elif op == 2:
            length = min(b >> 2, len(schedule) - i)
            contents = schedule[i : i + length]
            i += length
            junk = Fragment(
                (ident + 1 + (b >> 5)) & ((1 << 64) - 1), (b >> 2) & 7, bool(b & 0x80), contents
            )
            outcome = _add(asm, junk)
            assert outcome is None or outcome == "error" or isinstance(outcome, Instruction)
            have, extra = set(), False
        else:
            frag = Fragment(ident, n + (b >> 2), False, b"x")
            outcome = _add(asm, frag)
            if n - 1 in have:
                assert outcome == "error", outcome
                have, extra = set(), False
            else:
                assert outcome is None, outcome
                extra = True


def _add(asm: FragmentAssembly, frag: Fragment):
    try:
        return asm.add(frag)
    except DecodeError:
        return "error"


def main() -> None:
    run_atheris("fragment", check, None)


if __name__ == "__main__":
    main()
