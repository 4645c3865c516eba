"""The booking pages over real HTTP, without a browser: a booking carries the channel web and a
second tap on the same form is the same booking; refusals read as the booking menu says them;
the ID is checked before booking is asked; another phone's booking cannot be cancelled."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest_twisted
from demo_booking import valid_id
from web_http import Server, Visitor

from booking.api import BookingRequest

PHONE, MSISDN = "13800138000", "8613800138000"
CHOICE = {"dept": "nk", "day": "2026-11-26", "session": "am"}
CHOICE_DAY = dt.date(2026, 11, 26)


@pytest_twisted.async_yield_fixture
async def server(redis: Any):
    running = Server(redis)
    yield running
    await running.stop()


async def signed_in(server: Server, phone: str = PHONE, msisdn: str = MSISDN,
                    lang: str = "zh") -> Visitor:
    visitor = Visitor(server.base, {"accept-language": lang})
    await visitor.ask_code(phone)
    status, _, _ = await visitor.give_code(phone, server.outbox.last_code(msisdn))
    assert status == 303
    return visitor


async def confirm_form(visitor: Visitor) -> str:
    status, page, _ = await visitor.get("/book/confirm?dept=nk&day=2026-11-26&session=am")
    assert status == 200, page
    return re.search(r'name="request_id" value="([^"]+)"', page).group(1)


@pytest_twisted.ensureDeferred
async def test_a_second_tap_on_the_same_form_is_the_same_booking(server) -> None:
    visitor = await signed_in(server)
    request_id = await confirm_form(visitor)
    left = await server.service.remote_left("nk", CHOICE_DAY, "am")
    form = {**CHOICE, "id_number": valid_id(1), "request_id": request_id}
    status, first, _ = await visitor.post("/book/confirm", form)
    assert status == 200 and "预约成功" in first
    status, second, _ = await visitor.post("/book/confirm", form)
    assert status == 200
    tcode = re.search(r'id="tcode">(\d{10})<', first).group(1)
    assert re.search(r'id="tcode">(\d{10})<', second).group(1) == tcode
    [booking] = await server.service.bookings_for(MSISDN)
    assert (booking.tcode, booking.channel) == (tcode, "web")
    assert await server.service.remote_left("nk", CHOICE_DAY, "am") == left - 1
    # the booking SMS is booking's own (its event), not the page's: the page queued the code only
    assert [m.kind for m in server.outbox.sent] == ["otp"]


@pytest_twisted.ensureDeferred
async def test_refusals_read_as_the_menu_says_them(server) -> None:
    visitor = await signed_in(server)
    request_id = await confirm_form(visitor)
    bad = valid_id(2)[:-1] + ("0" if valid_id(2)[-1] != "0" else "1")
    status, page, _ = await visitor.post("/book/confirm", {**CHOICE, "id_number": bad,
                                                           "request_id": request_id})
    assert status == 400 and "身份证号码有误。" in page  # ask_id's `invalid` in the menu
    assert await server.service.bookings_for(MSISDN) == []
    await visitor.post("/book/confirm", {**CHOICE, "id_number": valid_id(2),
                                         "request_id": request_id})
    status, page, _ = await visitor.post("/book/confirm", {
        **CHOICE, "id_number": valid_id(2), "request_id": await confirm_form(visitor)})
    assert status == 409 and "您当天在该科室已有预约，无需重复预约。" in page  # the menu's
    english = await signed_in(server, "13900139000", "8613900139000", lang="en")
    status, page, _ = await english.post("/book/confirm", {
        **CHOICE, "id_number": valid_id(2), "request_id": await confirm_form(english)})
    assert status == 409 and "You already have a booking in this department that day." in page


@pytest_twisted.ensureDeferred
async def test_the_registered_id_is_offered_and_booked(server) -> None:
    await server.service.register(MSISDN, valid_id(3))
    visitor = await signed_in(server)
    status, page, _ = await visitor.get("/book/confirm?dept=nk&day=2026-11-26&session=am")
    assert valid_id(3)[-4:] in page and valid_id(3) not in page
    request_id = re.search(r'name="request_id" value="([^"]+)"', page).group(1)
    status, page, _ = await visitor.post("/book/confirm", {**CHOICE, "id_pick": "0",
                                                           "request_id": request_id})
    assert status == 200, page
    [booking] = await server.service.bookings_for(MSISDN)
    assert booking.id_number == valid_id(3)


@pytest_twisted.ensureDeferred
async def test_another_phones_booking_cannot_be_cancelled(server) -> None:
    theirs = await server.service.book(BookingRequest(
        dept_id="nk", day=CHOICE_DAY, session="am", id_number=valid_id(4),
        msisdn="8613900139000", channel="ussd"))
    visitor = await signed_in(server)
    status, page, _ = await visitor.post("/book/cancel", {"tcode": theirs.tcode})
    assert status == 409 and "该预约已取消或不存在。" in page  # the menu's `gone`
    [still] = await server.service.bookings_for("8613900139000")
    assert still.status.value == "confirmed"

