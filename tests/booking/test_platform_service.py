"""The Redis service's hospital side on a platform of several: keys, admin scope, reload."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import pytest_twisted
from booking_support import TOMORROW, events, hospital_yaml, make_id, phone, platform_of
from twisted.internet.task import Clock

from booking.api import BookingError, BookingRequest
from booking.keys import HospitalKeys
from booking.policy import Limits
from booking.store import RedisBookingService

LIMITS = Limits(cancel_count=2)
A, B = hospital_yaml("a", "1"), hospital_yaml("b", "2", "payment: pay_to_confirm")


def req(hid: str, n: int, day: dt.date = TOMORROW, session: str = "am") -> BookingRequest:
    return BookingRequest("nk", day, session, make_id(n), phone(n), "ussd", hospital_id=hid)


def service_of(redis: Any, clock: Clock, *texts: str, **kw: Any) -> RedisBookingService:
    return RedisBookingService(redis, platform_of(*(texts or (A, B)), limits=LIMITS), clock, **kw)


@pytest_twisted.ensureDeferred
async def test_each_hospitals_keys_share_its_tag(redis: Any, clock: Clock) -> None:
    service = service_of(redis, clock)
    made = await service.book(req("a", 1))
    held = await service.book(req("b", 2))
    names = set(await redis.keys("*"))
    assert "hl:{h:a}:q:nk:2026-11-26:am" in names and "hl:{h:b}:holds" in names
    assert "hl:{h:a}:holds" not in names  # a confirms at once
    tagged = {n for n in names if n.startswith("hl:{")}
    assert all(n.startswith(("hl:{h:a}:", "hl:{h:b}:")) for n in tagged)
    assert {n for n in names if n.startswith("hl:pid:")}  # caps are the platform's
    assert await redis.hget(f"hl:bk:{made.tcode}", "hospital") == "a"
    assert [(e["type"], e["hospital"]) for e in await events(redis)] == [("booked", "a")]
    await service.confirm_payment(held.tcode, "t-1")
    assert [e["hospital"] for e in await events(redis)] == ["a", "b"]


@pytest_twisted.ensureDeferred
async def test_admin_operations_take_a_hospital(redis: Any, clock: Clock) -> None:
    service = service_of(redis, clock)
    for hid, n in (("a", 1), ("b", 2), ("a", 3)):
        await service.book(req(hid, n))
        clock.advance(1)
    await service.set_share("nk", 0.2, hospital_id="b")
    assert await service.remote_left("nk", TOMORROW, "am", hospital_id="b") == 11  # 12 - 1
    assert await service.remote_left("nk", TOMORROW, "am", hospital_id="a") == 48
    rows = await service.day_bookings(TOMORROW)
    assert [r["hospital"] for r in rows] == ["a", "b", "a"]
    assert [r["hospital"] for r in await service.day_bookings(TOMORROW, "b")] == ["b"]
    fill = await service.fill(TOMORROW, hospital_id="a")
    assert {r["hospital"] for r in fill} == {"a"}
    assert len(await service.session_bookings("nk", TOMORROW, "am", hospital_id="a")) == 2
    cancelled = await service.change_session("nk", TOMORROW, "am", 1, hospital_id="a")
    assert len(cancelled) == 1
    with pytest.raises(BookingError, match="unknown_hospital"):
        await service.fill(TOMORROW)  # "" on a platform of several
    assert await service.reconcile() == []


@pytest_twisted.ensureDeferred
async def test_bars_name_the_hospital_that_earned_them(redis: Any, clock: Clock) -> None:
    service = service_of(redis, clock, A, hospital_yaml("c", "3"))
    for n, hid in ((1, "a"), (2, "a")):
        made = await service.book(req(hid, 1, TOMORROW + dt.timedelta(days=n)))
        await service.cancel(made.tcode, msisdn=phone(1))
    with pytest.raises(BookingError, match="blacklisted"):
        await service.book(req("c", 1))  # platform-wide bar
    assert [r["hospital"] for r in await service.blacklist()] == ["a"]
    assert await service.blacklist("c") == []
    assert not await service.lift(make_id(1), "appeal", hospital_id="c")  # not c's bar
    assert await service.lift(make_id(1), "appeal", hospital_id="a")
    assert (await service.book(req("c", 1))).hospital_id == "c"


@pytest_twisted.ensureDeferred
async def test_bars_per_hospital_when_set(redis: Any, clock: Clock) -> None:
    service = service_of(redis, clock, A, hospital_yaml("c", "3"), blacklist_scope="hospital")
    for n in (1, 2):
        made = await service.book(req("a", 1, TOMORROW + dt.timedelta(days=n)))
        await service.cancel(made.tcode, msisdn=phone(1))
    with pytest.raises(BookingError, match="blacklisted"):
        await service.book(req("a", 1, TOMORROW + dt.timedelta(days=4)))
    assert (await service.book(req("c", 1))).hospital_id == "c"
    assert await redis.exists(HospitalKeys.of("a", blacklist_scope="hospital").bars.index)
    assert [r["hospital"] for r in await service.blacklist()] == ["a"]


@pytest_twisted.ensureDeferred
async def test_kiosk_counters_are_the_kiosks_hospitals(redis: Any, clock: Clock) -> None:
    service = service_of(redis, clock)
    for _ in range(3):
        with pytest.raises(BookingError, match="not_found"):
            await service.verify("0000000001", kiosk_id="k1", hospital_id="b")
    assert await redis.zcard("hl:{h:b}:kf:k:k1") == 3
    assert not await redis.exists("hl:{h:a}:kf:k:k1")
    with pytest.raises(BookingError, match="not_found"):
        await service.verify("0000000001", kiosk_id="k1")  # no hospital: platform counters
    assert await redis.zcard("hl:kf:k:k1") == 1


@pytest_twisted.ensureDeferred
async def test_reload_keeps_shares_and_a_removed_hospitals_holds_expire(
    redis: Any, clock: Clock
) -> None:
    service = service_of(redis, clock)
    await service.set_share("nk", 0.2, hospital_id="a")
    held = await service.book(req("b", 1))
    renamed = A.replace("a hospital", "a hospital (new wing)")
    assert service.replace_platform(platform_of(renamed, limits=LIMITS)) == ["b"]
    assert await service.remote_left("nk", TOMORROW, "am", hospital_id="a") == 12
    assert (await service.departments("a"))[0].hospital_id == "a"
    with pytest.raises(BookingError, match="unknown_hospital"):
        await service.book(req("b", 2))
    await service.expire_due()  # records b among the hospitals served

    restarted = service_of(redis, clock, renamed)  # b is gone from the files too
    clock.advance(11 * 60)
    assert await restarted.expire_due() == 1
    assert (await restarted._load(held.tcode)).status.value == "expired"
    assert await redis.zcard("hl:{h:b}:holds") == 0
