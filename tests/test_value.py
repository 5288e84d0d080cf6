"""pymosh.value: the records that replace dataclasses on the start-up path."""

from __future__ import annotations

import copy
import pickle

import pytest

from pymosh.frontend.escape import KeyAction
from pymosh.wire.protobuf import EchoAck, HostBytes, Instruction, Keystroke, Resize


def test_frozen_records_compare_hash_and_refuse_changes():
    assert Resize(80, 24) == Resize(80, 24)
    assert Resize(80, 24) != Resize(24, 80)
    assert Keystroke(b"a") != HostBytes(b"a")  # same fields, another type
    assert EchoAck(3) != 3
    assert len({HostBytes(b"x"), HostBytes(b"x"), HostBytes(b"y")}) == 2
    with pytest.raises(AttributeError):
        Resize(80, 24).width = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del HostBytes(b"x").data


def test_frozen_records_copy_and_pickle():
    resize = Resize(100, 30)
    assert copy.copy(resize) == resize
    assert copy.deepcopy(resize) == resize
    assert pickle.loads(pickle.dumps(resize)) == resize


def test_mutable_records_change_compare_and_do_not_hash():
    ins = Instruction(new_num=2)
    ins.ack_num = 1
    assert ins == Instruction(new_num=2, ack_num=1)
    assert copy.deepcopy(ins) == ins
    with pytest.raises(TypeError):
        hash(KeyAction())


def test_repr_names_the_fields():
    assert repr(Resize(80, 24)) == "Resize(width=80, height=24)"
    assert repr(KeyAction(quit=True)).startswith("KeyAction(send=b'', quit=True,")
