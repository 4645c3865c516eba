"""Delivery receipts as SMSCs really send them: TLVs, text, both, odd spellings."""

from __future__ import annotations

import pytest

from sms.dlr import Receipt, is_receipt, normalise_id, parse_receipt

TEXT = ("id:0004A1 sub:001 dlvrd:001 submit date:2611261200 done date:2611261201 "
        "stat:DELIVRD err:000 text:")


@pytest.mark.parametrize(("params", "text", "expected"), [
    ({}, TEXT, Receipt("4a1", "DELIVRD", "000")),
    ({"receipted_message_id": "4A1", "message_state": 5}, "", Receipt("4a1", "UNDELIV", "")),
    ({"receipted_message_id": "77"}, TEXT, Receipt("77", "DELIVRD", "000")),  # TLV wins
    ({}, "ID:12 Stat:undeliv Err:001 Text:x", Receipt("12", "UNDELIV", "001")),
    ({}, "id:12 sub:001", Receipt("12", "UNKNOWN", "")),
    ({}, "no receipt here", None),
])
def test_parse(params: dict, text: str, expected: Receipt | None) -> None:
    assert parse_receipt(params, text) == expected


def test_final_and_delivered() -> None:
    assert Receipt("1", "DELIVRD").final and Receipt("1", "DELIVRD").delivered
    assert Receipt("1", "UNDELIV").final and not Receipt("1", "UNDELIV").delivered
    assert not Receipt("1", "ENROUTE").final


def test_is_receipt() -> None:
    assert is_receipt(0x04, {})
    assert is_receipt(0x00, {"receipted_message_id": "1"})
    assert not is_receipt(0x40, {})


def test_normalise_id() -> None:
    assert normalise_id(" 00AbC ") == "abc"
    assert normalise_id("000") == "0"


def test_receipt_form_maps_id_bases() -> None:
    from sms.dlr import receipt_form

    assert receipt_form("0000004A1") == "4a1"
    assert receipt_form("1F", "hex_to_dec") == "31"
    assert receipt_form("31", "dec_to_hex") == "1f"
    assert receipt_form("xyz", "hex_to_dec") == "xyz"  # not hex: unchanged


def test_sender_correlates_decimal_receipts_for_hex_resp_ids() -> None:
    from sms_support import bound_esme, feed, take
    from twisted.internet.testing import MemoryReactorClock

    from sms.api import OutgoingSms
    from sms.outbox import MemoryOutbox
    from sms.service import SmppSender
    from sms.smpp.pdu import Pdu, response_for

    clock = MemoryReactorClock()
    got: list[tuple[str, str]] = []
    sender = SmppSender("127.0.0.1", 1, "hotline", "secret", "12580", reactor=clock,
                        outbox=MemoryOutbox(clock=clock), receipt_ids="hex_to_dec",
                        on_receipt=lambda key, r: got.append((key, r.message_id)))
    sender._ready = sender.running = True
    proto, transport, _, _ = bound_esme()
    proto.on_receipt = sender._receipt
    sender._esme = proto
    sender.send(OutgoingSms("8613800138000", "hello", "k"))
    (sub,) = take(transport)
    feed(proto, response_for(sub, message_id="1F"))
    feed(proto, Pdu("deliver_sm", 9, 0, {"esm_class": 4, "receipted_message_id": "31",
                                         "message_state": 2, "short_message": b""}))
    assert got == [("k", "31")]
