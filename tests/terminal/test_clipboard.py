"""OSC 52 writes for every selection (issue #12), on both implementations: what the
emulator records and what new_frame sends to a stock client (Mosh's) or a pymosh one."""

from __future__ import annotations

import base64

import pytest

from pymosh.terminal.clipboard import CLIPBOARD_MAX, OSC_MAX


def _osc52(target: str, payload: str) -> bytes:
    return f"\x1b]52;{target};{payload}\x07".encode()


def _fed(impl, *writes: bytes):
    before = impl.Emulator(10, 2)
    after = before.copy()
    for w in writes:
        after.feed(w)
    return before, after


def test_every_selection_is_recorded(terminal_impl):
    _, e = _fed(
        terminal_impl,
        _osc52("c", "YQ=="),
        _osc52("p", "Yg=="),
        _osc52("q", "Yw=="),
        _osc52("s", "ZA=="),
        _osc52("7", "ZQ=="),
        _osc52("", "Zg=="),
        _osc52("c3", "Zw=="),
    )
    assert e.selections == {
        "c": "Zw==",
        "p": "Yg==",
        "q": "Yw==",
        "s": "Zg==",
        "7": "ZQ==",
        "0": "Zg==",
        "3": "Zw==",
    }
    assert e.dump()["selections"] == e.selections
    assert e.dump()["clipboard"] == "YQ=="  # Mosh's record: the last write to exactly "c"


@pytest.mark.parametrize("payload", ["?", "!!", "YQ", "YQ=", "Y Q==", "ä", "=YQ=", "YQ==YQ=="])
def test_queries_and_invalid_base64_are_dropped(terminal_impl, payload):
    last, e = _fed(terminal_impl, _osc52("p", payload))
    assert e.selections == {}
    assert terminal_impl.new_frame(True, last, e, clipboard_selections=True) == b""


def test_query_is_never_forwarded_even_to_stock_clients(terminal_impl):
    last, e = _fed(terminal_impl, _osc52("c", "?"))
    assert e.dump()["clipboard"] == ""
    assert terminal_impl.new_frame(True, last, e) == b""
    assert terminal_impl.new_frame(True, last, e, clipboard_selections=True) == b""


def test_stock_frames_are_moshs(terminal_impl):
    """'c' only, raw, cut at Mosh's 16384-code-point OSC buffer; other selections unseen."""
    big = "QUJD" * 5000  # 20000 characters: Mosh forwards the first 16384 - 5
    last, e = _fed(terminal_impl, _osc52("p", "eA=="), _osc52("c", "not base64!"))
    assert terminal_impl.new_frame(True, last, e) == b"\x1b]52;c;not base64!\x07"
    _, big_e = _fed(terminal_impl, _osc52("c", big))
    assert terminal_impl.new_frame(True, last, big_e) == _osc52("c", big[:16379])
    _, p_only = _fed(terminal_impl, _osc52("p", "eA=="))
    assert terminal_impl.new_frame(True, last, p_only) == b""


def test_pymosh_frames_carry_each_selection(terminal_impl):
    last, e = _fed(terminal_impl, _osc52("p", "eA=="), _osc52("cs", "eQ=="), _osc52("", "eQ=="))
    frame = terminal_impl.new_frame(True, last, e, clipboard_selections=True)
    assert frame == b"\x1b]52;cs0;eQ==\x07\x1b]52;p;eA==\x07"
    # a receiving emulator records the same, and the same write again is not re-sent
    receiver = terminal_impl.Emulator(10, 2)
    receiver.feed(frame)
    assert receiver.selections == e.selections
    again = e.copy()
    again.feed(_osc52("p", "eA=="))
    assert terminal_impl.new_frame(True, e, again, clipboard_selections=True) == b""
    again.feed(_osc52("p", "eg=="))
    assert (
        terminal_impl.new_frame(True, e, again, clipboard_selections=True) == b"\x1b]52;p;eg==\x07"
    )


def test_size_limit(terminal_impl):
    whole = base64.b64encode(b"x" * CLIPBOARD_MAX).decode()
    _, e = _fed(terminal_impl, _osc52("p", whole))
    assert e.selections == {"p": whole}
    over = base64.b64encode(b"x" * (CLIPBOARD_MAX + 1)).decode()
    _, e = _fed(terminal_impl, _osc52("p", over), b"ok")
    assert e.selections == {} and e.get_cell(0, 1)[0] == "k"
    # the OSC buffer's edge: the longest valid write fits; one that fills the buffer may
    # have been cut, so it is dropped
    assert len("52;cpqs01234567;" + whole) == OSC_MAX - 1
    _, e = _fed(terminal_impl, _osc52("cpqs01234567", whole))
    assert e.selections["7"] == whole
    _, e = _fed(terminal_impl, _osc52("cpqs01234567c", whole))
    assert e.selections == {}


def test_ten_megabytes_and_garbage_never_crash(terminal_impl):
    e = terminal_impl.Emulator(80, 24)
    e.feed(b"\x1b]52;c;" + b"QUJD" * (10 * 1024 * 1024 // 4) + b"\x07")
    e.feed(b"\x1b]52;p;" + bytes(range(0x20, 256)) * 10 + b"\x07\x1b]52;;;;\x07\x1b]52\x07ok")
    assert e.selections == {}
    assert len(e.dump()["clipboard"]) == 16379
    assert e.get_cell(0, 1)[0] == "k"


def test_reset_forgets_records_without_sending(terminal_impl):
    _, e = _fed(terminal_impl, _osc52("p", "eA=="))
    reset = e.copy()
    reset.feed(b"\x1bc")
    assert reset.selections == {} and e.selections == {"p": "eA=="}
    assert terminal_impl.new_frame(True, e, reset, clipboard_selections=True).find(b"]52") < 0
    again = reset.copy()
    again.feed(_osc52("p", "eA=="))
    assert b"\x1b]52;p;eA==\x07" in terminal_impl.new_frame(
        True, reset, again, clipboard_selections=True
    )


def test_open_write_survives_copies(terminal_impl):
    """An OSC 52 write split across feeds, with copies taken in between (the server's
    snapshots): each copy finishes it independently."""
    e = terminal_impl.Emulator(10, 2)
    e.feed(b"\x1b]52;p;" + b"QUJD" * 3000)
    snap = e.copy()
    e.feed(b"RUZH\x07")
    snap.feed(b"SElK\x07")
    assert e.selections == {"p": "QUJD" * 3000 + "RUZH"}
    assert snap.selections == {"p": "QUJD" * 3000 + "SElK"}
