"""The one masking of phone and ID numbers (``pii``), by example and by property."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pii import mask_pii, mask_tail, mask_text


@pytest.mark.parametrize(
    ("value", "masked"),
    [("13800138000", "*******8000"), ("11010519491231002X", "**************002X"), ("12", "**")],
)
def test_mask_tail_keeps_last_four(value: str, masked: str) -> None:
    assert mask_tail(value) == masked


def test_free_text_numbers_are_masked_but_short_codes_stay() -> None:
    text = "caller 8613800138000 id 11010519491231002X pressed 1"
    out = mask_text(text)
    assert "8613800138000" not in out and "11010519491231002X" not in out
    assert out.endswith("pressed 1") and "8000" in out and "002X" in out


def test_processor_masks_named_fields_and_text() -> None:
    event = {"event": "ussd.hop", "msisdn": "8613800138000", "note": "id 440524188001010014"}
    out = mask_pii(None, "info", dict(event))
    assert out["msisdn"] == "*********8000"
    assert "440524188001010014" not in out["note"]
    assert out["event"] == "ussd.hop"


def test_decimals_of_a_float_are_not_mistaken_for_a_number() -> None:
    assert mask_text("retry in 1.4000000000000247 seconds") == "retry in 1.4000000000000247 seconds"


@pytest.mark.parametrize(("text", "masked"), [
    ("138 0013 8000", "*** **** 8000"),
    ("138-0013-8000", "***-****-8000"),
    ("call +86 138 0013 8000.", "call +** *** **** 8000."),
    ("0086-138-0013-8000", "****-***-****-8000"),
    ("id 110105 19491231 002X ok", "id ****** ******** 002X ok"),
    ("id 11010519491231002x", "id **************002x"),
    ("tcode 4381090292", "tcode ******0292"),  # T-codes are masked too (docs/operations.md)
])
def test_numbers_written_in_groups_are_masked(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize("text", [
    "2026-12-04 10:00:00 day=2026-12-04 session=am",  # dates and times: groups of 2
    "retry in 1.4000000000000247 seconds",
    "pressed 1 then 2, port 8080, 4573",
    "short 12345 and 123 456",
])
def test_dates_times_and_short_numbers_stay(text: str) -> None:
    assert mask_text(text) == text


def test_a_keypad_excerpt_hides_shorter_runs_when_asked() -> None:
    assert mask_text("typed 1101051949", shortest=5) == "typed ******1949"
    assert mask_text("typed 12345", shortest=5) == "typed *2345"
    assert mask_text("typed 1234", shortest=5) == "typed 1234"


phones = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
ids = st.from_regex(r"[1-9][0-9]{16}[0-9X]", fullmatch=True)
groupings = st.sampled_from(["plain", "3-4-4 spaces", "3-4-4 dashes", "+86 spaces", "86 plain",
                             "6-8-4 spaces", "0086 dashes"])
# text around a number never adds digits right next to it
around = st.text(alphabet=st.characters(blacklist_categories=("Nd", "Cs")), max_size=20)


def written(number: str, grouping: str) -> str:
    if grouping == "plain":
        return number
    if grouping.startswith("3-4-4"):
        sep = " " if "spaces" in grouping else "-"
        return sep.join([number[:3], number[3:7], number[7:]])
    if grouping == "+86 spaces":
        return "+86 " + " ".join([number[:3], number[3:7], number[7:]])
    if grouping == "86 plain":
        return "86" + number
    if grouping == "6-8-4 spaces":
        return " ".join([number[:6], number[6:14], number[14:]])
    return "0086-" + "-".join([number[:3], number[3:7], number[7:]])


@given(number=phones | ids, grouping=groupings, before=around, after=around)
@settings(max_examples=300, deadline=None)
def test_no_full_number_survives_masking_however_it_is_written(
    number: str, grouping: str, before: str, after: str
) -> None:
    text = f"{before} {written(number, grouping)} {after}"
    out = mask_text(text)
    digits = re.sub(r"[^0-9Xx*]", "", out)
    assert number not in digits and number not in re.sub(r"[ \-]", "", out)
    assert number[-4:] in out  # the last 4 stay readable for the operator
    assert out.startswith(before) and out.endswith(after)  # nothing else changed
    assert len(out) == len(text)
