"""Global keys and the channel effects contract: operator (0), back (*), repeat (9)."""

from __future__ import annotations

from typing import Any

import pytest
from deferred_support import finished_value
from menus_support import VALIDATORS

from menus.definition import MenuError, MenuSource, load_menu_text
from menus.driver import Dialogue
from menus.engine import start, step
from menus.types import Digits, Effect, EffectResult, NoInput, Session, Start

MENU = """\
menu: k
languages: [zh, en]
start: a
defaults: {on_max: $operator}
nodes:
  a:
    type: ask
    text: {zh: 请选择, en: Choose}
    show_operator: true
    choices:
      "1": {text: {zh: 输入号码, en: Enter a number}, next: num}
  num:
    type: ask
    text: {zh: 请输入, en: Enter}
    digits: {min: 4, max: 18, allow_star: true}
    save: num
    next: short
  short:
    type: ask
    text: {zh: 一位数, en: One digit}
    digits: {min: 1, max: 1}
    save: d
    next: done
  done: {type: end, text: {zh: "好{num}{d}", en: "ok {num} {d}"}}
"""


_run = finished_value


class Transfer:
    """A channel that records transfers and answers with a scripted outcome."""

    def __init__(self, outcome: str) -> None:
        self.outcome = outcome
        self.seen: list[tuple[Effect, tuple[Any, ...]]] = []

    async def __call__(self, effect: Effect, session: Session) -> EffectResult:
        self.seen.append((effect, session.pending))
        if self.outcome == "answered":
            return EffectResult(ok=True, value={"outcome": "answered"})
        return EffectResult(ok=False, error=self.outcome)


async def _unused(effect: Effect, session: Session) -> EffectResult:
    raise AssertionError(f"booking effect {effect.name} was not expected")


def _dialogue() -> Dialogue:
    return Dialogue(MenuSource([load_menu_text(MENU, "k.yaml")]), _unused, VALIDATORS)


def test_operator_key_runs_a_channel_transfer_and_answered_ends_the_menu() -> None:
    dialogue, channel = _dialogue(), Transfer("answered")
    session, out = _run(dialogue.begin("k", channel="ivr", msisdn="", channel_effects=channel))
    assert out.text() == "请选择\n输入号码请按1。\n人工服务请按0。"  # show_operator lists it
    session, out = _run(dialogue.resume(session, Digits("0"), channel_effects=channel))
    assert [e for e, _ in channel.seen] == [Effect("channel.transfer", {"to": "operator"})]
    assert out.ends and out.text() == "感谢您的来电，再见。"


@pytest.mark.parametrize("outcome", ["busy", "noanswer", "failed"])
def test_a_failed_transfer_says_why_and_returns_to_the_question(outcome: str) -> None:
    dialogue, channel = _dialogue(), Transfer(outcome)
    session, _ = _run(dialogue.begin("k", channel="ivr", msisdn="", channel_effects=channel))
    session, out = _run(dialogue.resume(session, Digits("1"), channel_effects=channel))
    session, out = _run(dialogue.resume(session, Digits("0"), channel_effects=channel))
    assert not out.ends and session.node == "num"
    assert out.text() == "人工坐席忙，请稍后再试。\n请输入"
    assert session.history == ("a",)  # the question itself is not left on the stack


def test_without_channel_effects_the_transfer_is_unsupported() -> None:
    dialogue = _dialogue()
    session, _ = _run(dialogue.begin("k", channel="ussd", msisdn="", lang="en"))
    session, out = _run(dialogue.resume(session, Digits("0")))
    assert out.text() == (
        "For an operator, please call 12580.\nChoose\n1. Enter a number\n0. Operator"
    )
    assert session.node == "a" and not out.ends


def test_on_max_operator_that_fails_says_goodbye_instead_of_looping() -> None:
    dialogue, channel = _dialogue(), Transfer("busy")
    session, _ = _run(dialogue.begin("k", channel="ivr", msisdn="", channel_effects=channel))
    for _ in range(2):
        session, out = _run(dialogue.resume(session, NoInput(), channel_effects=channel))
        assert not out.ends
    session, out = _run(dialogue.resume(session, NoInput(), channel_effects=channel))
    assert len(channel.seen) == 1 and out.ends and out.text() == "人工坐席忙，请稍后再试。"


def test_pending_text_goes_to_the_channel_before_the_transfer_and_is_not_repeated() -> None:
    text = """\
menu: t
languages: [zh]
start: a
keys: {operator_to: hold}
nodes:
  a:
    type: ask
    text: {zh: 请选择}
    choices: {"1": {text: {zh: 一}, next: a}}
  hold: {type: say, text: {zh: 正在转接}, next: xfer}
  xfer:
    type: act
    effect: channel.transfer
    args: {to: operator}
    next: bye
    on_error: {busy: busy, noanswer: busy, failed: busy, unsupported: busy}
  busy: {type: say, text: {zh: 忙}, next: $back}
  bye: {type: end, text: {zh: 再见}}
"""
    channel = Transfer("noanswer")
    dialogue = Dialogue(MenuSource([load_menu_text(text, "t.yaml")]), _unused)
    session, _ = _run(dialogue.begin("t", channel="ivr", msisdn="", channel_effects=channel))
    session, out = _run(dialogue.resume(session, Digits("0"), channel_effects=channel))
    assert channel.seen[0][1][0].text == "正在转接"
    assert out.text() == "忙\n请选择\n一请按1。" and session.node == "a"


def test_repeat_key_asks_again_without_counting() -> None:
    menu = load_menu_text(MENU, "k.yaml")
    session = step(menu, start(menu, channel="ussd", msisdn=""), Start(), validators={}).session
    again = step(menu, session, Digits("9"), validators={})
    assert again.output is not None and again.output.text().startswith("请选择")
    assert again.session.counters == {}


def test_star_is_input_inside_an_allow_star_entry_and_back_elsewhere() -> None:
    menu = load_menu_text(MENU, "k.yaml")
    session = step(menu, start(menu, channel="ussd", msisdn=""), Start(), validators={}).session
    session = step(menu, session, Digits("1"), validators={}).session
    assert session.node == "num"
    entry = step(menu, session, Digits("12*4"), validators={})
    assert entry.session.node == "short" and entry.session.vars["num"] == "12X4"
    back = step(menu, entry.session, Digits("*"), validators={})
    assert back.session.node == "num"  # '*' at a plain digits entry is 'back'


def test_global_digit_keys_are_input_when_the_entry_could_be_that_short() -> None:
    menu = load_menu_text(MENU, "k.yaml")
    session = start(menu, channel="ussd", msisdn="").evolve(node="short")
    zero = step(menu, session, Digits("0"), validators={})
    assert zero.output is not None and zero.output.text() == "好0"  # 1-digit entry: 0 is input
    at_num = start(menu, channel="ussd", msisdn="").evolve(node="num")
    op = step(menu, at_num, Digits("0"), validators={})
    assert op.effect == Effect("channel.transfer", {"to": "operator"})  # 4+ digits: 0 = operator


@pytest.mark.parametrize("key", ["0", "9", "98", "00"])
def test_choices_may_not_use_global_or_paging_keys(key: str) -> None:
    text = MENU.replace('"1": {text: {zh: 输入号码', f'"{key}": {{text: {{zh: 输入号码')
    with pytest.raises(MenuError, match=f"choice key '{key}' is a"):
        load_menu_text(text, "k.yaml")
