"""MO text commands: pure parsing and reassembly (sms.mo). Run against booking: tests/notify."""

from __future__ import annotations

import pytest

from sms.mo import Command, Keywords, Reassembler, parse


@pytest.mark.parametrize(("text", "expected"), [
    ("QX 1234567890", Command("cancel", "1234567890")),
    ("qx1234567890", Command("cancel", "1234567890")),
    ("取消 1234567890", Command("cancel", "1234567890")),
    ("ＱＸ　１２３４５６７８９０", Command("cancel", "1234567890")),  # full-width
    ("cancel: 1234-567-890", Command("cancel", "1234567890")),
    ("CX", Command("query")),
    ("查询", Command("query")),
    ("SM 44030519900101001x", Command("register", "44030519900101001X")),
    ("实名44030519900101001X", Command("register", "44030519900101001X")),
    ("hello", Command("help")),
    ("", Command("help")),
])
def test_parse_commands(text: str, expected: Command) -> None:
    assert parse(text) == expected


def test_bad_arguments_get_help_with_the_reason() -> None:
    assert parse("QX 12345") == Command("help", "12345", "cancel needs a 10-digit T-code")
    assert parse("SM 123").problem.startswith("register needs")


def test_keywords_are_configurable() -> None:
    kw = Keywords.from_config({"cancel": ["tuiding"], "query": ["cx", "chaxun"]})
    assert parse("TUIDING 1234567890", kw) == Command("cancel", "1234567890")
    assert parse("QX 1234567890", kw) == Command("help")  # replaced, not added
    assert parse("chaxun", kw) == Command("query")
    with pytest.raises(ValueError, match="unknown command"):
        Keywords.from_config({"delete": ["x"]})


def test_reassembly_any_order_keyed_by_sender_with_expiry() -> None:
    r = Reassembler(ttl=60)
    assert r.add("a", "12580", (7, 3, 3), "C", 0) is None
    assert r.add("b", "12580", (7, 2, 2), "y", 0) is None  # same ref, other sender
    assert r.add("a", "12580", (7, 3, 1), "A", 1) is None
    assert r.add("a", "12580", (7, 3, 1), "A", 1) is None  # duplicate part
    assert r.add("a", "12580", (7, 3, 2), "B", 2) == "ABC"
    assert r.add("b", "12580", (7, 2, 1), "x", 3) == "xy"
    assert r.add("c", "12580", (9, 2, 1), "late", 0) is None
    assert r.add("c", "12580", (9, 2, 2), "r", 61) is None  # the first part expired
    assert len(r) == 1
    assert r.add("d", "12580", (1, 2, 5), "bad seq", 0) is None


def test_an_appeal_keeps_its_free_text_as_written() -> None:
    assert parse("SS 当日住院, 无法就诊") == Command("appeal", "当日住院, 无法就诊")
    assert parse("申诉：Was in hospital") == Command("appeal", "Was in hospital")
    assert parse("appeal") == Command("appeal", "")
    assert parse("SS" + "长" * 400).arg == "长" * 300
    assert parse("ＳＳ：当日住院，无法就诊") == Command("appeal", "当日住院，无法就诊")


def test_the_appeal_words_are_configurable_too() -> None:
    words = Keywords.from_config({"appeal": ["FY"]})
    assert parse("FY 住院", words) == Command("appeal", "住院")
    assert parse("SS 住院", words).action == "help"
