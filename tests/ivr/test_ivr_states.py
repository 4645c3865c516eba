"""The call state machine, reply deadlines, call records and the listen backlog."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import pytest_twisted
from ivr_toys import ToyDialogue
from twisted.internet.task import Clock

from ivr.server import BACKLOG, FastAGIFactory, listen_fastagi
from ivr.simulator import HANGUP, Keys, place_call
from ivr.states import (
    MOVES,
    TRANSITIONS,
    CallEvent,
    CallRecord,
    CallState,
    Deadlines,
    IllegalTransition,
    Phase,
    advance,
)

S, E = CallState, CallEvent


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


def test_every_state_is_reachable_and_can_close() -> None:
    seen, todo = {S.CONNECTED}, [S.CONNECTED]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(CallState)
    assert all(S.CLOSED in TRANSITIONS[s] for s in CallState if s is not S.CLOSED)
    assert TRANSITIONS[S.CLOSED] == frozenset()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (S.FINISHING, S.PLAYING),
        (S.CLOSED, S.PLAYING),
        (S.CONNECTED, S.COLLECTING),
        (S.RELEASING, S.THINKING),
        (S.COLLECTING, S.TRANSFERRING),
    ],
)
def test_illegal_transitions_raise(old: CallState, new: CallState) -> None:
    assert new not in TRANSITIONS[old]
    for event in CallEvent:
        try:
            moved = advance(Phase(old, S.THINKING if old is S.TRANSFERRING else None), event)
        except IllegalTransition:
            continue
        assert moved.state is not new, event


def run(*events: CallEvent, phase: Phase | None = None) -> list[CallState]:
    """The states a call passes through on ``events``."""
    phase = phase or Phase()
    states = []
    for event in events:
        phase = advance(phase, event)
        states.append(phase.state)
    return states


def test_the_machine_draws_the_documented_graph() -> None:
    """docs/ivr.md's diagram: which states may follow which."""
    drawn = {
        S.CONNECTED: {S.STARTING, S.RELEASING, S.CLOSED},
        S.STARTING: {S.PLAYING, S.TRANSFERRING, S.RELEASING, S.CLOSED},
        S.PLAYING: {S.COLLECTING, S.THINKING, S.FINISHING, S.RELEASING, S.CLOSED},
        S.COLLECTING: {S.THINKING, S.RELEASING, S.CLOSED},
        S.THINKING: {S.PLAYING, S.TRANSFERRING, S.RELEASING, S.CLOSED},
        S.TRANSFERRING: {S.THINKING, S.STARTING, S.RELEASING, S.CLOSED},
        S.FINISHING: {S.RELEASING, S.CLOSED},
        S.RELEASING: {S.CLOSED},
        S.CLOSED: set(),
    }
    assert drawn == TRANSITIONS


def test_a_call_from_answer_to_hangup() -> None:
    assert run(E.BEGIN, E.OUTPUT, E.COLLECT, E.INPUT, E.OUTPUT, E.INPUT, E.OUTPUT, E.FINAL,
               E.CLOSE) == [S.STARTING, S.PLAYING, S.COLLECTING, S.THINKING, S.PLAYING,
                            S.THINKING, S.PLAYING, S.FINISHING, S.CLOSED]


def test_a_caller_gone_mid_question_releases_then_closes() -> None:
    assert run(E.BEGIN, E.OUTPUT, E.COLLECT, E.GONE, E.CLOSE) == [
        S.STARTING, S.PLAYING, S.COLLECTING, S.RELEASING, S.CLOSED]


def test_no_read_app_collects_twice_in_one_question() -> None:
    assert run(E.BEGIN, E.OUTPUT, E.COLLECT, E.COLLECT, E.INPUT)[-3:] == [
        S.COLLECTING, S.COLLECTING, S.THINKING]


@pytest.mark.parametrize(("asked_in", "events"), [
    (S.STARTING, (E.BEGIN,)),  # a menu that transfers from its first node
    (S.THINKING, (E.BEGIN, E.OUTPUT, E.INPUT)),
])
def test_a_transfer_returns_to_where_it_was_asked(asked_in: CallState, events) -> None:
    assert run(*events, E.TRANSFER, E.TRANSFERRED)[-2:] == [S.TRANSFERRING, asked_in]


@pytest.mark.parametrize("events", [
    (E.TRANSFERRED,),  # no transfer in flight
    (E.BEGIN, E.TRANSFER, E.GONE, E.TRANSFERRED),  # released meanwhile: a bug in the driver
    (E.BEGIN, E.OUTPUT, E.TRANSFER),  # only the menu transfers, and it is not running
    (E.BEGIN, E.OUTPUT, E.INPUT, E.FINAL),  # the final output is played first
    (E.CLOSE, E.CLOSE),
    (E.CLOSE, E.GONE),
])
def test_events_a_state_does_not_take_raise(events) -> None:
    with pytest.raises(IllegalTransition):
        run(*events)


def test_every_event_either_moves_as_the_table_says_or_raises() -> None:
    for state in CallState:
        for event in CallEvent:
            if event is E.TRANSFERRED:
                continue
            phase = Phase(state)
            if (state, event) in MOVES:
                assert advance(phase, event).state is MOVES[state, event]
            else:
                with pytest.raises(IllegalTransition):
                    advance(phase, event)
            assert phase == Phase(state)  # a value: advancing never changes it


@pytest.mark.parametrize(
    ("words", "seconds"),
    [
        (("ANSWER",), 10.0),
        (("HANGUP",), 10.0),
        (("GET", "VARIABLE", "DIALSTATUS"), 10.0),
        (("STREAM", "FILE", "x", ""), 65.0),
        (("SAY", "DIGITS", "0123456789", ""), 20.0),
        (("GET", "DATA", "x", "5000", "18"), 60 + 5 * 19 + 5.0),
        (("EXEC", "Dial", "PJSIP/op,30"), 4 * 3600.0),
        (("EXEC", "Read", "K,a&b&c,1,,1,5"), 3 * 60 + 5 * 2 + 5.0),
        (("GET", "FULL", "VARIABLE", "${READSTATUS}"), 10.0),
    ],
)
def test_reply_deadline_per_command(words: tuple[str, ...], seconds: float) -> None:
    assert Deadlines().for_command(words) == pytest.approx(seconds)


def test_call_record_masks_numbers() -> None:
    record = CallRecord(call="1.1", menu="booking", caller_tail="8000", started=0.0)
    record.visit("welcome")
    record.visit("welcome")
    record.visit("ask_id")
    record.failures.append("STREAM FILE hotline/110105194912310021 result=-1")
    fields = record.fields()
    assert fields["path"] == "welcome>ask_id"
    assert "110105194912310021" not in str(fields) and "0021" in fields["failures"][0]


def test_listen_backlog_absorbs_a_burst_of_connects() -> None:
    """200 connects while the reactor is busy: with Twisted's default backlog (50) the kernel
    drops SYNs past the 51st and connect() stalls for a 1 s retry; ours completes them all."""
    assert BACKLOG >= 1000
    port = listen_fastagi(_reactor(), 0, FastAGIFactory(ToyDialogue(), clock=Clock()))
    socks: list[socket.socket] = []
    try:
        for _ in range(200):  # the reactor does not run in between: nothing is accepted
            socks.append(socket.create_connection(("127.0.0.1", port.getHost().port), 0.5))
        assert len(socks) == 200
    finally:
        for s in socks:
            s.close()
        port.stopListening()


@pytest_twisted.ensureDeferred
async def test_result_minus_one_then_hangup_is_a_hangup_with_its_point() -> None:
    records: list[CallRecord] = []
    factory = FastAGIFactory(ToyDialogue(), clock=_reactor(), on_record=records.append)
    port = listen_fastagi(_reactor(), 0, factory)
    try:
        sim = await place_call(_reactor(), port.getHost().port, ["1", HANGUP])
        await factory.when_idle()
    finally:
        await port.stopListening()
    assert sim.events("hangup") == ["caller"]
    (record,) = records
    assert record.result == "hangup" and record.hangup_at == "playing:id"
    assert record.path == ["main", "id"] and record.inputs == 1


@pytest_twisted.ensureDeferred
async def test_slow_keying_past_the_reply_deadline_closes_the_call() -> None:
    """Simulated time on a shared Clock: a GET DATA that takes longer than its deadline."""
    clock = Clock()
    records: list[CallRecord] = []
    deadlines = Deadlines(prompt_s=1.0, margin_s=0.0)  # STREAM FILE deadline 1 s < 2 s prompt
    factory = FastAGIFactory(
        ToyDialogue(), clock=clock, deadlines=deadlines, on_record=records.append
    )
    port = listen_fastagi(_reactor(), 0, factory)
    try:
        sim = await place_call(_reactor(), port.getHost().port, [Keys("1")], clock=clock)
        await factory.when_idle()
    finally:
        await port.stopListening()
    assert sim.commands == ["ANSWER", 'STREAM FILE hotline/welcome "0123456789*"']
    assert records[0].result == "timeout" and records[0].failures


@pytest_twisted.ensureDeferred
async def test_keys_after_the_inter_digit_timeout_are_cut_off() -> None:
    """An ID keyed with a 4 s pause after 5 digits: GET DATA (3 s) returns 5 digits + timeout."""
    dialogue = ToyDialogue()
    factory = FastAGIFactory(dialogue, clock=_reactor())
    port = listen_fastagi(_reactor(), 0, factory)
    try:
        script = ["1", Keys("11010", after=0.5, gap=0.3), HANGUP]
        sim = await place_call(_reactor(), port.getHost().port, script)
        slow = await place_call(
            _reactor(), port.getHost().port, ["1", Keys("110105194912310021", after=6.0)]
        )
        await factory.when_idle()
    finally:
        await port.stopListening()
    assert "200 result=11010 (timeout)" in sim.events("reply")
    assert "200 result= (timeout)" in slow.events("reply")  # first digit after 5 s: silence
    assert sim.elapsed > 0
