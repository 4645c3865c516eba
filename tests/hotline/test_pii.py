import pytest

from hotline.pii import mask_pii, mask_tail, mask_text


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
