"""The sender's invariant (network/sender.py): a state number is resent with a freshly
computed diff, so ``diff_from`` must be a pure function of the two states as ``__eq__`` and
``copy()`` see them, and stay so while acknowledgements ``subtract`` from every state.
Otherwise the same (old_num, new_num) goes out with another diff and the fragmenter (like
Mosh) refuses it, ending the session.

The model below is the sender's life cycle: the application changes the live state, a send
copies it under a new number (or resends an equal one under the old number), an ack drops
the older states and subtracts the acknowledged one from the rest. Every diff ever produced
for a pair of numbers must be the same bytes."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pymosh.statesync.complete import CompleteTerminal
from pymosh.statesync.history import HistoryWindow
from pymosh.statesync.user_stream import UserStream
from pymosh.wire.protobuf import FEATURE_CLIPBOARD, FEATURE_STREAMS, Hello, Resize


def _host_op(state: CompleteTerminal, op: Tuple[str, int]) -> None:
    kind, n = op
    if kind == "frame":
        state.streams.push(b"f%d" % n * (1 + n % 5))
    elif kind == "line":
        assert state.history is not None
        state.history.append((state.history.end + n % 3, b"line %d" % n, bool(n & 1)))
    elif kind == "clear":
        assert state.history is not None
        history = state.history
        history.clears += 1
        history.clear_seq = history.end
    elif kind == "text":
        state.act(b"row %d\r\n" % n)
    elif kind == "clip":
        state.act(b"\x1b]52;%s;%s\x07" % (b"cps"[n % 3 : n % 3 + 1], b"aGk=" if n & 1 else b"eW8="))
    elif kind == "echo":
        state.echo_ack += 1


def _user_op(state: UserStream, op: Tuple[str, int]) -> None:
    kind, n = op
    if kind == "frame":
        state.push_stream_frame(b"u%d" % n * (1 + n % 4))
    elif kind == "keys":
        state.push_keystroke(b"k%d" % n)
    elif kind == "resize":
        state.push_resize(80 + n % 3, 24)


def _run_sender(initial: Any, ops: List[Tuple[str, Any]], apply_op: Any) -> None:
    """``ops``: ("app", op) changes the live state; ("send", back) sends the live state
    from the assumed receiver state, as the sender does: the oldest unacknowledged one, or
    (``back``) the newest sent before this send; ("ack", i) acknowledges the i-th state."""
    current = initial.copy()
    sent: List[Tuple[int, Any]] = [(0, initial.copy())]
    diffs: Dict[Tuple[int, int], bytes] = {}
    for kind, arg in ops:
        if kind == "app":
            apply_op(current, arg)
        elif kind == "send":
            back_num, back = sent[-1]
            old_num, old = sent[-1] if arg else sent[0]
            if current == back:
                num = back_num
            else:
                num = back_num + 1
                sent.append((num, current.copy()))
            diff = current.diff_from(old)
            # an equal state and its copy give the same diff
            assert diff == sent[-1][1].diff_from(old) == current.copy().diff_from(old)
            assert diffs.setdefault((old_num, num), diff) == diff, (old_num, num)
        elif kind == "ack":
            del sent[: arg % len(sent)]
            front = sent[0][1]
            current.subtract(front)
            for _, state in reversed(sent):
                state.subtract(front)


HOST_OPS = st.tuples(
    st.sampled_from(["frame", "line", "clear", "text", "clip", "echo"]), st.integers(0, 50)
)
USER_OPS = st.tuples(st.sampled_from(["frame", "keys", "resize"]), st.integers(0, 50))


def _sender_ops(app: Any) -> Any:
    return st.lists(
        st.one_of(
            st.tuples(st.just("app"), app),
            st.tuples(st.just("send"), st.booleans()),
            st.tuples(st.just("ack"), st.integers(0, 2)),
        ),
        max_size=60,
    )


@settings(max_examples=300, deadline=None)
@given(_sender_ops(HOST_OPS))
# a frame sent from the newest state, that state acknowledged, the same number resent from
# it: the ack trimmed the log in between
@example(
    [
        ("app", ("frame", 1)),
        ("send", True),
        ("app", ("frame", 2)),
        ("send", True),
        ("ack", 1),
        ("send", False),
    ]
)
def test_host_state_diff_is_pure_across_resends_and_acks(ops):
    initial = CompleteTerminal(20, 5)
    initial.hello = Hello(1, FEATURE_STREAMS | FEATURE_CLIPBOARD, 100)
    initial.history = HistoryWindow()
    _run_sender(initial, ops, _host_op)


@settings(max_examples=300, deadline=None)
@given(_sender_ops(USER_OPS))
def test_user_stream_diff_is_pure_across_resends_and_acks(ops):
    initial = UserStream()
    initial.push_hello(Hello(1, FEATURE_STREAMS, 0))
    _run_sender(initial, ops, _user_op)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(HOST_OPS, max_size=20),
    st.lists(HOST_OPS, max_size=20),
    st.lists(HOST_OPS, max_size=10),
)
def test_equal_host_states_diff_equally(common, extra_a, base_ops):
    x = CompleteTerminal(20, 5)
    x.hello = Hello(1, FEATURE_STREAMS | FEATURE_CLIPBOARD, 100)
    x.history = HistoryWindow()
    for op in base_ops:
        _host_op(x, op)
    a, b = x.copy(), x.copy()
    for op in common:
        _host_op(a, op)
        _host_op(b, op)
    if a == b:
        assert a.diff_from(x) == b.diff_from(x) == a.copy().diff_from(x)
    for op in extra_a:
        _host_op(a, op)
    if a == b:
        assert a.diff_from(x) == b.diff_from(x)


def test_user_stream_resize_is_an_event():
    s = UserStream()
    s.push_resize(3, 4)
    assert s.events == [Resize(3, 4)]
