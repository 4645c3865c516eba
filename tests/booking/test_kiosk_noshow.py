"""Kiosk window and lateness grace, failed codes limited per kiosk, per client address and per
hospital (atomically, in sliding minutes), no-shows and the blacklist."""

from __future__ import annotations

import datetime as dt
import random

import pytest
import pytest_twisted
from booking_support import MAIN, SH, TOMORROW, catalog_yaml, events, make_id, phone
from twisted.internet.defer import ensureDeferred, gatherResults
from twisted.internet.task import Clock

from booking.api import BookingError, BookingRequest, RateLimited
from booking.catalog import parse_catalog
from booking.store import RedisBookingService


def req(n: int, day: dt.date = TOMORROW, session: str = "am") -> BookingRequest:
    return BookingRequest("nk", day, session, make_id(n), phone(n), "ussd")


def at(day: dt.date, hh: int, mm: int = 0) -> float:
    return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=SH).timestamp()


async def code_of(call) -> str:
    try:
        await call
        return "ok"
    except BookingError as exc:
        return exc.code


@pytest.fixture
def service(redis, clock: Clock) -> RedisBookingService:
    text = catalog_yaml("kiosk_failures_per_minute: 3", tail="limits: {per_7_days: 9}\n")
    catalog = parse_catalog(text, "kiosk.yaml")
    return RedisBookingService(redis, catalog, clock)


@pytest_twisted.ensureDeferred
async def test_check_in_window_with_lateness_grace(service: RedisBookingService, clock) -> None:
    booking = await service.book(req(1))  # am: 08:00-12:00 -> kiosk 07:00-12:30
    clock.advance(at(TOMORROW, 6, 59) - clock.seconds())
    assert await code_of(service.verify(booking.tcode)) == "too_early"
    assert await code_of(service.check_in(booking.tcode, "k1")) == "too_early"
    clock.advance(at(TOMORROW, 12, 30) - clock.seconds())
    assert await code_of(service.check_in(booking.tcode, "k1")) == "ok"  # 30 min late: still ok
    late = await service.book(req(2, day=TOMORROW + dt.timedelta(days=1)))
    clock.advance(at(TOMORROW + dt.timedelta(days=1), 12, 31) - clock.seconds())
    assert await code_of(service.check_in(late.tcode, "k1")) == "too_late"


@pytest_twisted.ensureDeferred
async def test_failed_codes_are_limited_per_kiosk(service: RedisBookingService, clock) -> None:
    booking = await service.book(req(1))
    clock.advance(at(TOMORROW, 9) - clock.seconds())
    for _ in range(3):
        assert await code_of(service.verify("0000000000", kiosk_id="k1")) == "not_found"
    assert await code_of(service.verify(booking.tcode, kiosk_id="k1")) == "rate_limited"
    assert await code_of(service.check_in(booking.tcode, "k1")) == "rate_limited"
    assert await code_of(service.check_in(booking.tcode, "k2")) == "ok"  # another kiosk
    clock.advance(60)
    assert await code_of(service.verify("0000000000", kiosk_id="k1")) == "not_found"


def guesses(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.randrange(10**10):010d}" for _ in range(n)]


@pytest.fixture
def limited(redis, clock: Clock) -> RedisBookingService:
    """Per kiosk 3, per address 5, per hospital 8 wrong codes a minute."""
    text = catalog_yaml("kiosk_failures_per_minute: 3\nkiosk_failures_per_address_per_minute: 5\n"
                        "kiosk_failures_per_hospital_per_minute: 8")
    return RedisBookingService(redis, parse_catalog(text, "kiosk.yaml"), clock)


@pytest_twisted.ensureDeferred
async def test_rotating_kiosk_ids_gains_nothing_against_the_address_limit(
    limited: RedisBookingService, clock: Clock
) -> None:
    booking = await limited.book(req(1))
    clock.advance(at(TOMORROW, 9) - clock.seconds())
    codes = [await code_of(limited.verify(g, kiosk_id=f"k{n}", client="192.0.2.1"))
             for n, g in enumerate(guesses(12))]
    assert codes == ["not_found"] * 5 + ["rate_limited"] * 7
    # limited before the lookup: even the right code is not looked up from that address
    assert await code_of(limited.check_in(booking.tcode, "k99", client="192.0.2.1")) == (
        "rate_limited")
    assert await code_of(limited.verify(booking.tcode, "k99", client="192.0.2.2")) == "ok"


@pytest_twisted.ensureDeferred
async def test_the_hospital_limit_holds_across_addresses_and_retry_after_is_exact(
    limited: RedisBookingService, clock: Clock
) -> None:
    for n, g in enumerate(guesses(8)):  # 8 addresses, 8 kiosks: the hospital's 8 a minute
        assert await code_of(limited.verify(g, f"k{n}", client=f"192.0.2.{n}")) == "not_found"
        clock.advance(5)
    with pytest.raises(RateLimited) as refused:
        await limited.verify("1234567890", "k-new", client="198.51.100.1")
    assert refused.value.retry_after_s == 60 - 40  # the first wrong code leaves the minute then
    clock.advance(refused.value.retry_after_s - 1)
    assert await code_of(limited.verify("1234567890", "k-new", "198.51.100.1")) == (
        "rate_limited")
    clock.advance(1)  # a sliding minute: one slot is free again, not a whole new minute
    assert await code_of(limited.verify("1234567890", "k-new", "198.51.100.1")) == "not_found"
    assert await code_of(limited.verify("1234567891", "k-new", "198.51.100.1")) == (
        "rate_limited")


@pytest_twisted.ensureDeferred
async def test_concurrent_guesses_never_pass_the_limit(limited: RedisBookingService) -> None:
    """Sixty guesses in flight at once: the check and the count are one step in Redis."""
    calls = [code_of(limited.verify(g, kiosk_id=f"k{n}", client="192.0.2.9"))
             for n, g in enumerate(guesses(60))]
    codes = await gatherResults([ensureDeferred(c) for c in calls])
    assert codes.count("not_found") == 5 and codes.count("rate_limited") == 55


@pytest_twisted.ensureDeferred
async def test_malformed_codes_count_as_wrong_codes(limited: RedisBookingService) -> None:
    codes = [await code_of(limited.verify(bad, "k1", client="192.0.2.3"))
             for bad in ("abc", "", "12345", "x" * 200)]
    assert codes == ["not_found"] * 3 + ["rate_limited"]  # the kiosk's 3


@pytest_twisted.ensureDeferred
async def test_three_no_shows_bar_the_id_and_admin_lifts_it(redis, service, clock) -> None:
    for n in range(3):  # one booking on each of three days, never checked in
        await service.book(req(1, day=TOMORROW + dt.timedelta(days=n)))
    await service.book(req(2))  # checked in: not a no-show
    clock.advance(at(TOMORROW, 9) - clock.seconds())
    [mine] = [b for b in await service.bookings_for(phone(2))]
    await service.check_in(mine.tcode, "k1")
    assert await service.sweep_no_shows() == 0  # the session has not ended
    clock.advance(at(TOMORROW, 12, 30) - clock.seconds())
    assert await service.sweep_no_shows() == 1
    assert await service.sweep_no_shows() == 0  # each session once
    for n in (1, 2):
        clock.advance(at(TOMORROW + dt.timedelta(days=n), 12, 30) - clock.seconds())
        assert await service.sweep_no_shows() == 1
    kinds = [(e["type"], e["reason"][:13]) for e in await events(redis)]
    assert kinds[-3:] == [("no_show", ""), ("no_show", ""), ("no_show", "barred_until:")]
    barred = await service.barred_until(make_id(1))
    assert barred == pytest.approx(clock.seconds() + 180 * 86400)
    err = None
    try:
        await service.book(req(1, day=TOMORROW + dt.timedelta(days=4)))
    except BookingError as exc:
        err = exc
    assert err is not None and err.code == "blacklisted"
    until = dt.datetime.fromtimestamp(barred, SH).date().isoformat()
    assert until in err.message
    [row] = await service.blacklist()
    assert row["reason"] == "no_show x3" and make_id(1) not in str(row)
    with pytest.raises(BookingError):
        await service.lift(make_id(1), "   ")  # a reason is required
    assert await service.lift(make_id(1), "appeal accepted", appeal="was in hospital") is True
    assert await service.blacklist() == []
    assert await code_of(service.book(req(1, day=TOMORROW + dt.timedelta(days=4)))) == "ok"


@pytest_twisted.ensureDeferred
async def test_a_node_down_for_three_days_marks_every_missed_days_no_shows(
        redis, service, clock) -> None:
    days = [TOMORROW + dt.timedelta(days=n) for n in range(3)]
    for n, day in enumerate(days):  # one booking on each of three days, never checked in
        await service.book(req(10 + n, day=day, session="pm"))
    assert await service.sweep_no_shows() == 0  # the node sweeps, then is down for 3 days
    clock.advance(at(days[-1] + dt.timedelta(days=1), 9) - clock.seconds())
    assert await service.sweep_no_shows() == 3  # every missed day, not only yesterday
    assert [e["type"] for e in await events(redis)][-3:] == ["no_show"] * 3
    assert await redis.get(MAIN.noshow_last) == days[-1].isoformat()
    assert await service.sweep_no_shows() == 0


@pytest_twisted.ensureDeferred
async def test_the_sweep_completes_a_day_only_once_all_its_sessions_ended(
        redis, service, clock) -> None:
    await service.book(req(20, session="am"))
    await service.book(req(21, session="pm"))
    clock.advance(at(TOMORROW, 13) - clock.seconds())
    assert await service.sweep_no_shows() == 1  # the morning's; the afternoon is still on
    assert await redis.get(MAIN.noshow_last) == (TOMORROW - dt.timedelta(days=1)).isoformat()
    clock.advance(at(TOMORROW + dt.timedelta(days=2), 9) - clock.seconds())
    assert await service.sweep_no_shows() == 1  # the afternoon's, caught up
    assert await redis.get(MAIN.noshow_last) == (TOMORROW + dt.timedelta(days=1)).isoformat()
