"""Sentences with call data split into pieces: the rules of ``ivr.compose``."""

from __future__ import annotations

from ivr.compose import compose, lexicon, normalised, text_name, value_pieces
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
