"""ussd.at.normalise_msisdn: the fast path for Chinese mobiles answers exactly as phonenumbers."""

from __future__ import annotations

from collections.abc import Callable

import phonenumbers
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ussd.at import BadRequest, normalise_msisdn, parsed_msisdn

normalise = normalise_msisdn.__wrapped__  # without the cache: every call decides afresh


def verdict(fn: Callable[[str], str], raw: str) -> str:
    """The normalised number, or the refusal's message."""
    try:
        return fn(raw)
    except BadRequest as exc:
        return f"BadRequest: {exc}"


@given(national=st.from_regex(r"1\d{10}", fullmatch=True), plus=st.booleans())
@example(national="18\u066000000000", plus=True)  # an Arabic-Indic zero: the parser converts it
def test_any_eleven_digits_after_1_get_phonenumbers_verdict(national: str, plus: bool) -> None:
    raw = ("+86" if plus else "") + national
    assert verdict(normalise, raw) == verdict(parsed_msisdn, raw)


@pytest.mark.parametrize("prefix", range(100, 200))
def test_every_three_digit_prefix_gets_phonenumbers_verdict(prefix: int) -> None:
    for tail in ("00000000", "12345678", "99999999"):
        for raw in (f"{prefix}{tail}", f"+86{prefix}{tail}"):
            assert verdict(normalise, raw) == verdict(parsed_msisdn, raw)


def test_a_chinese_mobile_does_not_go_through_the_parser(monkeypatch) -> None:
    def no_parser(*_args: object) -> None:
        raise AssertionError("phonenumbers.parse was called")

    monkeypatch.setattr(phonenumbers, "parse", no_parser)
    assert normalise("+8613800138000") == normalise("13800138000") == "8613800138000"
    with pytest.raises(AssertionError):  # any other shape still takes the parser
        normalise("+86 138-0013-8000")
