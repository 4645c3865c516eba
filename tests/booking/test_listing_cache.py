"""Seconds-old "places left" listings: fewer availability scripts, never a place sold twice."""

from __future__ import annotations

import pytest
import pytest_twisted
from booking_support import TOMORROW, make_id, phone
from hypothesis import example, given, settings
from hypothesis import strategies as st

from booking.api import BookingError, BookingRequest
from booking.listing_cache import ListingCache
from booking.store import RedisBookingService


def test_entries_expire_and_a_department_can_be_dropped() -> None:
    cache = ListingCache(ttl_s=1.0)
    cache.put("nk", "k", 100.0, (5,), cache.generation("nk"))
    cache.put("yk", "k", 100.0, (7,), cache.generation("yk"))
    assert cache.get("nk", "k", 100.9) == (5,)
    assert cache.get("nk", "k", 101.0) is None  # exactly ttl_s old: gone
    cache.drop("yk")
    assert cache.get("yk", "k", 100.5) is None


def test_ttl_zero_keeps_nothing_and_negative_is_refused() -> None:
    cache = ListingCache(0.0)
    cache.put("nk", "k", 1.0, (1,), 0)
    assert cache.get("nk", "k", 1.0) is None
    with pytest.raises(ValueError):
        ListingCache(-1)


def test_a_due_listing_is_claimed_by_one_reader_at_a_time() -> None:
    cache = ListingCache(ttl_s=2.0)
    cache.put("nk", "k", 100.0, (5,), cache.generation("nk"))
    assert cache.claim("nk", "k", 101.4) is None  # not due before 3/4 of the ttl
    assert cache.claim("nk", "k", 101.5) == 0
    assert cache.claim("nk", "k", 101.6) is None  # already being refreshed
    cache.release("nk", "k")  # that refresh failed: the next due reader tries again
    assert cache.claim("nk", "k", 101.7) == 0
    cache.put("nk", "k", 101.7, (4,), 0)
    assert cache.get("nk", "k", 103.6) == (4,)  # the refresh restarted the ttl
    assert cache.claim("nk", "k", 103.1) is None
    assert cache.claim("missing", "k", 200.0) is None  # nothing cached: the reader reads Redis


def test_a_read_begun_before_a_drop_is_not_kept() -> None:
    """A refusal ("full") drops the department; a listing read from Redis before it must not
    come back and hide that the session filled."""
    cache = ListingCache(ttl_s=2.0)
    cache.put("nk", "k", 100.0, (1,), cache.generation("nk"))
    began = cache.claim("nk", "k", 101.5)
    assert began is not None
    cache.drop("nk")
    cache.put("nk", "k", 101.5, (1,), began)
    assert cache.get("nk", "k", 101.6) is None
    assert cache.claim("nk", "k", 103.0) is None  # and the claim was cleared with it
    cache.put("nk", "k", 101.6, (0,), cache.generation("nk"))
    assert cache.get("nk", "k", 101.7) == (0,)


def test_a_full_cache_makes_room() -> None:
    cache = ListingCache(ttl_s=10.0, max_entries=3)
    for n in range(10):
        cache.put("nk", n, 100.0 + n, n, 0)
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


@pytest_twisted.ensureDeferred
async def test_a_due_listing_is_served_while_it_is_refreshed_behind(redis, catalog, clock) -> None:
    """Past 3/4 of the ttl the reader gets the cached listing at once and the refresh runs
    behind it; once it lands, readers get the new listing, past the old one's expiry too."""
    service = RedisBookingService(redis, catalog, clock, listing_cache_s=2.0)

    async def pm_left() -> int:
        return {s.session: s.remote_left for s in await service.sessions("nk", TOMORROW)}["pm"]

    start = await pm_left()
    await service.book(book(1))
    clock.advance(1.6)  # due
    assert await pm_left() == start  # the cached listing, without waiting for Redis
    await redis.ping()  # replies come in order: the refresh's has been handled by now
    assert await pm_left() == start - 1
    await service.book(book(2))
    clock.advance(0.8)  # 2.4 s: the first listing would have expired; the refreshed one holds
    assert await pm_left() == start - 1
    clock.advance(1.3)  # 3.7 s: the refreshed one (read at 1.6 s) has expired as well
    assert await pm_left() == start - 2


# A model of what callers may be shown: operations on two departments' listings in any order,
# time moving forward. Whatever get() returns must have been read at most ttl_s ago, and not
# by a read that began before the last drop of its department (a "full" refusal).
_ops = st.lists(
    st.tuples(
        st.sampled_from(["read", "claim", "land", "fail", "drop", "wait"]),
        st.sampled_from(["nk", "yk"]),
        st.sampled_from([0.0, 0.3, 0.8, 1.2]),  # waits around the due point and the ttl
    ),
    max_size=40,
)
_RACE = [("read", "nk", 0.0), ("wait", "nk", 0.8), ("claim", "nk", 0.0), ("drop", "nk", 0.0),
         ("land", "nk", 0.0)]  # a refresh begun before a refusal lands after it


@settings(max_examples=400, deadline=None)
@given(_ops)
@example(_RACE)
def test_a_listing_shown_is_never_too_old_nor_from_before_a_drop(ops) -> None:
    ttl = 1.0
    cache = ListingCache(ttl_s=ttl)
    now = 100.0
    last_drop = {"nk": -1, "yk": -1}  # the step of each department's last drop
    in_flight: list[tuple[str, float, int, int]] = []  # (dept, read at, step begun, generation)
    for step, (op, dept, amount) in enumerate(ops):
        if op == "wait":
            now += amount
        elif op == "read":  # a reader that found nothing reads Redis and stores what it saw
            if cache.get(dept, "k", now) is None:
                cache.put(dept, "k", now, (now, step), cache.generation(dept))
        elif op == "claim":
            generation = cache.claim(dept, "k", now)
            if generation is not None:
                in_flight.append((dept, now, step, generation))
        elif op in ("land", "fail") and in_flight:
            d, read_at, begun, generation = in_flight.pop(0)
            if op == "land":
                cache.put(d, "k", read_at, (read_at, begun), generation)
            else:
                cache.release(d, "k")
        elif op == "drop":
            cache.drop(dept)
            last_drop[dept] = step
        for d in ("nk", "yk"):
            shown = cache.get(d, "k", now)
            if shown is not None:
                read_at, begun = shown
                assert now - read_at < ttl
                assert begun > last_drop[d]
