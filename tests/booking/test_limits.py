"""预约限量: caps per ID across channels, IDs per phone, rate limits per phone and per ID."""

from __future__ import annotations

import datetime as dt

import pytest_twisted
from booking_support import TOMORROW, catalog_yaml, make_id, phone

from booking.api import BookingError, BookingRequest
from booking.catalog import parse_catalog
from booking.store import RedisBookingService


def req(who: int, day_offset: int = 0, dept: str = "nk", msisdn: str | None = None, **kw):
    day = TOMORROW + dt.timedelta(days=day_offset)
    return BookingRequest(dept, day, kw.get("session", "am"), make_id(who), msisdn or phone(who),
                          kw.get("channel", "ussd"))  # fmt: skip


def service_with(redis, clock, limits: str) -> RedisBookingService:
    catalog = parse_catalog(catalog_yaml(tail=f"limits: {{{limits}}}\n"), "limits.yaml")
    return RedisBookingService(redis, catalog, clock)


async def outcome(call) -> tuple[str, str]:
    try:
        await call
        return ("ok", "")
    except BookingError as exc:
        return (exc.code, exc.message)


@pytest_twisted.ensureDeferred
async def test_per_day_cap_across_departments_and_channels(redis, clock) -> None:
    service = service_with(redis, clock, "per_day: 1")
    assert (await outcome(service.book(req(1))))[0] == "ok"
    code, message = await outcome(service.book(req(1, dept="yk", channel="ivr")))
    assert code == "limit" and "that day" in message
    assert (await outcome(service.book(req(1, day_offset=1, dept="yk"))))[0] == "ok"


@pytest_twisted.ensureDeferred
async def test_seven_and_ninety_day_caps(redis, clock) -> None:
    service = service_with(redis, clock, "per_7_days: 3, per_90_days: 4")
    for day in range(3):
        assert (await outcome(service.book(req(1, day_offset=day))))[0] == "ok"
    code, message = await outcome(service.book(req(1, day_offset=3)))
    assert code == "limit" and "7 days" in message
    clock.advance(7 * 86400)  # the first three leave the 7-day window, not the 90-day one
    assert (await outcome(service.book(req(1, day_offset=8))))[0] == "ok"
    code, message = await outcome(service.book(req(1, day_offset=9)))
    assert code == "limit" and "90 days" in message


@pytest_twisted.ensureDeferred
async def test_cancelled_bookings_leave_the_caps(redis, clock) -> None:
    service = service_with(redis, clock, "per_day: 1")
    first = await service.book(req(1))
    await service.cancel(first.tcode)
    assert (await outcome(service.book(req(1, dept="yk"))))[0] == "ok"


@pytest_twisted.ensureDeferred
async def test_two_ids_per_phone(redis, clock) -> None:
    service = service_with(redis, clock, "ids_per_phone: 2")
    shared = phone(99)
    assert (await outcome(service.book(req(1, msisdn=shared))))[0] == "ok"
    assert (await outcome(service.book(req(2, msisdn=shared))))[0] == "ok"
    assert (await outcome(service.book(req(3, msisdn=shared))))[0] == "limit_ids"
    assert (await outcome(service.book(req(1, day_offset=1, msisdn=shared))))[0] == "ok"
    assert await service.registered_ids(shared) == sorted([make_id(1), make_id(2)])


@pytest_twisted.ensureDeferred
async def test_more_than_30_operations_a_minute_are_refused(redis, clock) -> None:
    service = service_with(redis, clock, "ops_per_minute: 30")
    clock.advance(60 - clock.seconds() % 60)  # start of a clock minute
    await service.book(req(1))
    for _ in range(29):  # retries count too: a scalper's script hammering the same slot
        assert (await outcome(service.book(req(1))))[0] == "duplicate"
    code, message = await outcome(service.book(req(1)))
    assert code == "rate_limited" and "minute" in message
    # per ID too: the same ID from another phone is still limited in this minute
    assert (await outcome(service.book(req(1, msisdn=phone(7)))))[0] == "rate_limited"
    clock.advance(60)
    assert (await outcome(service.book(req(1))))[0] == "duplicate"


@pytest_twisted.ensureDeferred
async def test_three_cancels_in_a_month_bar_the_id(redis, clock) -> None:
    service = service_with(redis, clock, "cancel_count: 3, per_7_days: 9")
    for day in range(3):
        booking = await service.book(req(1, day_offset=day + 1))
        await service.cancel(booking.tcode, msisdn=phone(1))
    code, message = await outcome(service.book(req(1, day_offset=5)))
    assert code == "blacklisted" and "until" in message
    [row] = await service.blacklist()
    assert row["reason"] == "cancel x3"
    assert await service.barred_until(make_id(1)) == clock.seconds() + 30 * 86400
