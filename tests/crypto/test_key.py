from __future__ import annotations

import pytest

from pymosh.crypto import format_key, new_key, parse_key
from pymosh.errors import KeyFormatError


@pytest.mark.parametrize(
    "text, raw_hex",
    [
        ("AAECAwQFBgcICQoLDA0ODw", "000102030405060708090a0b0c0d0e0f"),
        ("1GXn/dJZzB9j1dJ0sqCIfQ", "d465e7fdd259cc1f63d5d274b2a0887d"),
    ],
)
def test_parse_and_format_vectors(text, raw_hex):
    assert parse_key(text) == bytes.fromhex(raw_hex)
    assert format_key(bytes.fromhex(raw_hex)) == text


@pytest.mark.parametrize(
    "text, message",
    [
        ("1GXn/dJZzB9j1dJ0sqCIfR", "Base64 key was not encoded 128-bit key."),
        ("1GXn/dJZzB9j1dJ0sqCIf", "Key must be 22 letters long."),
        ("1GXn/dJZzB9j1dJ0sqCIfQA", "Key must be 22 letters long."),
        ("", "Key must be 22 letters long."),
        ("1GXn/dJZzB9j1dJ0sqCI!Q", "Key must be well-formed base64."),
        ("1GXn/dJZzB9j1dJ0sqCI=Q", "Key must be well-formed base64."),
        ("1GXn-dJZzB9j1dJ0sqCIfQ", "Key must be well-formed base64."),
        ("1GXn dJZzB9j1dJ0sqCIfQ", "Key must be well-formed base64."),
    ],
)
def test_rejections_use_moshs_messages_and_hide_the_key(text, message):
    with pytest.raises(KeyFormatError) as info:
        parse_key(text)
    assert str(info.value) == message
    if text:
        assert text not in str(info.value) and text not in repr(info.value)


def test_only_four_final_characters_are_valid():
    accepted = []
    for last in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/":
        try:
            parse_key("1GXn/dJZzB9j1dJ0sqCIf" + last)
            accepted.append(last)
        except KeyFormatError:
            pass
    assert accepted == ["A", "Q", "g", "w"]


def test_new_key_round_trips_and_is_random():
    keys = {new_key() for _ in range(8)}
    assert len(keys) == 8
    for raw in keys:
        assert len(raw) == 16
        text = format_key(raw)
        assert len(text) == 22 and parse_key(text) == raw
