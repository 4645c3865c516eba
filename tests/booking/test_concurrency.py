"""Contention, script reloads, T-code collisions and listeners, against the real Redis."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
import pytest_twisted
from booking_support import MAIN, TOMORROW, make_id, phone
from twisted.internet.defer import Deferred, gatherResults
from twisted.logger import globalLogPublisher

from booking import keys
from booking.api import Booking, BookingError, BookingRequest
from booking.store import RedisBookingService


def req(n: int, session: str = "am") -> BookingRequest:
    return BookingRequest("nk", TOMORROW, session, make_id(n), phone(n), "ivr")


async def outcome(service: RedisBookingService, request: BookingRequest) -> str:
    try:
        return (await service.book(request)).tcode
    except BookingError as exc:
        return exc.code


@pytest_twisted.ensureDeferred
async def test_200_concurrent_bookings_for_50_places(service: RedisBookingService, redis) -> None:
    calls = [Deferred.fromCoroutine(outcome(service, req(n))) for n in range(200)]
    results = await gatherResults(calls)
    codes = [r for r in results if r != "full"]
    assert len(codes) == 50 and len(set(codes)) == 50
    assert results.count("full") == 150
    assert await redis.hget(MAIN.counts("nk", TOMORROW, "am"), "r") == "50"
    assert await redis.scard(MAIN.session_codes("nk", TOMORROW, "am")) == 50
    assert len(await redis.hgetall(MAIN.ids_of_day("nk", TOMORROW))) == 50
    assert await service.remote_left("nk", TOMORROW, "am") == 0


@pytest_twisted.ensureDeferred
async def test_scripts_reload_after_redis_forgets_them(service: RedisBookingService, redis) -> None:
    await service.book(req(1))
    await redis.script_flush()
    booking = await service.book(req(2))  # NOSCRIPT -> SCRIPT LOAD -> EVALSHA
    assert booking.id_number == make_id(2)
    assert await redis.script_exists(service.holds.script.sha) is True


@pytest_twisted.ensureDeferred
async def test_tcode_collision_takes_a_fresh_code(redis, catalog, clock) -> None:
    draws = itertools.chain([7, 7, 7], itertools.count(100))
    service = RedisBookingService(redis, catalog, clock, rng=lambda n: next(draws))
    first = await service.book(req(1))
    second = await service.book(req(2))  # its first two candidates equal first's code
    assert first.tcode.startswith("000000007")
    assert second.tcode.startswith("000000100")
    assert await redis.exists(keys.PLATFORM.booking(first.tcode))
    assert (await redis.hgetall(keys.PLATFORM.booking(first.tcode)))["id"] == make_id(1)


@pytest_twisted.ensureDeferred
async def test_endless_collisions_give_a_clean_error(redis, catalog, clock) -> None:
    service = RedisBookingService(redis, catalog, clock, rng=lambda n: 7)
    await service.book(req(1))
    with pytest.raises(BookingError) as err:
        await service.book(req(2))
    assert err.value.code == "error"
    assert await service.remote_left("nk", TOMORROW, "am") == 49


@pytest_twisted.ensureDeferred
async def test_listeners_see_bookings_and_cannot_break_them(service: RedisBookingService) -> None:
    seen: list[Booking] = []
    never: Deferred[None] = Deferred()
    events: list[dict] = []

    def broken(_: Booking) -> None:
        raise RuntimeError("listener bug")

    async def slow(_: Booking) -> None:
        await never  # book() must not wait for this

    async def failing(_: Booking) -> None:
        raise RuntimeError("async listener bug")

    for listener in (broken, slow, failing, seen.append):
        service.subscribe(listener)
    globalLogPublisher.addObserver(events.append)
    try:
        booking = await service.book(req(1))
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert seen == [booking]
    failures = [e for e in events if "listener_failed" in e.get("log_format", "")]
    assert len(failures) == 2
    assert all(booking.id_number not in repr(e) for e in events)
    replay = await service.book(replace(req(2), request_key="k"))
    await service.book(replace(req(2), request_key="k"))
    assert seen == [booking, replay]  # a replayed request does not notify twice
    never.callback(None)
