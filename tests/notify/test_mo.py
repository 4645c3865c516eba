"""MO text commands run against the real booking service through notify.mo, each answered by SMS
(parsing them: tests/sms/test_sms_mo.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest_twisted
from twisted.internet.task import Clock

from booking.api import BookingRequest
from booking.catalog import load_catalog
from booking.idcard import check_char
from booking.rules import day_label
from booking.store import RedisBookingService
from notify.mo import MoCommands
from notify.templates import Renderer, load_templates
from sms.testing import RecordingSender

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(ROOT / "config/hospital.yaml")
PHONE = "8613800138000"


def valid_id(seq: int) -> str:
    first17 = f"44030519900101{seq:03d}"
    return first17 + check_char(first17)


@pytest_twisted.ensureDeferred
async def test_mo_commands_run_against_booking_and_are_answered(redis) -> None:
    clock = Clock()
    clock.advance(dt.datetime(2026, 11, 25, 10, 0, tzinfo=CATALOG.tz).timestamp())
    service = RedisBookingService(redis, CATALOG, clock=clock)
    booking = await service.book(BookingRequest("nk", dt.date(2026, 11, 27), "am", valid_id(1),
                                                PHONE, "ussd"))
    sender = RecordingSender()
    renderer = Renderer(load_templates(ROOT / "config/sms.yaml"), CATALOG, day_label)
    counted: list[tuple[str, str]] = []
    mo = MoCommands(service, sender, renderer, clock, count=lambda *c: counted.append(c))

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
    assert counted == [("cancelled", "sms")]  # the one cancel that went through


@pytest_twisted.ensureDeferred
async def test_an_appeal_by_sms_is_queued_for_the_bars_hospital_and_answered(redis) -> None:
    clock = Clock()
    clock.advance(dt.datetime(2026, 11, 25, 10, 0, tzinfo=CATALOG.tz).timestamp())
    service = RedisBookingService(redis, CATALOG, clock=clock)
    for day in (26, 27, 28):  # three cancels: the default policy bars the ID
        b = await service.book(BookingRequest("nk", dt.date(2026, 11, day), "am", valid_id(3),
                                              PHONE, "ussd"))
        await service.cancel(b.tcode)
    sender = RecordingSender()
    renderer = Renderer(load_templates(ROOT / "config/sms.yaml"), CATALOG, day_label)
    mo = MoCommands(service, sender, renderer, clock)
    nothing = await mo.handle("12580", "8613900139000", "申诉 我没有爽约")
    assert "无需申诉" in nothing
    assert await service.appeals("main") == []
    answer = await mo.handle("12580", PHONE, "ＳＳ：当日住院，Was in Hospital")
    assert "申诉已收到" in answer and answer.startswith("【")
    [queued] = await service.appeals("main")
    assert queued["appeal"] == "当日住院，Was in Hospital" and queued["appeal_lang"] == "zh"
    english = await mo.handle("12580", PHONE, "APPEAL please")
    assert "Appeal received" in english
