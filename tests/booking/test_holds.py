"""Hold → confirm: deadlines, payment, expiry by the sweeper, refunds, events on hl:events."""

from __future__ import annotations

import pytest
import pytest_twisted
from booking_support import MAIN, NOW, TOMORROW, catalog_yaml, events, make_id, phone
from twisted.internet.task import Clock

from booking.api import Booking, BookingRequest, BookingStatus
from booking.catalog import parse_catalog
from booking.store import RedisBookingService


def req(n: int, session: str = "pm") -> BookingRequest:
    return BookingRequest("nk", TOMORROW, session, make_id(n), phone(n), "ussd", lang="en")


@pytest.fixture
def paying(redis, clock: Clock) -> RedisBookingService:
    catalog = parse_catalog(catalog_yaml("payment: pay_to_confirm\nhold_minutes: 10"), "pay.yaml")
    return RedisBookingService(redis, catalog, clock)


@pytest_twisted.ensureDeferred
async def test_pay_at_hospital_books_at_once_and_the_script_appends_the_event(
    service: RedisBookingService, redis, clock
) -> None:
    booking = await service.book(req(1))
    assert booking.status is BookingStatus.CONFIRMED
    [event] = await events(redis)
    assert event == {
        "type": "booked", "tcode": booking.tcode, "hospital": "main", "msisdn": phone(1),
        "dept": "nk",
        "day": TOMORROW.isoformat(), "session": "pm", "lang": "en", "reason": "",
        "ts": str(int(clock.seconds())),
    }  # fmt: skip
    assert await redis.zcard(MAIN.holds) == 0


@pytest_twisted.ensureDeferred
async def test_hold_then_payment_confirms_once(paying: RedisBookingService, redis, clock) -> None:
    seen: list[Booking] = []
    paying.subscribe(seen.append)
    hold = await paying.book(req(1))
    assert hold.status is BookingStatus.HELD
    assert float(hold.extra["hold_until"]) == NOW.timestamp() + 600
    assert await paying.remote_left("nk", TOMORROW, "pm") == 1  # quota 2, one held
    assert await events(redis) == [] and seen == []
    clock.advance(599)
    assert await paying.confirm_payment(hold.tcode, "txn-1", 500) == "booked"
    assert await paying.confirm_payment(hold.tcode, "txn-1", 500) == "booked"  # replay
    assert [e["type"] for e in await events(redis)] == ["booked"]
    assert [b.tcode for b in seen] == [hold.tcode]
    assert (await paying._load(hold.tcode)).status is BookingStatus.CONFIRMED
    assert await redis.zcard(MAIN.holds) == 0
    clock.advance(3600)
    assert await paying.expire_due() == 0  # a paid booking never expires


@pytest_twisted.ensureDeferred
async def test_payment_after_the_deadline_is_refunded_never_booked(
    paying: RedisBookingService, redis, clock
) -> None:
    hold = await paying.book(req(1))
    await paying.book(req(2))
    assert await paying.remote_left("nk", TOMORROW, "pm") == 0
    clock.advance(600)  # deadline reached, the sweeper has not run yet
    assert await paying.confirm_payment(hold.tcode, "txn-9", 500) == "refund"
    assert (await paying._load(hold.tcode)).status is BookingStatus.EXPIRED
    assert await paying.remote_left("nk", TOMORROW, "pm") == 1  # the place is back at once
    [event] = await events(redis)
    assert event["type"] == "refund" and event["reason"] == "expired:txn-9:500"
    assert await paying.confirm_payment(hold.tcode, "txn-9", 500) == "refund"
    assert len(await events(redis)) == 1  # idempotent on txn_id
    assert await paying.confirm_payment("0000000000", "txn-x") == "unknown"


@pytest_twisted.ensureDeferred
async def test_sweeper_expires_unpaid_holds_on_the_injected_clock(
    paying: RedisBookingService, redis, clock
) -> None:
    first = await paying.book(req(1))
    clock.advance(300)
    second = await paying.book(req(2))
    loop = paying.start_sweeper(clock, interval=1.0)
    try:
        clock.advance(300)  # first's deadline
        await paying.last_sweep
        assert (await paying._load(first.tcode)).status is BookingStatus.EXPIRED
        assert (await paying._load(second.tcode)).status is BookingStatus.HELD
        assert await paying.remote_left("nk", TOMORROW, "pm") == 1
        assert await redis.zrange(MAIN.holds, 0, -1) == [second.tcode]
        # the same ID may hold again once its hold lapsed
        again = await paying.book(req(1))
        assert again.status is BookingStatus.HELD
        assert await paying.confirm_payment(first.tcode, "late") == "refund"
        assert (await events(redis))[-1]["reason"] == "expired:late:500"
    finally:
        loop.stop()


@pytest_twisted.ensureDeferred
async def test_second_payment_for_a_paid_booking_is_refunded(
    paying: RedisBookingService, redis
) -> None:
    hold = await paying.book(req(1))
    assert await paying.confirm_payment(hold.tcode, "a") == "booked"
    assert await paying.confirm_payment(hold.tcode, "b") == "refund"
    assert [(e["type"], e["reason"]) for e in await events(redis)] == [
        ("booked", ""), ("refund", "already_paid:b:500")
    ]


@pytest_twisted.ensureDeferred
async def test_cancelling_a_hold_returns_the_place_at_once(paying: RedisBookingService) -> None:
    hold = await paying.book(req(1))
    await paying.cancel(hold.tcode, msisdn=phone(1))
    assert await paying.remote_left("nk", TOMORROW, "pm") == 2
    assert await paying.confirm_payment(hold.tcode, "t") == "refund"
