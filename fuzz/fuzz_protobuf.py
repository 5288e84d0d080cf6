"""Fuzz the protobuf decoders (Instruction, UserMessage, HostMessage).

Input: byte 0 picks the decoder (0 instruction, 1 user message, 2 host message; every
decoder is tried on the rest either way).  Any exception other than DecodeError is a
bug.  Whatever decodes must survive a round trip: encode(decode(x)) decodes to the same
value and re-encodes to the same bytes (the encoding is canonical).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402,F401  (puts src/ on sys.path)
from common import run_atheris  # noqa: E402

from pymosh.errors import DecodeError  # noqa: E402
from pymosh.wire import protobuf as pb  # noqa: E402

CODECS = (
    (pb.decode_instruction, pb.encode_instruction),
    (pb.decode_user_message, pb.encode_user_message),
    (pb.decode_host_message, pb.encode_host_message),
)


def check(data: bytes, impls=None) -> None:
    first = data[0] % 3 if data else 0
    body = data[1:]
    for k in range(3):
        decode, encode = CODECS[(first + k) % 3]
        try:
            value = decode(body)
        except DecodeError:
            continue
        again = encode(value)
        assert decode(again) == value, (body.hex(), value)
        assert encode(decode(again)) == again


def main() -> None:
    run_atheris("protobuf", check, None)


if __name__ == "__main__":
    main()
