"""The language: escalating prompts, read-back, timeouts in Wait, route, set, include."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from menus.definition import MenuDefinition, MenuError, load_menu, load_menu_text
from menus.engine import start, step
from menus.types import Digits, EffectResult, NoInput, Output, SayDigits, Session, Start, Wait

PHONE = """\
menu: p
languages: [zh, en]
start: ask
defaults: {timeout: 6, inter_timeout: 2.5, noinput: 2, nomatch: 3, on_max: $sms}
nodes:
  ask:
    type: ask
    text: {zh: 欢迎。请输入11位手机号码。, en: Welcome. Enter your 11-digit mobile number.}
    short: {zh: 请输入手机号码。, en: Enter your mobile number.}
    silence:
      - {zh: 没有听到您的输入。, en: We did not hear you.}
    invalid:
      - {zh: 号码有误。, en: That number is not valid.}
      - {zh: 号码应为11位，以1开头。, en: Mobile numbers have 11 digits and start with 1.}
    digits: {min: 11, max: 11, validator: msisdn, readback: true}
    save: phone
    next: done
  done: {type: end, text: {zh: "好的，{last4:phone}", en: "OK, {last4:phone}"}}
"""


def _step(menu: MenuDefinition, session: Session, inp: object) -> tuple[Session, Output]:
    result = step(menu, session, inp, validators={"msisdn": lambda v: v.startswith("1")})
    assert result.output is not None
    return result.session, result.output


@pytest.fixture
def phone() -> MenuDefinition:
    return load_menu_text(PHONE, "p.yaml")


def test_long_question_first_then_short_with_per_count_hints(phone: MenuDefinition) -> None:
    session, out = _step(phone, start(phone, channel="ivr", msisdn=""), Start())
    assert out.text() == "欢迎。请输入11位手机号码。"
    assert out.wait == Wait(11, 11, False, 6.0, 2.5)  # menu defaults reach the channel
    session, out = _step(phone, session, Digits("123"))
    assert out.text() == "号码有误。\n请输入手机号码。"
    session, out = _step(phone, session, Digits("99999999999"))
    assert out.text() == "号码应为11位，以1开头。\n请输入手机号码。"
    session, out = _step(phone, session, NoInput())
    assert out.text() == "没有听到您的输入。\n请输入手机号码。"
    assert session.counters == {"ask.nomatch": 2, "ask.noinput": 1}


def test_on_max_sms_fallback_asks_for_the_help_sms(phone: MenuDefinition) -> None:
    session, _ = _step(phone, start(phone, channel="ivr", msisdn=""), Start())
    session, _ = _step(phone, session, NoInput())
    result = step(phone, session, NoInput(), validators={})
    assert result.effect is not None and result.effect.name == "sms_help"
    session, out = _step(phone, result.session, EffectResult(ok=True))
    assert out.ends and out.text() == "自助预约方法已短信发送到您的手机，再见。"


def test_read_back_confirms_or_re_asks(phone: MenuDefinition) -> None:
    session, _ = _step(phone, start(phone, channel="ivr", msisdn="", lang="en"), Start())
    session, out = _step(phone, session, Digits("13912345678"))
    assert out.parts[1] == SayDigits("13912345678")
    assert out.text().endswith("Press 1 to confirm, 2 to enter it again.")
    assert out.wait is not None and out.wait.max_digits == 1
    session, out = _step(phone, session, Digits("2"))
    assert out.text() == "Welcome. Enter your 11-digit mobile number."
    assert "phone" not in session.vars
    session, out = _step(phone, session, Digits("13912345678"))
    session, out = _step(phone, session, Digits("5"))  # neither 1 nor 2: a no-match
    assert out.text().startswith("That number is not valid.\nYou entered")
    session, out = _step(phone, session, Digits("1"))
    assert out.ends and out.text() == "OK, 5678" and session.vars["phone"] == "13912345678"


ROUTES = """\
menu: r
languages: [en]
start: load
nodes:
  load: {type: act, effect: ids, save: ids, next: how_many, on_error: {default: none}}
  how_many:
    type: route
    value: "{ids}"
    cases:
      - {empty: true, next: none}
      - {count: 1, next: one}
      - {min_count: 3, next: many}
    default: two
  one:
    type: act
    set: {who: "{ids.0.name}", kind: "{result}single"}
    next: kind
  kind:
    type: route
    value: "{who}"
    cases:
      - {equals: "Ann", next: ann}
      - {in: [Bob, Cy], next: two}
      - {matches: "D.*", next: many}
    default: none
  ann: {type: end, text: {en: "Ann {kind}"}}
  two: {type: end, text: {en: two}}
  many: {type: end, text: {en: many}}
  none: {type: end, text: {en: none}}
"""


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ([], "none"),
        ([{"id": "1", "name": "Ann"}], "Ann single"),
        ([{"id": "1", "name": "Cy"}], "two"),
        ([{"id": "1", "name": "Dee"}], "many"),
        ([{"id": "1", "name": "Eve"}], "none"),
        ([{}, {}], "two"),
        ([{}, {}, {}], "many"),
        ("garbage", "two"),
    ],
)
def test_route_cases_and_set(value: object, said: str) -> None:
    menu = load_menu_text(ROUTES, "r.yaml")
    session = start(menu, channel="ussd", msisdn="")
    result = step(menu, session, Start(), validators={})
    assert result.effect is not None and result.effect.name == "ids"
    result = step(menu, result.session, EffectResult(ok=True, value=value), validators={})
    assert result.output is not None and result.output.text() == said


def test_include_adds_shared_nodes_and_errors_name_the_included_file(tmp_path: Path) -> None:
    (tmp_path / "common.yaml").write_text(
        "nodes:\n  bye: {type: end, text: {zh: 再见, en: bye}}\n"
        "messages:\n  invalid: {zh: 不对, en: wrong}\n",
        encoding="utf-8",
    )
    main = tmp_path / "main.yaml"
    main.write_text(
        "menu: m\nlanguages: [zh, en]\nstart: a\ninclude: [common.yaml]\nnodes:\n"
        "  a: {type: say, text: {zh: 你好, en: hi}, next: bye}\n",
        encoding="utf-8",
    )
    menu = load_menu(main)
    assert set(menu.nodes) == {"a", "bye"}
    assert menu.files == (str(main), str(tmp_path / "common.yaml"))
    assert menu.positions["bye"] == f"{tmp_path / 'common.yaml'}:2:3"
    assert menu.message("invalid", "zh").source == "不对"
    before = menu.version
    (tmp_path / "common.yaml").write_text(
        "nodes:\n  bye: {type: end, text: {zh: 再见}}\n", encoding="utf-8"
    )
    with pytest.raises(MenuError) as caught:
        load_menu(main)
    assert str(caught.value) == (
        f"{tmp_path / 'common.yaml'}:2:26: node 'bye': text: missing translation 'en'"
    )
    (tmp_path / "common.yaml").write_text(
        "nodes:\n  bye: {type: end, text: {zh: 再会, en: bye}}\n", encoding="utf-8"
    )
    assert load_menu(main).version != before  # the version covers included files


def test_templates_cannot_reach_python_attributes(phone: MenuDefinition) -> None:
    sneaky = load_menu_text(PHONE.replace("好的，{last4:phone}", "[{phone.__class__}]"), "p.yaml")
    session = start(sneaky, channel="ussd", msisdn="").evolve(vars={"phone": "139"}, node="done")
    _, out = _step(sneaky, session, Start())
    assert out.text() == "[]"  # names are looked up in mappings only, never as attributes
    with pytest.raises(MenuError, match="bad field"):
        load_menu_text(PHONE.replace("好的，{last4:phone}", "{phone()}"), "p.yaml")


BASE = """\
menu: b
languages: [zh]
start: a
nodes:
  a:
    type: ask
    text: {zh: 第一}
    choices: {"1": {text: {zh: 下一步}, next: b}}
  b:
    type: ask
    text: {zh: 第二}
    choices: {"1": {text: {zh: 结束}, next: z}, "2": {text: {zh: 回去}, next: note}}
  note: {type: say, text: {zh: 好的}, next: $back}
  z: {type: end, text: {zh: 完}}
"""


def test_back_target_returns_to_the_previous_question() -> None:
    menu = load_menu_text(BASE, "b.yaml")
    session = step(menu, start(menu, channel="ussd", msisdn=""), Start(), validators={}).session
    session = step(menu, session, Digits("1"), validators={}).session
    result = step(menu, session, Digits("2"), validators={})
    assert result.session.node == "b" and result.output is not None
    assert result.output.text().startswith("好的\n第二")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("start: a", "start: a\nkeys: {back: '0'}"), "back, operator and repeat must differ"),
        (("start: a", "start: a\nkeys: {operator_to: nowhere}"), "keys.operator_to 'nowhere'"),
        (("start: a", "start: a\ndefaults: {timeout: 0}"), "defaults.timeout must be positive"),
        (("start: a", "start: a\ndefaults: {on_max: gone}"), "defaults.on_max 'gone' does not"),
        (("start: a", "start: a\ninclude: [nope.yaml]"), "include 'nope.yaml': cannot read"),
        (("next: $back", "next: $nowhere"), "next '$nowhere' does not exist"),
        (("type: say, text: {zh: 好的}, next: $back", "type: route, value: x, cases: "
          "[{like: x, next: z}], default: z"), "unknown test 'like'"),
        (("type: say, text: {zh: 好的}, next: $back", "type: route, value: x, cases: "
          "[{matches: '(', next: z}], default: z"), "matches: bad pattern"),
        (("type: say, text: {zh: 好的}, next: $back", "type: act, next: z"),
         "an act needs an effect, set, or lang"),
    ],
)
def test_language_errors_name_the_place(change: tuple[str, str], message: str) -> None:
    with pytest.raises(MenuError, match=r"^b\.yaml:\d+:\d+: .*" + re.escape(message)):
        load_menu_text(BASE.replace(*change), "b.yaml")


def test_a_node_defined_twice_across_parts_names_both_places(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("nodes:\n  z: {type: end, text: {zh: 又}}\n", "utf-8")
    main = tmp_path / "b.yaml"
    main.write_text(BASE.replace("start: a", "start: a\ninclude: [p.yaml]"), "utf-8")
    with pytest.raises(MenuError) as caught:
        load_menu(main)
    assert str(caught.value) == (
        f"{tmp_path / 'p.yaml'}:2:3: node 'z': node 'z' is already defined at {main}:15"
    )
