"""The async driver under Twisted: effects may return Deferreds or be coroutines; failures
become the ``error`` route. Coroutines are driven by ``Deferred.fromCoroutine``, no reactor."""

from __future__ import annotations

from typing import Any

from deferred_support import finished_value
from menus_support import GOOD_ID_KEYED, TCODE, VALIDATORS, canned, rewire
from twisted.internet.defer import Deferred, succeed

from menus.definition import MenuDefinition, MenuSource, load_menu_text
from menus.driver import Dialogue
from menus.types import Digits, Effect, EffectResult, HangUp, Output, SayDigits, Session

_result = finished_value


def test_full_booking_with_deferred_effects(booking_menu: MenuDefinition) -> None:
    answers = canned()
    calls: list[tuple[str, str]] = []

    def run_effect(effect: Effect, session: Session) -> Deferred[EffectResult]:
        calls.append((effect.name, session.msisdn))
        return succeed(answers(effect))

    dialogue = Dialogue(MenuSource([booking_menu]), run_effect, VALIDATORS)
    session, out = _result(dialogue.begin("booking", channel="ussd", msisdn="8613800000000"))
    assert out.text().startswith("欢迎使用12580预约挂号")
    for key in ["1", "1", "1", "1", GOOD_ID_KEYED, "1"]:
        session, out = _result(dialogue.resume(session, Digits(key)))
    assert out.ends and SayDigits(TCODE) in out.parts
    assert calls == [
        (name, "8613800000000")
        for name in ("hospital_start", "registered_ids", "departments", "open_days", "sessions",
                     "book")
    ]


def test_on_begin_hears_each_dialogue_start_before_any_effect(booking_menu: MenuDefinition) -> None:
    heard: list[tuple[str, str, str]] = []

    def run_effect(effect: Effect, session: Session) -> Deferred[EffectResult]:
        heard.append(("effect", effect.name, session.node))
        return succeed(canned()(effect))

    def on_begin(session: Session) -> None:
        heard.append(("begin", session.msisdn, session.node))

    dialogue = Dialogue(MenuSource([booking_menu]), run_effect, VALIDATORS, on_begin=on_begin)
    session, _ = _result(dialogue.begin("booking", channel="ivr", msisdn="8613800000000"))
    assert heard == [("begin", "8613800000000", "begin"), ("effect", "hospital_start", "begin")]
    _result(dialogue.resume(session, Digits("1")))
    assert [h[0] for h in heard] == ["begin", "effect", "effect", "effect"]  # resume: no begin


def test_driver_waits_for_a_slow_effect(booking_menu: MenuDefinition) -> None:
    pending: list[Deferred[EffectResult]] = []

    def run_effect(effect: Effect, session: Session) -> Deferred[EffectResult]:
        pending.append(Deferred())
        return pending[-1]

    dialogue = Dialogue(MenuSource([booking_menu]), run_effect, VALIDATORS)
    begun: list[tuple[Session, Output]] = []
    Deferred.fromCoroutine(dialogue.begin("booking", channel="ivr", msisdn="")).addCallback(
        begun.append)
    assert begun == [] and len(pending) == 1
    pending.pop().callback(EffectResult(True, canned()(Effect("hospital_start", {})).value))
    session = begun[0][0]
    done: list[tuple[Session, Output]] = []
    Deferred.fromCoroutine(dialogue.resume(session, Digits("1"))).addCallback(done.append)
    assert done == [] and len(pending) == 1
    pending[0].callback(EffectResult(True, []))  # registered_ids: none
    assert done == [] and len(pending) == 2
    pending[1].callback(EffectResult(True, [{"id": "nk", "name": "内科"}]))
    assert done and done[0][0].node == "pick_dept"
    assert "内科请按1。" in done[0][1].text()


def test_effect_that_raises_takes_the_error_route(booking_menu: MenuDefinition) -> None:
    async def run_effect(effect: Effect, session: Session) -> EffectResult:
        raise ConnectionError("redis down")

    dialogue = Dialogue(MenuSource([booking_menu]), run_effect, VALIDATORS)
    session, _ = _result(dialogue.begin("booking", channel="ussd", msisdn=""))
    session, out = _result(dialogue.resume(session, Digits("1")))
    assert out.ends and session.ended
    assert out.text() == "抱歉，系统繁忙，请稍后再试。"


def test_effect_returning_junk_is_an_error_and_plain_values_are_accepted(
    booking_menu: MenuDefinition,
) -> None:
    def junk(effect: Effect, session: Session) -> Any:
        return {"ok": True}

    dialogue = Dialogue(MenuSource([booking_menu]), junk, VALIDATORS)
    session, _ = _result(dialogue.begin("booking", channel="ussd", msisdn=""))
    _, out = _result(dialogue.resume(session, Digits("1")))
    assert out.ends and "系统繁忙" in out.text()

    def plain(effect: Effect, session: Session) -> EffectResult:
        return EffectResult(True, [{"id": "nk", "name": "内科"}])

    dialogue = Dialogue(MenuSource([booking_menu]), plain, VALIDATORS)
    session, _ = _result(dialogue.begin("booking", channel="ussd", msisdn=""))
    session, out = _result(dialogue.resume(session, Digits("1")))  # a list for every effect:
    assert session.node == "pick_hospital" and "1.内科" in out.text()  # no hospital chosen yet


def test_hangup_resume_ends_quietly(booking_menu: MenuDefinition) -> None:
    dialogue = Dialogue(MenuSource([booking_menu]), lambda e, s: succeed(canned()(e)), VALIDATORS)
    session, _ = _result(dialogue.begin("booking", channel="ivr", msisdn=""))
    session, out = _result(dialogue.resume(session, HangUp()))
    assert session.ended and out == Output((), None)


LOOP = """\
menu: spin
languages: [en]
start: a
nodes:
  a: {type: act, effect: ping, next: z}
  z: {type: end, text: {en: bye}}
"""
SAY_LOOP = """\
menu: spin2
languages: [en]
start: load
nodes:
  load: {type: act, effect: ping, save: items, next: a}
  a: {type: ask, text: {en: pick}, list: items, save: x, next: a, empty: b}
  b: {type: say, text: {en: none}, next: z}
  z: {type: end, text: {en: bye}}
"""


def test_effect_loops_and_engine_loops_end_with_the_error_message() -> None:
    # the loader rejects both loops; rewired past it, the driver's own guards still hold
    spin = rewire(load_menu_text(LOOP, "spin.yaml"), "a", next="a")
    spin2 = rewire(load_menu_text(SAY_LOOP, "spin2.yaml"), "b", next="a")
    source = MenuSource([spin, spin2])
    count = 0

    async def run_effect(effect: Effect, session: Session) -> EffectResult:
        nonlocal count
        count += 1
        return EffectResult(True, [])

    dialogue = Dialogue(source, run_effect, max_effects=7)
    session, out = _result(dialogue.begin("spin", channel="ussd", msisdn=""))
    assert count == 7 and out.ends and session.ended
    assert out.text() == "The service is busy. Please try again later."
    session, out = _result(dialogue.begin("spin2", channel="ussd", msisdn=""))
    assert out.ends and out.text().endswith("The service is busy. Please try again later.")


def test_resume_uses_the_version_the_session_started_on(booking_menu: MenuDefinition) -> None:
    source = MenuSource([booking_menu])
    dialogue = Dialogue(source, lambda e, s: succeed(canned()(e)), VALIDATORS)
    session, _ = _result(dialogue.begin("booking", channel="ussd", msisdn=""))
    text = "menu: booking\nlanguages: [zh]\nstart: a\nnodes:\n  a: {type: end, text: {zh: 新版}}\n"
    source.add(load_menu_text(text, "new.yaml"))
    session, _ = _result(dialogue.resume(session, Digits("1")))
    assert session.node == "pick_dept"
    _, fresh = _result(dialogue.begin("booking", channel="ussd", msisdn=""))
    assert fresh.text() == "新版"
