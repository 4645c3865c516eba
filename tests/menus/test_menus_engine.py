"""The pure engine on the shipped booking menu and on small menus written for one rule each."""

from __future__ import annotations

import json

import pytest
from menus_support import (
    DAYS,
    DEPTS,
    GOOD_ID,
    GOOD_ID_KEYED,
    PERIODS,
    TCODE,
    VALIDATORS,
    canned,
    drive,
    rewire,
)

from menus.definition import MenuDefinition, MenuError, load_menu_text
from menus.engine import MAX_TRANSITIONS, start, step
from menus.template import parse, render_parts
from menus.types import (
    Digits,
    Effect,
    EffectResult,
    HangUp,
    NoInput,
    Output,
    Say,
    SayDigits,
    Session,
    Slot,
    Start,
    Wait,
)


def _to_confirm(menu: MenuDefinition, effects=None, channel: str = "ussd") -> Session:
    session = start(menu, channel=channel, msisdn="8613812345678")
    effects = effects or canned()
    session, out, _ = drive(menu, session, Start(), effects)
    for key in ["1", "1", "1", "2", GOOD_ID_KEYED]:
        session, out, _ = drive(menu, session, Digits(key), effects)
    assert session.node == "confirm", out.text()
    return session


def test_ussd_walk_books_and_reads_the_tcode_digit_by_digit(booking_menu: MenuDefinition) -> None:
    effects = canned()
    session = start(booking_menu, channel="ussd", msisdn="8613812345678")
    screens: list[Output] = []
    asked: list[Effect] = []
    session, out, seen = drive(booking_menu, session, Start(), effects)
    screens.append(out)
    for key in ["1", "1", "2", "2", GOOD_ID_KEYED, "1"]:
        session, out, seen = drive(booking_menu, session, Digits(key), effects)
        screens.append(out)
        asked += seen
    assert [e.name for e in asked] == [
        "registered_ids", "departments", "open_days", "sessions", "book"
    ]  # fmt: skip
    assert asked[-1].args == {
        "dept": "nk",
        "day": DAYS[1]["id"],
        "session": "pm",
        "id_number": GOOD_ID,
        "hospital": "main",  # the platform's only hospital, chosen without a question
    }
    assert "请确认：内科 11月27日 星期五 下午，身份证尾号002X。" in screens[-2].text()
    final = screens[-1]
    assert final.ends and session.ended
    assert SayDigits(TCODE) in final.parts
    assert "短信" in final.text()
    for screen in screens:
        assert len(screen.text()) <= 70, screen.text()


def test_waits_tell_the_channel_how_many_digits(booking_menu: MenuDefinition) -> None:
    session = start(booking_menu, channel="ivr", msisdn="")
    session, out, _ = drive(booking_menu, session, Start(), canned())
    assert out.wait == Wait(1, 1, False, 5.0, 3.0)
    many = [{"id": f"d{i}", "name": f"科{i}"} for i in range(12)]
    session, out, _ = drive(
        booking_menu, session, Digits("1"), canned(departments=EffectResult(True, many))
    )
    assert out.wait is not None and (out.wait.min_digits, out.wait.max_digits) == (1, 2)
    assert Say("科7请按8。") in out.parts and Say("科8请按10。") in out.parts  # 9 is 'repeat'
    assert Say("科11请按13。") in out.parts
    session, out, _ = drive(booking_menu, session, Digits("13"), canned())
    assert session.vars["dept"] == {"id": "d11", "name": "科11"}
    for key in ["1", "1"]:
        session, out, _ = drive(booking_menu, session, Digits(key), canned())
    assert session.node == "ask_id"
    assert out.wait == Wait(18, 18, True, 8.0, 5.0)


def test_ivr_reads_options_as_press_n(booking_menu: MenuDefinition) -> None:
    session = start(booking_menu, channel="ivr", msisdn="", lang="en")
    _, out, _ = drive(booking_menu, session, Start(), canned())
    assert out.parts == (
        Say("Welcome to 12580 hospital appointments.", "welcome"),
        Say("Book an appointment: press 1."),
        Say("My bookings: press 2."),
        Say("Register my ID: press 3."),
        Say("Mandarin: press 6."),  # voice only: the other voice languages
        Say("Cantonese: press 8."),
        Say("Operator: press 0."),
    )


def test_three_nomatches_go_to_on_max_and_noinput_counts_apart(
    booking_menu: MenuDefinition,
) -> None:
    session = start(booking_menu, channel="ussd", msisdn="")
    session, out, _ = drive(booking_menu, session, Start(), canned())
    session, out, _ = drive(booking_menu, session, Digits("7"), canned())
    assert out.text().startswith("输入有误，请重新输入。\n请选择服务。") and not out.ends
    assert out.parts[1] == Say("请选择服务。")  # the short question has no recording
    session, out, _ = drive(booking_menu, session, NoInput(), canned())
    assert out.text().startswith("您没有输入。") and not out.ends
    session, out, _ = drive(booking_menu, session, NoInput(), canned())
    session, out, _ = drive(booking_menu, session, Digits("8"), canned())
    assert not out.ends and session.counters == {"welcome.nomatch": 2, "welcome.noinput": 2}
    session, out, _ = drive(booking_menu, session, Digits("7"), canned())
    assert out.ends and out.text() == "输入错误次数过多，请稍后再拨，再见。"


def test_a_valid_entry_resets_counters_for_the_next_question(booking_menu: MenuDefinition) -> None:
    session = start(booking_menu, channel="ussd", msisdn="")
    session, _, _ = drive(booking_menu, session, Start(), canned())
    session, _, _ = drive(booking_menu, session, Digits("5"), canned())
    session, _, _ = drive(booking_menu, session, Digits("1"), canned())
    assert session.node == "pick_dept" and session.counters == {}


def test_bad_id_uses_node_text_and_star_is_the_x(booking_menu: MenuDefinition) -> None:
    session = _to_confirm(booking_menu)
    assert session.vars["id_number"] == GOOD_ID
    session, _, _ = drive(booking_menu, session, Digits("2"), canned())  # start over
    for key in ["1", "1", "1"]:
        session, out, _ = drive(booking_menu, session, Digits(key), canned())
    for bad in ["110105194912310021", "1101051949123100", "*"]:
        session, out, _ = drive(booking_menu, session, Digits(bad), canned())
        if not out.ends:
            assert out.text().startswith("身份证号码有误。"), out.text()
            assert session.node == "ask_id"
    assert out.ends  # the third bad entry


def test_back_key_returns_to_the_previous_question(booking_menu: MenuDefinition) -> None:
    session = start(booking_menu, channel="ussd", msisdn="")
    session, _, _ = drive(booking_menu, session, Start(), canned())
    for key in ["1", "3", "1"]:
        session, out, _ = drive(booking_menu, session, Digits(key), canned())
    assert session.node == "pick_period" and session.history == ("welcome", "pick_dept", "pick_day")
    session, out, seen = drive(booking_menu, session, Digits("*"), canned())
    assert session.node == "pick_day" and seen == [] and out.text().startswith("请选择日期")
    session, out, _ = drive(booking_menu, session, Digits("*"), canned())
    assert session.node == "pick_dept" and "3.儿科" in out.text()
    session, out, _ = drive(booking_menu, session, Digits("*"), canned())
    session, out, _ = drive(booking_menu, session, Digits("*"), canned())
    assert session.node == "welcome" and session.history == () and not out.ends


def test_back_stack_is_capped() -> None:
    menu = load_menu_text(
        """\
menu: loop
languages: [zh]
start: a
keys: {history: 3}
nodes:
  a: {type: ask, text: {zh: A}, choices: {"1": {text: {zh: 下一}, next: b}}}
  b: {type: ask, text: {zh: B}, choices: {"1": {text: {zh: 下一}, next: c}}}
  c: {type: ask, text: {zh: C}, choices: {"1": {text: {zh: 下一}, next: d}}}
  d: {type: ask, text: {zh: D}, choices: {"1": {text: {zh: 下一}, next: e}}}
  e: {type: ask, text: {zh: E}, choices: {"1": {text: {zh: 回到开头}, next: a}}}
""",
        "loop.yaml",
    )
    session = start(menu, channel="ussd", msisdn="")
    session = step(menu, session, Start(), validators={}).session
    for _ in range(4):
        session = step(menu, session, Digits("1"), validators={}).session
    assert session.node == "e" and session.history == ("b", "c", "d")
    session = step(menu, session, Digits("1"), validators={}).session
    assert session.node == "a" and session.history == ("c", "d", "e")  # 'b' fell off


def test_full_offers_the_other_sessions_again(booking_menu: MenuDefinition) -> None:
    session = _to_confirm(booking_menu)
    left = [PERIODS[0]]
    effects = canned(book=EffectResult(ok=False, error="full"), sessions=EffectResult(True, left))
    session, out, seen = drive(booking_menu, session, Digits("1"), effects)
    assert [e.name for e in seen] == ["book", "sessions"]
    assert session.node == "pick_period_known"  # the ID is known now: choosing books
    assert session.history[:3] == ("welcome", "pick_dept", "pick_day")
    assert out.text().startswith("抱歉，该时段刚刚约满。\n为身份证尾号002X预约内科 11月26日")
    assert "1.上午" in out.text() and "下午" not in out.text()


def test_full_with_nothing_left_goes_back_to_days(booking_menu: MenuDefinition) -> None:
    session = _to_confirm(booking_menu)
    effects = canned(book=EffectResult(ok=False, error="full"), sessions=EffectResult(True, []))
    session, out, seen = drive(booking_menu, session, Digits("1"), effects)
    assert [e.name for e in seen] == ["book", "sessions", "open_days"]
    assert session.node == "pick_day" and "该日号源已满" in out.text()


@pytest.mark.parametrize(
    ("error", "text"),
    [
        ("duplicate", "您当天在该科室已有预约，无需重复预约。"),
        ("blacklisted", "因多次预约未就诊，暂停电话预约，请到医院窗口办理。"),
        ("invalid_id", "身份证号码未通过核验，请到医院窗口办理。"),
        ("closed", "抱歉，系统繁忙，请稍后再试。"),
        (None, "抱歉，系统繁忙，请稍后再试。"),
    ],
)
def test_booking_errors_end_the_call(
    booking_menu: MenuDefinition, error: str | None, text: str
) -> None:
    session = _to_confirm(booking_menu)
    effects = canned(book=EffectResult(ok=False, error=error))
    session, out, _ = drive(booking_menu, session, Digits("1"), effects)
    assert out.ends and session.ended and out.text() == text


def test_no_open_days_says_so_and_goes_back_to_departments(booking_menu: MenuDefinition) -> None:
    session = start(booking_menu, channel="ussd", msisdn="")
    session, _, _ = drive(booking_menu, session, Start(), canned())
    session, _, _ = drive(booking_menu, session, Digits("1"), canned())
    session, out, _ = drive(
        booking_menu, session, Digits("2"), canned(open_days=EffectResult(True, []))
    )
    assert session.node == "pick_dept"
    assert out.text().startswith("外科近期已无号源，请选其他科室。\n请选择科室：\n1.内科")


def test_hangup_ends_without_output_and_ended_sessions_stay_ended(
    booking_menu: MenuDefinition,
) -> None:
    session = start(booking_menu, channel="ivr", msisdn="")
    session, _, _ = drive(booking_menu, session, Start(), canned())
    result = step(booking_menu, session, HangUp(), validators=VALIDATORS)
    assert result.output == Output((), None) and result.session.ended and result.effect is None
    again = step(booking_menu, result.session, Digits("1"), validators=VALIDATORS)
    assert again.output == Output((), None) and again.effect is None


def test_unexpected_inputs_re_ask_or_re_request(booking_menu: MenuDefinition) -> None:
    session = start(booking_menu, channel="ussd", msisdn="")
    session, _, _ = drive(booking_menu, session, Start(), canned())
    waiting = step(booking_menu, session, Digits("1"), validators=VALIDATORS)
    assert waiting.effect == Effect("registered_ids", {})
    again = step(booking_menu, waiting.session, Digits("5"), validators=VALIDATORS)
    assert again.effect == Effect("registered_ids", {})
    odd = step(booking_menu, session, EffectResult(True, []), validators=VALIDATORS)
    assert odd.output is not None and odd.output.text().startswith("欢迎")


def test_session_on_a_vanished_node_ends_politely(booking_menu: MenuDefinition) -> None:
    session = start(booking_menu, channel="ussd", msisdn="").evolve(node="no_such_node")
    result = step(booking_menu, session, Digits("1"), validators=VALIDATORS)
    assert result.output is not None and result.output.ends
    assert result.output.text() == "系统繁忙，请稍后再试。"


def test_a_loop_without_input_is_a_clear_error() -> None:
    menu = load_menu_text(
        """\
menu: spin
languages: [en]
start: a
nodes:
  load: {type: act, effect: departments, save: items, next: a}
  a: {type: ask, text: {en: pick}, list: items, save: x, next: a, empty: b}
  b: {type: say, text: {en: none}, next: z}
  z: {type: end, text: {en: bye}}
""",
        "spin.yaml",
    )
    menu = rewire(menu, "b", next="a")  # the loader refuses this loop; the engine guards too
    session = start(menu, channel="ussd", msisdn="")
    with pytest.raises(MenuError, match=f"more than {MAX_TRANSITIONS} transitions"):
        step(menu, session, Start(), validators={})


def test_missing_validator_is_reported(booking_menu: MenuDefinition) -> None:
    session = start(booking_menu, channel="ussd", msisdn="").evolve(node="ask_id")
    with pytest.raises(MenuError, match="validator 'resident_id' was not provided"):
        step(booking_menu, session, Digits(GOOD_ID_KEYED), validators={})


def test_sessions_survive_a_json_round_trip_mid_dialogue(booking_menu: MenuDefinition) -> None:
    session = _to_confirm(booking_menu)
    restored = Session.from_dict(session.to_dict())
    assert restored == session
    _, out, _ = drive(booking_menu, restored, Digits("1"), canned())
    assert SayDigits(TCODE) in out.parts
    assert DEPTS[0] == restored.vars["dept"]


def test_invalid_hints_escalate_and_the_last_repeats() -> None:
    menu = load_menu_text(
        """\
menu: esc
languages: [en]
start: a
nodes:
  a:
    type: ask
    text: {en: "Enter 4 digits."}
    digits: {min: 4}
    save: pin
    next: b
    nomatch: 5
    invalid:
      - {en: "Not quite."}
      - {en: "Four digits, for example 1234."}
  b: {type: end, text: {en: "Thanks {pin}."}}
""",
        "esc.yaml",
    )
    session = step(menu, start(menu, channel="ivr", msisdn=""), Start(), validators={}).session
    hints = []
    for _ in range(3):
        result = step(menu, session, Digits("12"), validators={})
        session = result.session
        assert result.output is not None
        hints.append(result.output.parts[0])
    assert hints == [Say("Not quite."), Say("Four digits, for example 1234."), hints[1]]
    result = step(menu, session, Digits("1234#"), validators={})
    assert result.output is not None and result.output.text() == "Thanks 1234."


def test_global_keys_are_configurable() -> None:
    menu = load_menu_text(
        """\
menu: k
languages: [zh]
start: a
keys: {back: "", reserved: [], operator: ""}
nodes:
  a:
    type: ask
    text: {zh: 选择}
    choices:
      "0": {text: {zh: 人工}, next: b}
  b: {type: end, text: {zh: 转人工}}
""",
        "k.yaml",
    )
    session = step(menu, start(menu, channel="ussd", msisdn=""), Start(), validators={}).session
    star = step(menu, session, Digits("*"), validators={})
    assert star.session.counters == {"a.nomatch": 1}  # no back key: '*' is just a wrong entry
    zero = step(menu, session, Digits("0"), validators={})
    assert zero.output is not None and zero.output.text() == "转人工"


def test_pending_values_survive_a_json_round_trip(booking_menu: MenuDefinition) -> None:
    """A say node's sentence with values waits in ``pending`` across an effect: voice still
    needs its values apart from its text after the session was stored."""
    tpl = parse("{dept.name}近期已无号源。")
    (part,) = render_parts(tpl, {"dept": {"name": "内科"}})
    session = start(booking_menu, channel="ivr", msisdn="").evolve(pending=(part,))
    restored = Session.from_dict(json.loads(json.dumps(session.to_dict())))
    (again,) = restored.pending
    assert isinstance(again, Say) and again.slots == (Slot("内科"), "近期已无号源。")


def test_voice_keeps_the_values_of_an_option_line_apart_and_ussd_shows_text_only(
    booking_menu: MenuDefinition,
) -> None:
    """The department list: voice says each option line as pieces around its values
    (``Say.slots``); a USSD screen is text alone, so its parts carry no slots to build."""
    screens = {}
    for channel in ("ussd", "ivr"):
        session = start(booking_menu, channel=channel, msisdn="8613812345678")
        session, _, _ = drive(booking_menu, session, Start(), canned())
        _, out, _ = drive(booking_menu, session, Digits("1"), canned())
        screens[channel] = [p for p in out.parts if isinstance(p, Say)]
    assert any(p.slots for p in screens["ivr"])
    assert not any(p.slots for p in screens["ussd"])
    assert any(DEPTS[0]["name"] in p.text for p in screens["ussd"])


def test_voice_only_choices_are_neither_shown_nor_taken_on_ussd(booking_menu: MenuDefinition):
    ussd = start(booking_menu, channel="ussd", msisdn="", lang="yue")
    assert ussd.lang == "zh"  # USSD stays zh/en
    session, out, _ = drive(booking_menu, ussd, Start(), canned())
    assert "粤语" not in out.text() and "英语" not in out.text()
    session, out, _ = drive(booking_menu, session, Digits("8"), canned())
    assert session.node == "welcome" and out.text().startswith("输入有误")  # not a choice here
    voice = start(booking_menu, channel="ivr", msisdn="", lang="yue")
    assert voice.lang == "yue"
    session, out, _ = drive(booking_menu, voice, Start(), canned())
    assert "普通话请按6。" in out.text() and "粤语服务" not in out.text()  # not its own language


def test_a_list_item_s_short_form_is_what_a_screen_shows() -> None:
    menu = load_menu_text(
        """\
menu: m
languages: [zh]
start: load
nodes:
  load: {type: act, effect: days, save: days, next: pick}
  pick: {type: ask, text: {zh: 请选择日期：}, list: days, save: day, next: said}
  said: {type: end, text: {zh: "{day.name}"}}
""", "m.yaml")
    days = [{"id": "a", "name": "12月5日 星期六", "short": "12月5日周六"},
            {"id": "b", "name": "12月6日 星期日"}]
    for channel, first in (("ussd", "1.12月5日周六"), ("ivr", "12月5日 星期六请按1。")):
        session = start(menu, channel=channel, msisdn="8613812345678")
        session, out, _ = drive(menu, session, Start(),
                                lambda e: EffectResult(ok=True, value=days))
        assert first in out.text() and ("2.12月6日 星期日" in out.text() or channel == "ivr")
        session, out, _ = drive(menu, session, Digits("1"), canned())
        assert out.text() == "12月5日 星期六"  # the item keeps its name: texts say it whole
