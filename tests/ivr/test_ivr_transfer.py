"""Transfer to an operator (channel.transfer → EXEC Dial → DIALSTATUS) and the caller effect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from booking.idcard import is_valid_resident_id
from ivr.channel import ChannelEffects, transfer_result
from ivr.render import prompt_name
from ivr.server import FastAGIFactory, listen_fastagi
from ivr.simulator import HANGUP, Dial, place_call
from ivr.states import CallRecord, CallState
from menus.definition import DEFAULT_MESSAGES, MenuSource, load_menu
from menus.driver import Dialogue
from menus.types import Effect, EffectResult, Say, Session

ROOT = Path(__file__).resolve().parents[2]


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


@pytest.mark.parametrize(
    ("status", "result"),
    [
        ("ANSWER", EffectResult(ok=True, value={"outcome": "answered"})),
        ("BUSY", EffectResult(ok=False, error="busy")),
        ("NOANSWER", EffectResult(ok=False, error="noanswer")),
        ("CHANUNAVAIL", EffectResult(ok=False, error="failed")),
        ("CANCEL", EffectResult(ok=False, error="failed")),
        ("", EffectResult(ok=False, error="failed")),
    ],
)
def test_dialstatus_mapping(status: str, result: EffectResult) -> None:
    assert transfer_result(status) == result


async def _no_command(*words: str, **kw: Any) -> Any:
    raise AssertionError(f"no command expected, got {words}")


@pytest_twisted.ensureDeferred
async def test_caller_effect_and_unconfigured_transfer() -> None:
    outcomes: list[str] = []
    session = Session(menu="m", version="v", node="n", channel="ivr")

    def effects(msisdn: str) -> ChannelEffects:
        return ChannelEffects(
            _no_command,
            msisdn=msisdn,
            targets={},
            dial_timeout_s=30,
            on_event=lambda event: None,
            on_outcome=outcomes.append,
        )

    known = await effects("8613912345678").run(Effect("channel.caller"), session)
    assert known == EffectResult(ok=True, value={"tail": "5678"})
    withheld = await effects("").run(Effect("channel.caller"), session)
    assert withheld == EffectResult(ok=False, error="withheld")
    transfer = await effects("").run(Effect("channel.transfer", {"to": "operator"}), session)
    assert transfer == EffectResult(ok=False, error="unsupported") and outcomes == ["unsupported"]
    other = await effects("").run(Effect("channel.record"), session)
    assert other.error == "unsupported"


@pytest_twisted.async_yield_fixture
async def operator_line():
    menus = MenuSource([load_menu(Path(__file__).parent / "menus/operator.yaml")])

    async def no_booking(effect: Effect, session: Session) -> EffectResult:
        return EffectResult(ok=False, error="error")

    dialogue = Dialogue(menus, no_booking, {"resident_id": is_valid_resident_id})
    records: list[CallRecord] = []
    states: list[CallState] = []
    factory = FastAGIFactory(
        dialogue,
        clock=_reactor(),
        on_record=records.append,
        transfer_targets={"operator": "PJSIP/operator"},
        dial_timeout_s=20,
    )
    port = listen_fastagi(_reactor(), 0, factory)
    yield factory, port.getHost().port, records, states
    await factory.when_idle()
    await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_operator_answers(operator_line) -> None:
    factory, port, records, _ = operator_line
    sim = await place_call(_reactor(), port, ["0", Dial("ANSWER", talk_s=90)])
    await factory.when_idle()
    assert "EXEC Dial PJSIP/operator,20" in sim.commands
    assert "GET VARIABLE DIALSTATUS" in sim.commands
    assert sim.events("aborted") == [] and sim.commands[-1] == "HANGUP"
    assert records[0].transfer == "answered" and records[0].result == "completed"
    assert sim.elapsed >= 90  # the call lasted as long as the operator talked


@pytest.mark.parametrize(("status", "outcome"), [("BUSY", "busy"), ("NOANSWER", "noanswer")])
@pytest_twisted.ensureDeferred
async def test_operator_busy_returns_to_the_question(operator_line, status, outcome) -> None:
    factory, port, records, _ = operator_line
    sim = await place_call(_reactor(), port, ["0", Dial(status)])  # then silence
    await factory.when_idle()
    dial = sim.commands.index("EXEC Dial PJSIP/operator,20")
    assert sim.commands[dial + 1] == "GET VARIABLE DIALSTATUS"
    asked = [c for c in sim.commands[dial + 2 :] if c.startswith(("GET DATA", "EXEC Read"))]
    assert asked  # the question was asked again
    busy = prompt_name(Say(DEFAULT_MESSAGES["operator_busy"]["zh"]), "zh")
    assert busy in sim.played  # "the operator is busy" was said
    assert records[0].transfer == outcome and records[0].result == "completed"


@pytest_twisted.ensureDeferred
async def test_caller_hangs_up_while_it_rings(operator_line) -> None:
    factory, port, records, _ = operator_line
    sim = await place_call(_reactor(), port, ["0", HANGUP])
    await factory.when_idle()
    # EXEC and GET VARIABLE still run on a dead channel; nothing else is sent after
    dial = sim.commands.index("EXEC Dial PJSIP/operator,20")
    assert sim.commands[dial + 1 :] == ["GET VARIABLE DIALSTATUS"]
    assert records[0].transfer == "failed" and records[0].result == "hangup"
    assert records[0].hangup_at == "transferring:welcome"


@pytest_twisted.ensureDeferred
async def test_a_menu_that_transfers_from_its_first_node() -> None:
    menus = MenuSource([load_menu(Path(__file__).parent / "menus/transfer_first.yaml")])

    async def no_booking(effect: Effect, session: Session) -> EffectResult:
        return EffectResult(ok=False, error="error")

    records: list[CallRecord] = []
    factory = FastAGIFactory(
        Dialogue(menus, no_booking),
        clock=_reactor(),
        on_record=records.append,
        transfer_targets={"operator": "SIP/op"},
    )
    port = listen_fastagi(_reactor(), 0, factory)
    try:
        sim = await place_call(_reactor(), port.getHost().port, [Dial("BUSY")])
        await factory.when_idle()
    finally:
        await port.stopListening()
    assert sim.commands[:2] == ["EXEC Dial SIP/op,30", "GET VARIABLE DIALSTATUS"]
    assert records[0].transfer == "busy" and records[0].result == "completed"
    assert records[0].end_node == "busy"
