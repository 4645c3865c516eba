"""Seconds-old "places left" listings: fewer availability scripts, never a place sold twice."""

from __future__ import annotations

import pytest
import pytest_twisted
from booking_support import TOMORROW, make_id, phone

from booking.api import BookingError, BookingRequest
from booking.listing_cache import ListingCache
from booking.store import RedisBookingService


def test_entries_expire_and_a_department_can_be_dropped() -> None:
    cache = ListingCache(ttl_s=1.0)
    cache.put("nk", "k", 100.0, (5,))
    cache.put("yk", "k", 100.0, (7,))
    assert cache.get("nk", "k", 100.9) == (5,)
    assert cache.get("nk", "k", 101.0) is None  # exactly ttl_s old: gone
    cache.drop("yk")
    assert cache.get("yk", "k", 100.5) is None


def test_ttl_zero_keeps_nothing_and_negative_is_refused() -> None:
    cache = ListingCache(0.0)
    cache.put("nk", "k", 1.0, (1,))
    assert cache.get("nk", "k", 1.0) is None
    with pytest.raises(ValueError):
        ListingCache(-1)


def test_a_full_cache_makes_room() -> None:
    cache = ListingCache(ttl_s=10.0, max_entries=3)
    for n in range(10):
        cache.put("nk", n, 100.0 + n, n)
    assert cache.get("nk", 9, 109.0) == 9
    assert len(cache._entries) <= 3


def book(n: int, session: str = "pm") -> BookingRequest:
    return BookingRequest(dept_id="nk", day=TOMORROW, session=session, id_number=make_id(n),
                          msisdn=phone(n), channel="ussd")


@pytest_twisted.ensureDeferred
async def test_listings_are_reused_within_the_ttl_then_read_again(redis, catalog, clock) -> None:
    service = RedisBookingService(redis, catalog, clock, listing_cache_s=2.0)
    before = {s.session: s.remote_left for s in await service.sessions("nk", TOMORROW)}
    await service.book(book(1))
    cached = {s.session: s.remote_left for s in await service.sessions("nk", TOMORROW)}
    assert cached == before  # within 2 s: the listing is not re-read
    clock.advance(2.0)
    fresh = {s.session: s.remote_left for s in await service.sessions("nk", TOMORROW)}
    assert fresh["pm"] == before["pm"] - 1 and fresh["am"] == before["am"]


@pytest_twisted.ensureDeferred
async def test_a_stale_listing_never_sells_a_place_twice(redis, catalog, clock) -> None:
    """pm has 2 remote places. Listings cached, three callers try: the third is refused, and
    the screen after the refusal is read afresh (pm no longer offered)."""
    service = RedisBookingService(redis, catalog, clock, listing_cache_s=60.0)

    async def pm_left() -> int:
        return {s.session: s.remote_left for s in await service.sessions("nk", TOMORROW)}["pm"]

    assert await pm_left() == 2
    await service.book(book(1))
    await service.book(book(2))
    assert await pm_left() == 2  # stale: still cached
    with pytest.raises(BookingError) as refused:
        await service.book(book(3))
    assert refused.value.code == "full"
    assert await pm_left() == 0
