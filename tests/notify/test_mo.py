"""MO text commands: pure parsing and reassembly (sms.mo), then run against the real booking
service through notify.mo, each answered by SMS."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet.task import Clock

from booking.api import BookingRequest
from booking.catalog import load_catalog
from booking.idcard import check_char
from booking.rules import day_label
from booking.store import RedisBookingService
from notify.mo import MoCommands
from notify.templates import Renderer, load_templates
from sms.mo import Command, Keywords, Reassembler, parse
from sms.testing import RecordingSender

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(ROOT / "config/hospital.yaml")
PHONE = "8613800138000"


def valid_id(seq: int) -> str:
    first17 = f"44030519900101{seq:03d}"
    return first17 + check_char(first17)


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


@pytest_twisted.ensureDeferred
async def test_mo_commands_run_against_booking_and_are_answered(redis) -> None:
    clock = Clock()
    clock.advance(dt.datetime(2026, 11, 25, 10, 0, tzinfo=CATALOG.tz).timestamp())
    service = RedisBookingService(redis, CATALOG, clock=clock)
    booking = await service.book(BookingRequest("nk", dt.date(2026, 11, 27), "am", valid_id(1),
                                                PHONE, "ussd"))
    sender = RecordingSender()
    renderer = Renderer(load_templates(ROOT / "config/sms.yaml"), CATALOG, day_label)
    mo = MoCommands(service, sender, renderer, clock)

    listed = await mo.handle("12580", PHONE, "CX")
    assert booking.tcode in listed and "内科" in listed
    refused = await mo.handle("12580", "8613900139000", f"QX {booking.tcode}")
    assert "无法取消" in refused  # not the phone that booked
    done = await mo.handle("12580", PHONE, f"取消{booking.tcode}")
    assert "已取消" in done and booking.tcode in done
    assert (await service._load(booking.tcode)).status.value == "cancelled"
    assert "没有预约" in await mo.handle("12580", PHONE, "查询")
    registered = await mo.handle("12580", PHONE, f"SM {valid_id(2)}")
    assert "实名登记成功" in registered
    assert valid_id(2) in await service.registered_ids(PHONE)
    assert "Reply QX" in await mo.handle("12580", PHONE, "HELP")
    assert [m.to for m in sender.sent] == [PHONE, "8613900139000", PHONE, PHONE, PHONE, PHONE]
    assert all(m.kind == "mo_reply" for m in sender.sent)
