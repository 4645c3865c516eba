"""GB 11643-1999 resident ID validation, normalisation and masking."""

from __future__ import annotations

import datetime as dt

import pytest

from booking.idcard import check_char, is_valid_resident_id, normalize_resident_id

TODAY = dt.date(2026, 11, 25)

PUBLISHED_VALID = [
    "11010519491231002X",
    "440524188001010014",
    "34052419800101001X",
    "513101198201130014",
]


@pytest.mark.parametrize("s", PUBLISHED_VALID)
def test_published_examples_are_valid(s: str) -> None:
    assert is_valid_resident_id(s, today=TODAY)


def _with_check(first17: str) -> str:
    return first17 + check_char(first17)


@pytest.mark.parametrize(
    ("s", "why"),
    [
        ("11010519491231002", "17 characters"),
        ("11010519491231002X1", "19 characters"),
        ("11010519491231002x", "lower-case x is not normalised"),
        ("110105194912310021", "wrong check digit"),
        ("11010519491231003X", "one digit changed"),
        ("1101051949123100X2", "X not in last place"),
        ("", "empty"),
        ("１１０１０５１９４９１２３１００２Ｘ", "full-width digits"),
        (_with_check("11010519490230002"), "30 February"),
        (_with_check("11010519491331002"), "month 13"),
        (_with_check("11010518791231002"), "born before 1880"),
        (_with_check("11010520261126002"), "born tomorrow"),
        (_with_check("10010519491231002"), "province 10 does not exist"),
        (_with_check("99010519491231002"), "province 99 does not exist"),
        (_with_check("72010519491231002"), "province 72 does not exist"),
    ],
)
def test_invalid_ids(s: str, why: str) -> None:
    assert not is_valid_resident_id(s, today=TODAY), why


@pytest.mark.parametrize(
    "prefix", ["11", "15", "23", "37", "46", "54", "65", "71", "81", "82", "91"]
)
def test_every_province_edge_is_accepted(prefix: str) -> None:
    assert is_valid_resident_id(_with_check(prefix + "010519800101001"), today=TODAY)


def test_born_today_is_accepted() -> None:
    assert is_valid_resident_id(_with_check("11010520261125002"), today=TODAY)


def test_non_string_is_refused() -> None:
    assert not is_valid_resident_id(11010519491231002, today=TODAY)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        (" 11010519491231002x ", "11010519491231002X"),
        ("11010519491231002*", "11010519491231002X"),
        ("440524188001010014\n", "440524188001010014"),
    ],
)
def test_normalize(raw: str, normal: str) -> None:
    assert normalize_resident_id(raw) == normal
    assert is_valid_resident_id(normalize_resident_id(raw), today=TODAY)

