"""Every datagram captured between stock mosh 1.4.0 peers: decoded layer by layer to the
recorded values, then re-encoded byte for byte (instruction, zlib stream, datagram)."""

from __future__ import annotations

import json
import os

import pytest

from pymosh.crypto import parse_key
from pymosh.network.fragment import Fragment, FragmentAssembly, Fragmenter, decompress
from pymosh.wire.protobuf import (
    decode_host_message,
    decode_instruction,
    decode_user_message,
    encode_host_message,
    encode_instruction,
    encode_user_message,
)


def _capture(shared_dir: str) -> dict:
    with open(os.path.join(shared_dir, "vectors", "mosh-1.4.0-loopback.json")) as fh:
        return json.load(fh)


def test_capture_is_present(shared_dir):
    cap = _capture(shared_dir)
    assert parse_key(cap["key_base64"]).hex() == cap["key_hex"]
    assert len(cap["datagrams"]) >= 7


def _datagrams():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "..", "shared", "vectors", "mosh-1.4.0-loopback.json")
    with open(path) as fh:
        return [pytest.param(d, id=d["name"]) for d in json.load(fh)["datagrams"]]


@pytest.mark.parametrize("rec", _datagrams())
def test_real_datagram(crypto_impl, shared_dir, rec):
    session = crypto_impl.Session(parse_key(_capture(shared_dir)["key_base64"]))
    direction = {
        "client-to-server": crypto_impl.TO_SERVER,
        "server-to-client": crypto_impl.TO_CLIENT,
    }[rec["direction"]]
    datagram = bytes.fromhex(rec["datagram_hex"])

    # decode every layer
    seq, ts, reply, payload = session.open_datagram(datagram, direction)
    assert (seq, ts, reply) == (rec["seq"], rec["timestamp"], rec["timestamp_reply"])
    frag = Fragment.parse(payload)
    assert (frag.id, frag.num, frag.final) == (
        rec["fragment_id"],
        rec["fragment_num"],
        rec["final"],
    )
    instruction_bytes = bytes.fromhex(rec["instruction_hex"])
    assert decompress(frag.contents) == instruction_bytes
    ins = FragmentAssembly().add(frag)
    assert ins == decode_instruction(instruction_bytes)
    assert (
        ins.protocol_version,
        ins.old_num,
        ins.new_num,
        ins.ack_num,
        ins.throwaway_num,
        ins.diff.hex(),
        ins.chaff.hex(),
    ) == (
        rec["protocol_version"],
        rec["old_num"],
        rec["new_num"],
        rec["ack_num"],
        rec["throwaway_num"],
        rec["diff_hex"],
        rec["chaff_hex"],
    )
    if direction == crypto_impl.TO_SERVER:
        assert encode_user_message(decode_user_message(ins.diff)) == ins.diff
    else:
        assert encode_host_message(decode_host_message(ins.diff)) == ins.diff

    # re-encode every layer
    assert encode_instruction(ins) == instruction_bytes
    fragmenter = Fragmenter()
    fragmenter.next_instruction_id = rec["fragment_id"] - 1
    assert fragmenter.make_fragments(ins, 1252) == [frag]
    assert frag.to_bytes() == payload
    assert session.seal_datagram(direction, seq, ts, reply, payload) == datagram
