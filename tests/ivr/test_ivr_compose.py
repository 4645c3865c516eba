"""Sentences with call data split into pieces: the rules of ``ivr.compose``."""

from __future__ import annotations

import datetime as dt

import pytest

from booking.rules import day_label
from ivr import render
from ivr.compose import compose, heard, lexicon, normalised, text_name, value_pieces
from ivr.render import clips
from menus.template import parse, render_parts
from menus.types import Say, SayDigits


def names(value: str, lang: str = "zh", known: dict[str, str] | None = None) -> list[str]:
    return [p.name for p in value_pieces(value, lang, known or lexicon(lang))]


def test_dates_sessions_and_tails_become_words_and_digits() -> None:
    assert names("12月6日 星期日") == [
        "hotline/words/month_12", "hotline/words/day_6", "hotline/words/weekday_6",
    ]  # fmt: skip
    assert names("上午") == ["hotline/words/am"]
    assert names("尾号002X") == [
        "hotline/words/tail", "digits/0", "digits/0", "digits/2", "letters/x",
    ]  # fmt: skip
    assert names("内科 11月27日 上午") == [
        text_name("内科", "zh"), "hotline/words/month_11", "hotline/words/day_27",
        "hotline/words/am",
    ]  # fmt: skip


def test_counts_are_numbers_and_long_runs_digits() -> None:
    assert names("7") == ["hotline/words/num_7"]
    assert names("23") == ["hotline/words/num_20", "hotline/words/num_3"]
    assert names("12580") == [f"digits/{d}" for d in "12580"]
    assert names("#") == ["letters/pound"]


def test_latin_words_match_whole_words_only() -> None:
    assert names("Sun 6 Dec", "en") == [
        "hotline/words/weekday_6", "hotline/words/num_6", "hotline/words/month_12",
    ]  # fmt: skip
    assert names("Sunday clinic", "en") == [text_name("Sunday clinic", "en")]  # a name: whole
    assert names("Sunday clinic 6 Dec", "en") == [
        "hotline/words/weekday_6", text_name("clinic", "en"), "hotline/words/num_6",
        "hotline/words/month_12",
    ]  # fmt: skip
    assert names("Sunshine ward 6 Dec", "en")[0] == text_name("Sunshine ward", "en")  # no "Sun"
    # a catalog name that holds a word is said whole when the lexicon knows it
    known = lexicon("en", ["Sunday clinic"])
    assert names("Sunday clinic 6 Dec", "en", known)[:2] == [
        text_name("Sunday clinic", "en"), "hotline/words/num_6",
    ]  # fmt: skip


def test_a_sentence_plays_its_static_parts_between_the_values() -> None:
    tpl = parse("请确认：{dept} {day}，身份证尾号{last4:id}。")
    (part,) = render_parts(tpl, {"dept": "内科", "day": "12月6日 星期日", "id": "1234567X"})
    assert isinstance(part, Say)
    pieces = compose(part, "zh")
    assert [p.text for p in pieces] == [
        "请确认：", "内科", "12月", "6日", "星期日", "，身份证尾号", "5", "6", "7", "X", "",
    ]  # fmt: skip
    assert normalised("".join(p.text for p in pieces)) == normalised(part.text)
    assert pieces[-1].name == "hotline/words/pause_150ms"  # the sentence's end, heard
    static = Say("欢迎致电。", "welcome")
    assert [p.name for p in compose(static, "zh")] == ["welcome"]
    assert [p.name for p in compose(SayDigits("12X"), "zh")] == [
        "digits/1", "digits/2", "letters/x",
    ]  # fmt: skip


ITEM = {"zh": "{name}请按{n}。", "en": "{name}: press {n}."}  # the voice item lines (menus)


def date_list(days: list[dt.date], lang: str) -> tuple[Say | SayDigits, ...]:
    """A question and its date options as the engine renders them for voice."""
    written = "en" if lang == "en" else "zh"  # Cantonese reads the Chinese labels
    parts = render_parts(parse("请选择日期：" if written == "zh" else "Choose a date:"), {})
    for n, day in enumerate(days, start=1):
        scope = {"name": day_label(day, written), "n": str(n)}
        parts += render_parts(parse(ITEM[written]), scope)
    return parts


def months(parts: tuple[Say | SayDigits, ...], lang: str) -> list[list[str]]:
    return [
        [p.name for p in compose(part, lang) if p.name.startswith("hotline/words/month_")]
        for part in parts
    ]


DAYS = [dt.date(2026, 12, 30), dt.date(2026, 12, 31), dt.date(2027, 1, 2), dt.date(2027, 1, 4)]


def test_a_date_list_says_the_month_once_per_change() -> None:
    for lang in ("zh", "yue"):
        parts = heard(date_list(DAYS, lang), lang)
        assert [p.text for p in parts] == [
            "请选择日期：", "12月30日 星期三请按1。", "31日 星期四请按2。", "1月2日 星期六请按3。",
            "4日 星期一请按4。",
        ], lang  # fmt: skip
        assert months(parts, lang) == [
            [], ["hotline/words/month_12"], [], ["hotline/words/month_1"], [],
        ]  # fmt: skip
        # nothing else is left out: the day and the weekday of every option are said
        names = [p.name for p in compose(parts[2], lang)]
        assert names[:2] == ["hotline/words/day_31", "hotline/words/weekday_3"], names
    parts = heard(date_list(DAYS, "en"), "en")  # "Wed 30 Dec": the month ends the label
    assert [p.text for p in parts] == [
        "Choose a date:", "Wed 30 Dec: press 1.", "Thu 31: press 2.", "Sat 2 Jan: press 3.",
        "Mon 4: press 4.",
    ]  # fmt: skip
    assert [p.name for p in compose(parts[2], "en")][:3] == [
        "hotline/words/weekday_3", "hotline/words/num_30", "hotline/words/num_1",
    ]  # fmt: skip


def test_the_screen_keeps_every_month_and_a_call_plays_them_once_per_change() -> None:
    shown = date_list(DAYS[:2], "zh")
    assert heard(shown, "zh") != shown  # a new tuple; the parts the screen shows are unchanged
    assert shown[2].text == "12月31日 星期四请按2。"
    played = [c.name for c in clips(shown, "zh") if c.name.startswith("hotline/words/month_")]
    assert played == ["hotline/words/month_12"]


def test_only_a_list_of_one_shape_shortens_its_dates() -> None:
    day = dt.date(2026, 12, 6)
    scope = {"dept": "内科", "day": "12月6日 星期日"}
    confirm = render_parts(parse("请确认：{dept} {day}。"), scope)
    options = date_list([day, day + dt.timedelta(days=1)], "zh")[1:]
    # a sentence before the list names the same month: the list's first option still says it
    parts = heard(confirm + options, "zh")
    assert [p.text for p in parts] == [
        "请确认：内科 12月6日 星期日。", "12月6日 星期日请按1。", "7日 星期一请按2。",
    ]  # fmt: skip
    # an option without a date starts over; two lists one after the other each say the month
    other = render_parts(parse(ITEM["zh"]), {"name": "人工服务", "n": "0"})
    parts = heard(options + other + options, "zh")
    assert [p.text for p in parts][2:4] == ["人工服务请按0。", "12月6日 星期日请按1。"]
    again = heard(options + render_parts(parse("{name}，按{n}。"), {"name": "12月8日", "n": "3"}),
                  "zh")  # fmt: skip
    assert again[-1].text == "12月8日，按3。"  # another shape: another list
    # a code or an ID tail is no date, and a month word without a day's number stays
    no_day = [
        render_parts(parse("{v}请按{n}。"), {"v": v, "n": "1"})[0]
        for v in ("内科 12月", "内科 12月", "12月门诊", "12月门诊")
    ]
    assert [p.text for p in heard(no_day, "zh")] == [p.text for p in no_day]
    scope = {"id": "1212", "day": "12月6日", "n": "1"}
    tail = render_parts(parse("尾号{last4:id}，{day}请按{n}。"), scope)
    assert [p.text for p in heard(tail + tail, "zh")] == [tail[0].text, "尾号1212，6日请按1。"]
    en = render_parts(parse(ITEM["en"]), {"name": "December clinic, Sun 6 Dec", "n": "1"})
    en2 = render_parts(parse(ITEM["en"]), {"name": "Mon 7 December", "n": "2"})
    assert [p.text for p in heard(en + en2, "en")][1] == "Mon 7: press 2."


def test_an_output_heard_again_is_not_split_again(monkeypatch: pytest.MonkeyPatch) -> None:
    known = lexicon("zh", ["内科"])
    first = clips(date_list(DAYS, "zh"), "zh", known)
    split: list[object] = []
    real = render.compose
    monkeypatch.setattr(render, "compose", lambda *a: split.append(a) or real(*a))
    again = clips(date_list(DAYS, "zh"), "zh", known)  # the next caller's equal list
    assert again == first and split == []
    again.pop()  # the caller's own list: what is remembered stays whole
    assert clips(date_list(DAYS, "zh"), "zh", known) == first
    assert clips(date_list(DAYS[:2], "zh"), "zh", known) != first and split  # another list
    fresh = lexicon("zh", ["内科"])  # a reloaded catalog: its own memory
    split.clear()
    assert clips(date_list(DAYS, "zh"), "zh", fresh) == first and split


def test_the_memory_tells_values_from_static_text_of_the_same_words() -> None:
    known = lexicon("zh")
    said = render_parts(parse("{day}"), {"day": "12月6日"})
    static = (Say("12月6日"),)
    assert said == static  # equal as text: Say leaves its slots out of equality
    assert [c.name for c in clips(said, "zh", known)] == [
        "hotline/words/month_12", "hotline/words/day_6",
    ]  # fmt: skip
    assert [c.name for c in clips(static, "zh", known)] == [text_name("12月6日", "zh")]


def test_free_text_said_live_asks_live_speech_every_time() -> None:
    asked: list[str] = []

    def live(text: str, lang: str) -> str:
        asked.append(text)
        return f"http://tts/{lang}/{len(asked)}.wav"

    known = lexicon("zh")
    parts = render_parts(parse("{speak:note}"), {"note": "带上病历"})
    assert clips(parts, "zh", known, live)[0].name == "http://tts/zh/1.wav"
    assert clips(parts, "zh", known, live)[0].name == "http://tts/zh/2.wav"
    assert asked == ["带上病历", "带上病历"]


def test_a_value_is_scanned_once_in_outputs_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    from ivr import compose as module

    known = lexicon("zh", ["内科"])
    confirm = parse("请确认：{dept} {day}，身份证尾号{last4:id}。")
    scope = {"dept": "内科", "day": "12月6日 星期日", "id": "110101199003071234"}
    first = [p.name for p in compose(render_parts(confirm, scope)[0], "zh", known)]
    scanned: list[str] = []
    real = module.value_pieces
    monkeypatch.setattr(module, "value_pieces", lambda v, *a: scanned.append(v) or real(v, *a))
    tail = render_parts(confirm, {**scope, "id": "1234"})[0]
    other = [p.name for p in compose(tail, "zh", known)]
    assert other == first and scanned == []  # another caller's tail, the same values
    scope["day"] = "12月7日 星期一"
    later = [p.name for p in compose(render_parts(confirm, scope)[0], "zh", known)]
    assert scanned == ["12月7日 星期一"] and "hotline/words/day_7" in later
    plain = dict(known)  # a lexicon that is a plain mapping is scanned every time
    compose(render_parts(confirm, scope)[0], "zh", plain)
    assert scanned == ["12月7日 星期一", "内科", "12月7日 星期一"]
