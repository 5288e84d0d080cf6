"""The sender's heartbeat hooks for a program's policy (Mosh never moves a heartbeat):
`heartbeat_only` says the last timer pass found nothing due but the heartbeat, and
`schedule_heartbeat` moves only that; pymosh-server's use of them (HeartbeatPhase)."""

from __future__ import annotations

from pymosh.frontend.heartbeat import ANSWER_WINDOW, HOLD, HeartbeatPhase
from pymosh.network.sender import ACK_DELAY, ACK_INTERVAL

from .test_idle import Wakes, pair, simulate


def idle_pair():
    """A client and server after contact and 10 s idle; the server's timer pass is fresh."""
    c, s = pair()
    c.transport.current_state.push_keystroke(b"x")
    now = simulate([Wakes(c), Wakes(s)], 0, 10_000)
    s.wait_time(now)
    return c, s, now


def test_an_idle_sender_has_only_its_heartbeat_due_and_it_can_move():
    _, s, now = idle_pair()
    sender = s.transport.sender
    assert sender.heartbeat_only()
    due = sender.next_ack_time
    assert now < due <= now + ACK_INTERVAL
    sender.schedule_heartbeat(due + HOLD)
    assert s.wait_time(now) == due + HOLD - now
    assert s.send(due) == 0  # not at the old time ...
    assert s.send(due + HOLD) == 1  # ... at the new one, and the timer restarts from there
    assert sender.next_ack_time == due + HOLD + ACK_INTERVAL
    sender.schedule_heartbeat(due + HOLD + 10)  # brought forward
    assert s.send(due + HOLD + 10) == 1


def test_a_held_heartbeat_delays_neither_output_nor_a_data_ack():
    c, s, now = idle_pair()
    sender = s.transport.sender
    sender.schedule_heartbeat(now + 10 * ACK_INTERVAL)
    s.transport.current_state.push_keystroke(b"output")  # the state changes
    assert s.wait_time(now) <= sender.send_mindelay + s.transport.send_interval()
    assert not sender.heartbeat_only()
    c2, s2, now2 = idle_pair()
    sender2 = s2.transport.sender
    sender2.schedule_heartbeat(now2 + 10 * ACK_INTERVAL)
    c2.transport.current_state.push_keystroke(b"input")  # the client's data needs an ack
    c2.wait_time(now2)
    assert c2.send(now2 + 300) == 1
    assert s2.receive(now2 + 301) == 1
    assert s2.wait_time(now2 + 301) <= ACK_DELAY
    assert not sender2.heartbeat_only()


def test_a_shutting_down_sender_is_not_heartbeat_only():
    _, s, now = idle_pair()
    s.transport.start_shutdown(now)
    s.wait_time(now)
    assert not s.transport.sender.heartbeat_only()


def test_the_phase_answers_a_client_heartbeat_not_an_ack_of_ours():
    _, s, now = idle_pair()
    sender = s.transport.sender
    due = sender.next_ack_time
    phase = HeartbeatPhase()
    assert not phase.answer(sender, None, now)  # the client's first datagram
    assert not phase.answer(sender, now - 200, now)  # an ack, 200 ms after its last
    assert sender.next_ack_time == due
    at = due - ANSWER_WINDOW  # our heartbeat due within the window: sent now
    assert phase.answer(sender, at - ACK_INTERVAL, at)
    assert sender.next_ack_time == at
    sender.schedule_heartbeat(at + ANSWER_WINDOW + 1)  # just sent one: not again
    assert not phase.answer(sender, at - ACK_INTERVAL, at)


def test_the_phase_holds_once_for_an_expected_client_and_never_for_a_silent_one():
    _, s, now = idle_pair()
    sender = s.transport.sender
    due = sender.next_ack_time
    phase = HeartbeatPhase()
    assert not phase.hold(sender, None)
    assert not phase.hold(sender, due - ACK_INTERVAL - HOLD - 1)  # silent: late > HOLD
    assert not phase.hold(sender, due - ACK_INTERVAL + HOLD + 1)  # comes after the hold
    assert sender.next_ack_time == due
    assert phase.hold(sender, due - ACK_INTERVAL + HOLD / 2)  # expected within the hold
    assert sender.next_ack_time == due + HOLD
    assert not phase.hold(sender, due + HOLD - ACK_INTERVAL)  # held once only
    assert sender.next_ack_time == due + HOLD
