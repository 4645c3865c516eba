"""Quota by channel: remote / on-site / reserve buckets, share changes, the on-site fallback,
release hour and next-day cut-off."""

from __future__ import annotations

import datetime as dt

import pytest_twisted
from booking_support import NOW, SH, TOMORROW, catalog_yaml, make_id, phone
from twisted.internet.defer import ensureDeferred, gatherResults
from twisted.internet.task import Clock

from booking.api import BookingError, BookingRequest
from booking.catalog import parse_catalog
from booking.store import RedisBookingService


def req(n: int, channel: str = "ussd", session: str = "am", day: dt.date = TOMORROW):
    return BookingRequest("nk", day, session, make_id(n), phone(n), channel)


def service_with(redis, clock: Clock, hospital: str = "") -> RedisBookingService:
    return RedisBookingService(redis, parse_catalog(catalog_yaml(hospital), "q.yaml"), clock)


async def code_of(call) -> str:
    try:
        await call
        return "ok"
    except BookingError as exc:
        return exc.code


@pytest_twisted.ensureDeferred
async def test_buckets_split_places_and_channels_draw_from_their_own(redis, clock) -> None:
    service = service_with(redis, clock, "reserve_share: 0.1")  # am: 63 places
    assert await service.left("nk", TOMORROW, "am") == {"r": 50, "o": 7, "v": 6, "rq": 50}
    await service.book(req(1))
    await service.book(req(2, channel="onsite"))
    await service.book(req(3, channel="referral"))
    assert await service.left("nk", TOMORROW, "am") == {"r": 49, "o": 6, "v": 5, "rq": 50}


@pytest_twisted.ensureDeferred
async def test_share_change_never_breaks_taken_places(redis, clock) -> None:
    service = service_with(redis, clock, "payment: pay_to_confirm")  # pm: 3 places, quota 2
    first = await service.book(req(1, session="pm"))
    await service.book(req(2, session="pm"))
    quotas = await service.set_share("nk", 0.0)
    assert quotas[f"{TOMORROW.isoformat()}:pm"] == 2  # both holds stand
    assert await code_of(service.book(req(3, session="pm"))) == "full"
    clock.advance(601)
    assert await service.expire_due() == 2
    assert (await service.left("nk", TOMORROW, "pm"))["rq"] == 0  # shrank as the holds went
    assert await code_of(service.book(req(1, session="pm"))) == "full"
    await service.set_share("nk", 1.0)
    assert (await service.left("nk", TOMORROW, "pm"))["r"] == 3
    assert first.status.value == "held"


@pytest_twisted.ensureDeferred
async def test_unclaimed_remote_places_fall_back_on_site_before_the_session(redis, clock) -> None:
    service = service_with(redis, clock)
    for n in range(5):
        await service.book(req(n))
    assert (await service.left("nk", TOMORROW, "am"))["o"] == 13
    start = dt.datetime.combine(TOMORROW, dt.time(8, 0), tzinfo=SH).timestamp()
    clock.advance(start - 30 * 60 - 1 - clock.seconds())
    assert (await service.left("nk", TOMORROW, "am"))["o"] == 13
    clock.advance(1)  # 07:30, 30 min before the 08:00 start: computed, no timer
    assert await service.left("nk", TOMORROW, "am") == {"r": 0, "o": 58, "v": 0, "rq": 5}
    assert await code_of(service.book(req(9, channel="onsite"))) == "ok"


@pytest_twisted.ensureDeferred
async def test_release_hour_and_next_day_cutoff(redis) -> None:
    clock = Clock()
    clock.advance(NOW.replace(hour=6, minute=59).timestamp())
    service = service_with(redis, clock)
    last = NOW.date() + dt.timedelta(days=7)
    assert await code_of(service.book(req(1, day=last))) == "closed"  # released at 07:00
    assert last not in await service.open_days("nk")
    clock.advance(60)
    assert last in await service.open_days("nk")
    assert await code_of(service.book(req(1, day=last))) == "ok"
    clock.advance(10 * 3600 - 1)  # 16:59:59
    assert await code_of(service.book(req(2))) == "ok"
    clock.advance(1)  # 17:00: tomorrow is closed
    assert await code_of(service.book(req(3))) == "closed"
    assert TOMORROW not in await service.open_days("nk")


@pytest_twisted.ensureDeferred
async def test_a_session_reserve_moves_remote_places_in_that_session_alone(redis, clock) -> None:
    service = service_with(redis, clock, "reserve_share: 0.1")  # am: 63 places, 6 reserved
    day2 = TOMORROW + dt.timedelta(days=1)
    result = await service.set_reserve("nk", TOMORROW, "am", 20)
    assert result == {"places": 63, "reserve": 20, "remote_quota": 43}
    assert await service.left("nk", TOMORROW, "am") == {"r": 43, "o": 0, "v": 20, "rq": 43}
    assert (await service.left("nk", day2, "am"))["v"] == 6  # other days keep the share's
    row = next(r for r in await service.fill(TOMORROW) if r["session"] == "am")
    assert (row["reserve"], row["remote_left"]) == (20, 43)
    await service.set_reserve("nk", TOMORROW, "am", 0)
    assert await service.left("nk", TOMORROW, "am") == {"r": 50, "o": 13, "v": 0, "rq": 50}


@pytest_twisted.ensureDeferred
async def test_concurrent_holds_while_the_reserve_changes_never_oversell(redis, clock) -> None:
    """Holds and reserve changes race on one session; each runs atomically in Redis, so the
    places taken end up exactly the remote quota the last accepted reserve leaves."""
    service = service_with(redis, clock, "reserve_share: 0.1")  # am: 63 places, quota 50
    calls = [ensureDeferred(code_of(service.book(req(n)))) for n in range(1, 31)]
    calls.append(ensureDeferred(service.set_reserve("nk", TOMORROW, "am", 30)))  # quota 33
    calls += [ensureDeferred(code_of(service.book(req(n)))) for n in range(31, 71)]
    out = await gatherResults(calls)
    codes = out[:30] + out[31:]
    assert set(codes) == {"ok", "full"}
    left = await service.left("nk", TOMORROW, "am")
    assert out[30] == {"places": 63, "reserve": 30, "remote_quota": 33}
    assert codes.count("ok") == 33 and left == {"r": 0, "o": 0, "v": 30, "rq": 33}
    assert await service.reconcile() == []
    calls = [ensureDeferred(code_of(service.book(req(n, channel="referral"))))
             for n in range(71, 101)]
    calls.insert(15, ensureDeferred(code_of(service.set_reserve("nk", TOMORROW, "am", 31))))
    calls.insert(10, ensureDeferred(code_of(service.set_reserve("nk", TOMORROW, "am", 12))))
    out = await gatherResults(calls)
    cut, grow = out[10], out[16]
    assert grow == "bad_request"  # 33 remote + 31 > 63, whenever it ran
    referrals = out[:10] + out[11:16] + out[17:]
    # the cut to 12 lands only while at most 12 reserve places are taken; then 12 is the cap
    assert referrals.count("ok") == (12 if cut == "ok" else 30)
    left = await service.left("nk", TOMORROW, "am")
    assert left["v"] == 0 and left["r"] == 0 and left["rq"] == 33
    assert await service.reconcile() == []
