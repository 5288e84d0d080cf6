"""Stub for the compiled _fastpath.codec (the twin: pymosh.network.codec)."""

from typing import Tuple

TRUNCATED: str
BAD_STREAM: str

Fields = Tuple[int, int, int, int, int, bytes, bytes]

def compress(data: bytes) -> bytes: ...
def decompress(data: bytes, limit: int) -> bytes: ...
def pack(
    protocol_version: int,
    old_num: int,
    new_num: int,
    ack_num: int,
    throwaway_num: int,
    diff: bytes,
    chaff: bytes,
) -> bytes: ...
def parse(data: bytes) -> Fields: ...
def unpack(data: bytes, limit: int) -> Fields: ...
