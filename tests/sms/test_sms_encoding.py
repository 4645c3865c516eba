"""Alphabet choice, GSM 03.38, and splitting that never cuts an escape or surrogate pair."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from sms import gsm0338
from sms.encoding import DC_GSM, DC_UCS2, ESM_UDHI, decode, decode_text, split

TCODE_SMS = "【深圳市第一人民医院】预约成功：内科 11月26日 上午，取号码 1234567890。"


@pytest.mark.parametrize(("text", "wire"), [
    ("@£$", b"\x00\x01\x02"),
    ("Hello", b"Hello"),
    ("é€[", b"\x05\x1b\x65\x1b\x3c"),
    ("Ω\n", b"\x15\x0a"),
])
def test_gsm_table(text: str, wire: bytes) -> None:
    assert gsm0338.encode(text) == wire
    assert gsm0338.decode(wire) == text


def test_gsm_rejects_chinese_with_position() -> None:
    with pytest.raises(ValueError, match="at 2"):
        gsm0338.encode("ab内")


def test_gsm_decode_is_lenient() -> None:
    assert gsm0338.decode(b"\x1b\x41") == "A"  # unknown escape -> the base character
    assert gsm0338.decode(b"\xc1") == "A"  # bit 7 ignored
    assert gsm0338.decode(b"ab\x1b") == "ab"  # dangling escape dropped


def test_chinese_tcode_sms_is_one_ucs2_part() -> None:
    (part,) = split(TCODE_SMS, ref=1)
    assert part.data_coding == DC_UCS2 and part.esm_class == 0
    assert part.short_message == TCODE_SMS.encode("utf-16-be")


def test_plain_text_is_gsm() -> None:
    (part,) = split("Your code 1234567890 @ 12580", ref=1)
    assert part.data_coding == DC_GSM


@pytest.mark.parametrize(("text", "parts"), [
    ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
    ("€" * 80, 1), ("€" * 81, 2),
    ("内" * 70, 1), ("内" * 71, 2), ("内" * 134, 2), ("内" * 135, 3),
])
def test_part_counts(text: str, parts: int) -> None:
    assert len(split(text, ref=9)) == parts


def test_udh_header_bytes() -> None:
    parts = split("内" * 71, ref=0x2A)
    assert [p.short_message[:6] for p in parts] == [bytes.fromhex("0500032a0201"),
                                                     bytes.fromhex("0500032a0202")]
    assert all(p.esm_class == ESM_UDHI for p in parts)
    assert len(parts[0].short_message) == 6 + 67 * 2


def test_gsm_escape_never_split() -> None:
    text = "a" * 152 + "€" + "b" * 10  # the escape pair would straddle septet 153
    first, second = split(text, ref=1)
    assert first.short_message[6:] == b"a" * 152
    assert second.short_message[6:8] == b"\x1b\x65"


def test_surrogate_pair_never_split() -> None:
    text = "内" * 66 + "😀" + "内" * 3  # 71 units; the emoji would need units 67 and 68
    first, second = split(text, ref=1)
    assert first.short_message[6:].decode("utf-16-be") == "内" * 66
    assert second.short_message[6:].decode("utf-16-be") == "😀内内内"


def test_too_many_parts_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="more than 255"):
        split("内" * 67 * 256, ref=1)


@pytest.mark.parametrize(("dc", "data", "text"), [
    (0x00, b"\x00abc", "@abc"),
    (0x01, b"abc", "abc"),
    (0x03, "é".encode("latin-1"), "é"),
    (0x08, "内科".encode("utf-16-be"), "内科"),
    (0x08, b"\x51", "\ufffd"),  # odd length: replacement, not an exception
    (0xF0, b"\x00", "@"),
    (0xF4, b"\xe9", "é"),
])
def test_decode_text(dc: int, data: bytes, text: str) -> None:
    assert decode_text(dc, data) == text


def test_decode_reports_concat_8_and_16_bit() -> None:
    d8 = decode(8, 0x40, bytes.fromhex("050003070302") + "内".encode("utf-16-be"))
    assert (d8.text, d8.concat) == ("内", (7, 3, 2))
    d16 = decode(0, 0x40, bytes.fromhex("06080401020201") + b"hi")
    assert (d16.text, d16.concat) == ("hi", (0x0102, 2, 1))
    assert decode(0, 0, b"hi").concat is None


@settings(max_examples=200, deadline=None)
@given(hs.text(alphabet=hs.sampled_from("a€[内😀 1é"), max_size=700), hs.integers(0, 255))
def test_split_then_decode_restores_text(text: str, ref: int) -> None:
    parts = split(text, ref)
    assert all(len(p.short_message) <= 140 for p in parts)
    decoded = [decode(p.data_coding, p.esm_class, p.short_message) for p in parts]
    assert "".join(d.text for d in decoded) == text
    if len(parts) > 1:
        assert [d.concat for d in decoded] == [(ref, len(parts), i + 1) for i in range(len(parts))]
