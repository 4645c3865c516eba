"""The Redis booking service against a real redis-server: the booking round trip and refusals."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import pytest_twisted
from booking_support import MAIN, TOMORROW, make_id, phone
from booking_support import SH as TOMORROW_TZ

from booking import keys
from booking.api import BookingError, BookingRequest, BookingStatus
from booking.store import RedisBookingService
from booking.tcode import is_well_formed


def req(n: int = 0, **kw: object) -> BookingRequest:
    base: dict = {
        "dept_id": "nk",
        "day": TOMORROW,
        "session": "am",
        "id_number": make_id(n),
        "msisdn": phone(n),
        "channel": "ussd",
    }
    base.update(kw)
    return BookingRequest(**base)


async def refused(coro: object) -> BookingError:
    with pytest.raises(BookingError) as err:
        await coro  # type: ignore[misc]
    return err.value


@pytest_twisted.ensureDeferred
async def test_book_verify_check_in_round_trip(service: RedisBookingService, clock) -> None:
    booking = await service.book(req())
    assert is_well_formed(booking.tcode)
    assert booking.status is BookingStatus.CONFIRMED
    assert booking.dept_name["zh"] == "内科" and booking.session_label["en"] == "morning"
    assert await service.remote_left("nk", TOMORROW, "am") == 49

    assert (await refused(service.verify(booking.tcode))).code == "not_today"
    clock.advance(86400)  # the visit day
    seen = await service.verify(booking.tcode)
    assert (seen.tcode, seen.id_number, seen.status) == (booking.tcode, make_id(0), "confirmed")

    done = await service.check_in(booking.tcode, "kiosk-1")
    assert done.status is BookingStatus.CHECKED_IN
    assert done.checked_in_at == clock.seconds()
    assert done.extra["kiosk_id"] == "kiosk-1"
    again = await refused(service.check_in(booking.tcode, "kiosk-2"))
    assert again.code == "already_checked_in"
    assert (await refused(service.verify(booking.tcode))).code == "already_checked_in"


@pytest_twisted.ensureDeferred
async def test_duplicate_id_same_department_and_day(service: RedisBookingService) -> None:
    await service.book(req(1))
    err = await refused(service.book(req(1, session="pm")))
    assert err.code == "duplicate"
    # lower-case x / keypad * forms are the same person
    other = await service.book(req(1, dept_id="yk"))
    assert other.dept_id == "yk"
    nxt = await service.book(req(1, day=TOMORROW + dt.timedelta(days=1)))
    assert nxt.day == TOMORROW + dt.timedelta(days=1)


@pytest_twisted.ensureDeferred
async def test_full_session(service: RedisBookingService) -> None:
    await service.book(req(1, session="pm"))
    await service.book(req(2, session="pm"))
    assert (await refused(service.book(req(3, session="pm")))).code == "full"
    sessions = {s.session: s.remote_left for s in await service.sessions("nk", TOMORROW)}
    assert sessions == {"am": 50, "pm": 0}


@pytest_twisted.ensureDeferred
async def test_request_key_is_idempotent(service: RedisBookingService, redis) -> None:
    first = await service.book(req(1, request_key="call-42:book"))
    second = await service.book(req(1, request_key="call-42:book"))
    assert second.tcode == first.tcode
    assert await redis.hget(MAIN.counts("nk", TOMORROW, "am"), "r") == "1"
    assert (await refused(service.book(req(1, request_key="call-43:book")))).code == "duplicate"
    reused = await refused(service.book(req(2, request_key="call-42:book")))
    assert reused.code == "bad_request"


@pytest_twisted.ensureDeferred
async def test_invalid_id_and_closed_days(service: RedisBookingService, redis) -> None:
    assert (await refused(service.book(req(id_number="110105198001010010")))).code == "invalid_id"
    today = TOMORROW - dt.timedelta(days=1)
    for bad in [
        req(day=today),
        req(day=today + dt.timedelta(days=8)),
        req(dept_id="zz"),
        req(session="ev"),
        req(dept_id="yk", session="pm"),  # 0 places
    ]:
        err = await refused(service.book(bad))
        assert err.code in ("closed", "full"), err
    # nothing was written but the per-minute operation counters (rate limits)
    assert [k for k in await redis.keys("hl:*") if not k.startswith("hl:rl:")] == []
    err = await refused(service.book(req(msisdn="+86 138")))
    assert err.code == "bad_request"


@pytest_twisted.ensureDeferred
async def test_keypad_star_is_x(service: RedisBookingService) -> None:
    booking = await service.book(req(id_number="11010519491231002*"))
    assert booking.id_number == "11010519491231002X"


@pytest_twisted.ensureDeferred
async def test_forged_and_mistyped_codes_get_identical_errors(
    service: RedisBookingService, clock
) -> None:
    real = (await service.book(req())).tcode
    clock.advance(86400)
    typo = real[:3] + str((int(real[3]) + 1) % 10) + real[4:]
    forged = "0000000000"  # well-formed (Damm) but never issued
    errors = []
    for code in [typo, forged, "12345", "abcdefghij", real[::-1], ""]:
        if code == real:
            continue
        for call in (service.verify(code), service.check_in(code, "k1")):
            errors.append(await refused(call))
    assert {(e.code, e.message) for e in errors} == {(errors[0].code, errors[0].message)}
    assert errors[0].code == "not_found"
    assert real[-4:] not in errors[0].message


@pytest_twisted.ensureDeferred
async def test_cancel_frees_the_place(service: RedisBookingService, clock) -> None:
    booking = await service.book(req(1, session="pm"))
    await service.book(req(2, session="pm"))
    cancelled = await service.cancel(booking.tcode)
    assert cancelled.status is BookingStatus.CANCELLED
    # the place re-enters after a random 60-120 min, so a scalper cannot cancel and grab it
    assert await service.remote_left("nk", TOMORROW, "pm") == 0
    back = float(cancelled.extra["release_at"])
    assert 60 * 60 <= back - clock.seconds() <= 120 * 60
    clock.advance(back - clock.seconds() - 1)
    assert await service.remote_left("nk", TOMORROW, "pm") == 0
    clock.advance(1)
    assert await service.remote_left("nk", TOMORROW, "pm") == 1
    await service.book(req(1, session="pm"))  # the same ID may book again
    clock.advance(86400)
    assert (await refused(service.verify(booking.tcode))).code == "cancelled"
    assert (await refused(service.check_in(booking.tcode, "k"))).code == "cancelled"


@pytest_twisted.ensureDeferred
async def test_open_days_and_departments(service: RedisBookingService) -> None:
    depts = await service.departments()
    assert [d.id for d in depts] == ["nk", "yk"]
    days = await service.open_days("nk")
    assert days[0] == TOMORROW and len(days) == 7
    assert (await refused(service.open_days("zz"))).code == "unknown_department"
    assert await service.sessions("nk", TOMORROW - dt.timedelta(days=1)) == []


@pytest_twisted.ensureDeferred
async def test_keys_expire_after_retention(service: RedisBookingService, redis) -> None:
    booking = await service.book(req(1, request_key="sms-77"))
    # visit day 2026-11-26 -> kept until 2026-12-27 00:00 Shanghai (1 + 30 days after)
    end = dt.datetime(2026, 12, 27, tzinfo=TOMORROW_TZ).timestamp()
    for key in [
        keys.PLATFORM.booking(booking.tcode),
        MAIN.ids_of_day("nk", TOMORROW),
        MAIN.counts("nk", TOMORROW, "am"),
        MAIN.session_codes("nk", TOMORROW, "am"),
    ]:
        # EXPIREAT is absolute, so Redis counts the TTL from its own (real) clock.
        assert abs(await redis.ttl(key) - (end - time.time())) <= 2, key
    assert 0 < await redis.ttl(keys.PLATFORM.request("sms-77")) <= 86400


@pytest_twisted.ensureDeferred
async def test_today_follows_hospital_timezone(service: RedisBookingService, clock) -> None:
    clock.advance(14 * 3600)  # 2026-11-26 00:00 in Shanghai, still the 25th in UTC
    assert (await service.open_days("nk"))[0] == TOMORROW + dt.timedelta(days=1)
    assert (await refused(service.book(req(1)))).code == "closed"
