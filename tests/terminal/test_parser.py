"""UTF-8 decoding (glibc semantics) and parameter parsing (terminal.md 2.1, 2.3)."""

from __future__ import annotations

import pytest

from pymosh.terminal.parser import Utf8Decoder, parse_params

F = "\ufffd"


@pytest.mark.parametrize(
    "data, text",
    [
        (b"abc", "abc"),
        (b"\x00", "\x00"),
        (b"\xc0\x80", F + F),
        (b"\xc1\xbf", F + F),
        (b"\x80", F),
        (b"\xfe\xff", F + F),
        (b"\xc2\x41", F + "A"),
        (b"\xe0\x80\x80", F + F),
        (b"\xed\xa0\x80", F + F),
        (b"\xf0\x80\x80\x80", F + F),
        (b"\xf4\x90\x80\x80", F),
        (b"\xf5\x80\x80\x80", F),
        (b"\xf8\x88\x80\x80\x80", F),
        (b"\xfc\x84\x80\x80\x80\x80", F),
        (b"\xc2\x9b", "\x9b"),
        ("中文😀é".encode(), "中文😀é"),
        (b"a\xe4\xb8b", "a" + F + "b"),
    ],
)
def test_decoder_table(data: bytes, text: str) -> None:
    assert Utf8Decoder().decode(data) == text
    split = Utf8Decoder()
    assert "".join(split.decode(data[i : i + 1]) for i in range(len(data))) == text


def test_incomplete_sequence_waits_for_more() -> None:
    d = Utf8Decoder()
    assert d.decode(b"\xe4\xb8") == ""
    assert d.decode(b"\xad") == "中"


@pytest.mark.parametrize(
    "params, values",
    [
        ("", [-1]),
        ("1;2", [1, 2]),
        (";5", [-1, 5]),
        ("0", [0]),
        ("65535;65536", [65535, -1]),
        ("99999999", [-1]),
        ("007", [7]),
    ],
)
def test_parse_params(params: str, values: list[int]) -> None:
    assert parse_params(params) == values
