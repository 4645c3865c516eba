"""phone.normalise_msisdn: the fast path for Chinese mobiles answers exactly as phonenumbers, and
the caller-ID reading both channels share."""

from __future__ import annotations

from collections.abc import Callable

import phonenumbers
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from phone import NotAPhoneNumber, caller_msisdn, normalise_msisdn, parsed_msisdn

normalise = normalise_msisdn.__wrapped__  # without the cache: every call decides afresh


def verdict(fn: Callable[[str], str], raw: str) -> str:
    """The normalised number, or the refusal's message."""
    try:
        return fn(raw)
    except NotAPhoneNumber as exc:
        return f"NotAPhoneNumber: {exc}"


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


@pytest.mark.parametrize(
    ("callerid", "msisdn"),
    [
        ("13800138000", "8613800138000"),
        ("+8613800138000", "8613800138000"),
        ("008613800138000", "8613800138000"),
        ("8613800138000", "8613800138000"),  # the country code without '+': the parser's reading
        (" 13800138000 ", "8613800138000"),
        ("01088888888", "861088888888"),
        ("\u0661\u0663\u0668\u0660\u0660\u0661\u0663\u0668\u0660\u0660\u0660", "8613800138000"),
        ("12345", ""),
        ("anonymous", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_caller_id_reading(callerid: str | None, msisdn: str) -> None:
    assert caller_msisdn(callerid) == msisdn


def test_86_then_a_trunk_zero_is_the_landline_the_parser_reads() -> None:
    """The voice channel used to prefix '+' to any 13 digits starting 86, which made
    "86 0633 961912" (country code, trunk 0, a Rizhao landline) invalid; both channels now give
    the parser's answer, as the USSD channel always did."""
    assert caller_msisdn("8600633961912") == "86633961912"
    assert normalise_msisdn("8600633961912") == "86633961912"


def test_the_ussd_form_turns_a_refusal_into_a_clear_400_message() -> None:
    from ussd.at import BadRequest, form_msisdn

    with pytest.raises(BadRequest, match=r"^phoneNumber is not a valid phone number$"):
        form_msisdn("12345")
    with pytest.raises(BadRequest, match=r"^phoneNumber is not a phone number$"):
        form_msisdn("anonymous")
