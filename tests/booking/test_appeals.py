"""Appeals against a bar: filed from the phone that booked for the barred ID, queued per
hospital of the bar, decided once (lift or refuse) with a reason."""

from __future__ import annotations

import datetime as dt

import pytest
import pytest_twisted
from booking_support import TOMORROW, catalog_yaml, make_id, phone
from twisted.internet.task import Clock

from booking.api import BookingError, BookingRequest
from booking.catalog import parse_catalog
from booking.keys import id_digest
from booking.store import RedisBookingService


@pytest.fixture
def service(redis, clock: Clock) -> RedisBookingService:
    return RedisBookingService(redis, parse_catalog(catalog_yaml(), "h.yaml"), clock)


async def bar(service: RedisBookingService, n: int) -> None:
    """Three cancels in the window: the policy's default bar."""
    for day in range(3):
        b = await service.book(BookingRequest("nk", TOMORROW + dt.timedelta(days=day), "am",
                                              make_id(n), phone(n), "sms"))
        await service.cancel(b.tcode)
    assert await service.barred_until(make_id(n)) is not None


@pytest_twisted.ensureDeferred
async def test_an_appeal_waits_in_its_hospitals_queue_and_a_lift_decides_it(service) -> None:
    await bar(service, 1)
    assert await service.appeal(phone(2), "not barred") == []  # another phone: nothing filed
    [filed] = await service.appeal(phone(1), "当日住院，无法就诊", "zh")
    assert filed["hospital"] == "main" and filed["id_digest"] == id_digest(make_id(1))
    await service.appeal(phone(1), f"第二次申诉 {make_id(1)}")  # replaces the first
    [queued] = await service.appeals("main")
    assert queued["appeal"].startswith("第二次申诉 ") and queued["appeal_msisdn"] == phone(1)
    assert make_id(1) not in queued["appeal"] and make_id(1)[-4:] in queued["appeal"]
    assert await service.appeals(None) == [queued]
    with pytest.raises(BookingError):
        await service.decide_appeal(queued["id_digest"], True, " ", hospital_id="main")
    done = await service.decide_appeal(queued["id_digest"], True, "住院证明已核实",
                                       hospital_id="main")
    assert done is not None and done["appeal_msisdn"] == phone(1)
    assert await service.appeals("main") == []
    assert await service.barred_until(make_id(1)) is None
    assert await service.decide_appeal(queued["id_digest"], True, "again",
                                       hospital_id="main") is None  # decided once


@pytest_twisted.ensureDeferred
async def test_a_refused_appeal_leaves_the_bar_and_a_lapsed_bar_leaves_the_queue(
    service, clock
) -> None:
    await bar(service, 1)
    await bar(service, 2)
    await service.appeal(phone(1), "x")
    await service.appeal(phone(2), "y")
    digest = id_digest(make_id(1))
    done = await service.decide_appeal(digest, False, "无正当理由", hospital_id="main")
    assert done is not None and done["appeal"] == "x"
    assert await service.barred_until(make_id(1)) is not None
    assert [r["appeal"] for r in await service.appeals("main")] == ["y"]
    clock.advance(400 * 86400)  # every bar ran out
    assert await service.appeals("main") == []
