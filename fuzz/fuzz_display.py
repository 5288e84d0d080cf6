"""Fuzz the display differ round trip (terminal.md §4, protocol.md §6.2.1).

Input: bytes 0..3 = width/height of A and of B, byte 4 = mode, byte 5 = split point,
rest = two host-output streams.  A is fed stream a; B is either a copy of A fed b
(mode & 1, the usual incremental frame) or a fresh emulator (possibly another size) fed
b.  The client's copy of A is a blank emulator fed new_frame(False, blank, A) (it must
show A); then new_frame(True, A, B) fed into it (after a resize, as the client applies
Resize before HostBytes) must give B.  No frame may make the emulator answer.
Both implementations must produce the same frame bytes.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import implementations, run_atheris  # noqa: E402


def _grapheme(cell: tuple) -> str:
    """What a cell renders as (Mosh's Cell::compare): empty is a space, a fallback cell
    (combining character on a blank) is drawn with a leading no-break space."""
    contents, fallback = cell[0], cell[5]
    if not contents:
        return " "
    return "\u00a0" + contents if fallback else contents


def _visible_row(row) -> list:
    out = []
    right_half = False
    for cell in row:
        # the cell under a wide character's right half is never drawn (terminal.md §2.4
        # "Not handled", §4 quirk 7): a stray character there is invisible in Mosh too
        if right_half:
            out.append(("right half",))
        else:
            out.append((_grapheme(cell),) + tuple(cell[1:5]) + (cell[6],))
        right_half = bool(cell[4]) and not right_half
    return out


def _has_stray(emu) -> bool:
    for row in emu.dump()["rows"]:
        right_half = False
        for cell in row:
            if right_half and cell[0]:
                return True
            right_half = bool(cell[4]) and not right_half
    return False


def visible(emu) -> dict:
    """What a frame must reproduce: Mosh's own round-trip check (terminal.md §2.8: size,
    every cell's rendered grapheme/renditions/wide/wrap, cursor position) plus the cursor's
    visibility, the window title and the mouse/paste modes the differ carries.
    (`==` compares rows by identity, so it cannot be used across two emulators.)"""
    d = emu.dump()
    modes = d["modes"]
    return {
        "size": d["size"],
        "cursor": d["cursor"],
        "cursor_visible": d["cursor_visible"],
        "rows": [_visible_row(row) for row in d["rows"]],
        "title": d["title"],
        "modes": {
            k: modes[k]
            for k in (
                "reverse_video",
                "bracketed_paste",
                "mouse_reporting",
                "mouse_focus_event",
                "mouse_alternate_scroll",
                "mouse_encoding",
            )
        },
    }


def run_one(impl, data: bytes):
    wa, ha = 1 + data[0] % 90, 1 + data[1] % 30
    mode = data[4]
    if mode & 2:
        wb, hb = 1 + data[2] % 90, 1 + data[3] % 30
    else:
        wb, hb = wa, ha
    body = data[6:]
    split = (data[5] * len(body)) // 256
    a_stream, b_stream = body[:split], body[split:]

    a = impl.Emulator(wa, ha)
    a.feed(a_stream)
    a.take_replies()
    if mode & 1:
        b = a.copy()
        if (wb, hb) != (wa, ha):
            b.resize(wb, hb)
    else:
        b = impl.Emulator(wb, hb)
    b.feed(b_stream)
    b.take_replies()

    # the client's copy of A: what it built from frames (its parser is never left
    # inside a sequence, unlike A's, which saw raw host output)
    client = impl.Emulator(wa, ha)
    full = impl.new_frame(False, impl.Emulator(wa, ha), a)
    client.feed(full)
    assert client.take_replies() == b"", "a frame made the client's emulator answer"
    assert visible(client) == visible(a), ("full repaint did not reproduce A", full)
    if (wa, ha) != (b.width, b.height):
        client.resize(b.width, b.height)  # Resize comes before HostBytes
    frame = impl.new_frame(True, a, b)
    if _has_stray(a):
        # A holds a character under a wide character's right half, which no frame ever
        # draws; once B narrows that wide character the stray shows on the server but
        # the client never had it -- Mosh's own behaviour (terminal.md §2.4), so the
        # incremental comparison is meaningless here
        return frame, full
    client.feed(frame)
    assert client.take_replies() == b"", "a frame made the client's emulator answer"
    got, want = visible(client), visible(b)
    if not mode & 1 and not want["title"]:
        # a fresh B may never have set a title; Mosh then sends none at all (terminal.md
        # §4 step 2), so the client keeps A's
        got["title"] = want["title"]
    assert got == want, ("incremental frame did not reproduce B", frame)
    return frame, full


def check(data: bytes, impls) -> None:
    if impls is None:
        impls = implementations("terminal")
    data = data.ljust(6, b"\x00")
    results = [run_one(impl, data) for impl in impls]
    for r in results[1:]:
        assert r == results[0], "implementations produce different frames"


def main() -> None:
    run_atheris("display", check, "terminal")


if __name__ == "__main__":
    main()
