"""The in-memory twin (``booking.testing``) and the Redis service give the same answers.

Each scenario runs against both, with the same catalog, clock and T-code draws; a seeded random
walk then compares the two transcripts step by step. Channel tests may use the twin only because
these pass.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Awaitable
from typing import Any

import pytest
import pytest_twisted
from booking_support import (
    NOW,
    SH,
    TOMORROW,
    catalog_yaml,
    hospital_yaml,
    make_id,
    phone,
    platform_of,
)
from twisted.internet.task import Clock

from booking.api import Booking, BookingError, BookingRequest, RateLimited
from booking.catalog import HospitalConfig, parse_catalog
from booking.policy import Limits
from booking.store import RedisBookingService
from booking.testing import MemoryBookingService

# pm has 3 places (remote quota 2); tight caps and kiosk limits so the walk reaches them
CATALOG = catalog_yaml(
    "kiosk_failures_per_minute: 3\nkiosk_failures_per_address_per_minute: 4\n"
    "kiosk_failures_per_hospital_per_minute: 6",
    tail="limits: {per_7_days: 4, per_90_days: 5, ops_per_minute: 6, cancel_count: 2}\n",
)


def build(kind: str, redis: Any, catalog: HospitalConfig, clock: Clock, seed: int = 1) -> Any:
    draws = random.Random(seed)
    if kind == "memory":
        return MemoryBookingService(catalog, clock, rng=draws.randrange,
                                    draw=random.Random(seed).random)  # fmt: skip
    service = RedisBookingService(redis, catalog, clock, rng=draws.randrange)
    service.random = random.Random(seed)  # type: ignore[assignment]
    return service


@pytest.fixture(params=["memory", "redis"])
def both(request: pytest.FixtureRequest, redis: Any, clock: Clock) -> Any:
    return build(request.param, redis, parse_catalog(CATALOG, "twin.yaml"), clock)


def req(n: int, day: dt.date = TOMORROW, session: str = "am", **kw: Any) -> BookingRequest:
    return BookingRequest(kw.get("dept", "nk"), day, session, make_id(n),
                          kw.get("msisdn", phone(n)), kw.get("channel", "ussd"),
                          kw.get("request_key", ""), source=kw.get("source", ""))  # fmt: skip


def at(day: dt.date, hh: int, mm: int = 0) -> float:
    return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=SH).timestamp()


async def answer(call: Awaitable[Any]) -> Any:
    """What a caller sees: the value (bookings as their fields) or the error's code and text."""
    try:
        value = await call
    except RateLimited as exc:
        return ("rate_limited", exc.message, exc.retry_after_s)
    except BookingError as exc:
        return (exc.code, exc.message)
    if isinstance(value, Booking):
        return ("ok", value.tcode, value.status.value, value.day, value.session, value.channel)
    if isinstance(value, list):
        return [v.tcode if isinstance(v, Booking) else v for v in value]
    return value


@pytest_twisted.ensureDeferred
async def test_book_duplicate_and_full(both: Any) -> None:
    first = await answer(both.book(req(1, session="pm")))
    assert first[0] == "ok" and first[2] == "confirmed"
    assert (await answer(both.book(req(1, session="pm"))))[0] == "duplicate"
    assert (await answer(both.book(req(2, session="pm"))))[0] == "ok"
    assert (await answer(both.book(req(3, session="pm"))))[0] == "full"  # remote quota 2
    assert (await answer(both.book(req(3, session="pm", channel="desk"))))[0] == "ok"
    sessions = await both.sessions("nk", TOMORROW)
    assert [(s.session, s.remote_left) for s in sessions] == [("am", 50), ("pm", 0)]
    assert await both.open_days("nk") == [TOMORROW + dt.timedelta(days=n) for n in range(7)]


@pytest_twisted.ensureDeferred
async def test_requests_refused_before_any_place_is_looked_at(both: Any) -> None:
    assert (await answer(both.book(req(1, dept="xx"))))[0] == "closed"
    assert (await answer(both.book(req(1, day=NOW.date()))))[0] == "closed"  # no same-day
    bad_id = BookingRequest("nk", TOMORROW, "am", "110105198001010010", phone(1), "ussd")
    assert (await answer(both.book(bad_id)))[0] == "invalid_id"
    assert (await answer(both.book(req(1, msisdn="+86139"))))[0] == "bad_request"


@pytest_twisted.ensureDeferred
async def test_a_request_key_replays_its_booking(both: Any) -> None:
    seen: list[Booking] = []
    both.subscribe(seen.append)
    first = await answer(both.book(req(1, request_key="k1")))
    assert await answer(both.book(req(1, request_key="k1"))) == first
    assert (await answer(both.book(req(2, request_key="k1"))))[0] == "bad_request"
    assert [b.tcode for b in seen] == [first[1]]  # told once


@pytest_twisted.ensureDeferred
async def test_the_source_is_kept_on_the_record(both: Any, clock: Clock) -> None:
    """A terminal's id rides on the booking (extra["source"]), read back the same by every
    lookup; a booking without one has none; a source that is not a plain id is refused."""
    made = await both.book(req(1, channel="terminal", source="pos-17", request_key="t:pos-17:1"))
    plain = await both.book(req(2))
    assert made.extra.get("source") == "pos-17" and "source" not in plain.extra
    assert [b.extra.get("source") for b in await both.bookings_for(phone(1))] == ["pos-17"]
    again = await both.book(req(1, channel="terminal", source="pos-17", request_key="t:pos-17:1"))
    assert again.tcode == made.tcode and again.extra.get("source") == "pos-17"
    for bad in ('pos"17', "x" * 65, "终端"):
        assert (await answer(both.book(req(3, source=bad))))[:1] == ("bad_request",)
    clock.advance(at(TOMORROW, 8) - clock.seconds())
    assert (await both.verify(made.tcode, "k1")).extra.get("source") == "pos-17"


@pytest_twisted.ensureDeferred
async def test_cancel_returns_the_place_after_the_delay(both: Any, clock: Clock) -> None:
    taken = [await answer(both.book(req(n, session="pm"))) for n in (1, 2)]
    assert (await answer(both.cancel(taken[0][1], msisdn=phone(2))))[0] == "not_found"
    cancelled = await answer(both.cancel(taken[0][1], msisdn=phone(1)))
    assert cancelled[:3] == ("ok", taken[0][1], "cancelled")
    assert (await answer(both.cancel(taken[0][1])))[0] == "cancelled"
    assert (await answer(both.book(req(3, session="pm"))))[0] == "full"  # not back yet
    clock.advance(121 * 60)
    assert (await answer(both.book(req(3, session="pm"))))[0] == "ok"
    assert await answer(both.bookings_for(phone(1))) == []


@pytest_twisted.ensureDeferred
async def test_cancel_closes_at_the_deadline(both: Any, clock: Clock) -> None:
    booking = await answer(both.book(req(1)))
    clock.advance(at(NOW.date(), 15) - clock.seconds())  # 15:00 the day before
    assert (await answer(both.cancel(booking[1], msisdn=phone(1))))[0] == "too_late"


@pytest_twisted.ensureDeferred
async def test_verify_and_check_in(both: Any, clock: Clock) -> None:
    booking = await answer(both.book(req(1)))  # am 08:00-12:00: kiosk 07:00-12:30
    assert (await answer(both.verify(booking[1])))[0] == "not_today"
    clock.advance(at(TOMORROW, 6, 59) - clock.seconds())
    assert (await answer(both.verify(booking[1], kiosk_id="k1")))[0] == "too_early"
    clock.advance(120)
    assert (await answer(both.verify(booking[1], kiosk_id="k1")))[0] == "ok"
    assert (await answer(both.check_in(booking[1], "k1")))[2] == "checked_in"
    assert (await answer(both.check_in(booking[1], "k1")))[0] == "already_checked_in"
    assert (await answer(both.check_in(booking[1], "")))[0] == "bad_request"


@pytest_twisted.ensureDeferred
async def test_check_in_numbers_each_session_in_arrival_order(both: Any, clock: Clock) -> None:
    am = [(await answer(both.book(req(n))))[1] for n in (1, 2, 3)]
    pm = (await answer(both.book(req(4, session="pm"))))[1]
    clock.advance(at(TOMORROW, 9) - clock.seconds())
    numbers = [(await both.check_in(code, "k1")).extra["queue_no"] for code in (am[2], am[0])]
    assert (await answer(both.check_in(am[2], "k1")))[0] == "already_checked_in"  # no number
    clock.advance(at(TOMORROW, 11) - clock.seconds())
    numbers.append((await both.check_in(am[1], "k2")).extra["queue_no"])
    assert numbers == ["1", "2", "3"]
    clock.advance(at(TOMORROW, 13) - clock.seconds())
    assert (await both.check_in(pm, "k2")).extra["queue_no"] == "1"  # its own session's count


@pytest_twisted.ensureDeferred
async def test_wrong_codes_are_limited_per_kiosk_and_address(both: Any, clock: Clock) -> None:
    booking = await answer(both.book(req(1)))
    clock.advance(at(TOMORROW, 9) - clock.seconds())
    wrong = [await answer(both.verify(f"{n:010d}", kiosk_id="k1")) for n in range(4)]
    assert [w[0] for w in wrong] == ["not_found"] * 3 + ["rate_limited"]
    assert wrong[3][2] == 60
    assert (await answer(both.check_in(booking[1], "k2", client="192.0.2.1")))[0] == "ok"


@pytest_twisted.ensureDeferred
async def test_limits(both: Any, clock: Clock) -> None:
    days = [TOMORROW + dt.timedelta(days=n) for n in range(6)]
    made = [await answer(both.book(req(1, day=d))) for d in days[:4]]
    assert [m[0] for m in made] == ["ok"] * 4
    assert await answer(both.book(req(1, day=days[4]))) == (
        "limit", "This ID has reached the most bookings allowed in 7 days.")
    assert await answer(both.register(phone(1), make_id(2))) == sorted([make_id(1), make_id(2)])
    assert (await answer(both.register(phone(1), make_id(3))))[0] == "limit"
    assert (await answer(both.book(req(3, msisdn=phone(1)))))[0] == "limit_ids"
    clock.advance(60)
    ops = [(await answer(both.book(req(9, day=d, dept="yk", session="am"))))[0] for d in days]
    assert ops[-1] == "limit"  # the 7-day cap before the rate limit (6 a minute)
    burst = [(await answer(both.book(req(5, dept="xx"))))[0] for _ in range(3)]
    assert burst == ["closed"] * 3  # refused before counting


@pytest_twisted.ensureDeferred
async def test_cancels_bar_the_id(both: Any) -> None:
    for n in (1, 2):
        booking = await answer(both.book(req(1, day=TOMORROW + dt.timedelta(days=n))))
        await answer(both.cancel(booking[1], msisdn=phone(1)))
    refused = await answer(both.book(req(1, day=TOMORROW + dt.timedelta(days=4))))
    assert refused[0] == "blacklisted" and "until" in refused[1]


async def walk(service: Any, clock: Clock, seed: int) -> list[Any]:
    """A seeded random walk over the protocol; returns every answer in order."""
    rng = random.Random(seed)
    out: list[Any] = []
    codes: list[str] = []
    for _ in range(200):
        op = rng.choice(["book", "book", "book", "cancel", "verify", "check_in", "register",
                         "bookings_for", "sessions", "tick"])  # fmt: skip
        who = rng.randrange(6)
        today = dt.datetime.fromtimestamp(clock.seconds(), SH).date()
        day = today + dt.timedelta(days=1 + rng.randrange(3))
        if op == "book":
            request = req(who, day=day, session=rng.choice(["am", "pm"]),
                          dept=rng.choice(["nk", "yk"]), msisdn=phone(who % 5),
                          channel=rng.choice(["ussd", "ivr", "desk"]))  # fmt: skip
            result = await answer(service.book(request))
            if result[0] == "ok":
                codes.append(result[1])
        elif op in ("cancel", "verify", "check_in") and codes:
            code = rng.choice([*codes, "1234567890"])
            if op == "cancel":
                result = await answer(service.cancel(code, msisdn=rng.choice([None, phone(who)])))
            elif op == "verify":
                result = await answer(service.verify(code, kiosk_id=f"k{who % 2}"))
            else:
                result = await answer(service.check_in(code, f"k{who % 2}", client="192.0.2.9"))
        elif op == "register":
            result = await answer(service.register(phone(who % 5), make_id(who)))
        elif op == "bookings_for":
            result = await answer(service.bookings_for(phone(who % 5)))
        elif op == "sessions":
            result = [(s.session, s.remote_left) for s in await service.sessions("nk", day)]
        else:
            clock.advance(rng.choice([30, 600, 3 * 3600, 20 * 3600]))
            result = clock.seconds()
        out.append((op, result))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest_twisted.ensureDeferred
async def test_random_walks_agree(redis: Any, seed: int) -> None:
    catalog = parse_catalog(CATALOG, "twin.yaml")
    transcripts = []
    for kind in ("memory", "redis"):
        await redis.flushdb()
        clock = Clock()
        clock.advance(NOW.timestamp())
        transcripts.append(await walk(build(kind, redis, catalog, clock, seed), clock, seed))
    memory, real = transcripts
    for n, (a, b) in enumerate(zip(memory, real, strict=True)):
        assert a == b, f"step {n}: memory {a} != redis {b}"
    outcomes = {r[1][0] for r in real if r[0] == "book"}
    assert "ok" in outcomes and len(outcomes) > 2  # it reached the rules, not only the happy path


# ---------------------------------------------------------------- several hospitals

PLATFORM_LIMITS = Limits(per_day=2, per_7_days=4, per_90_days=6, ops_per_minute=30)
KINDS = ["memory", "redis"]


def three(**kw: Any) -> Any:
    """A platform of three hospitals a, b, c (codes 1, 2, 3), b paid before it is confirmed."""
    return platform_of(hospital_yaml("a", "1"), hospital_yaml("b", "2", "payment: pay_to_confirm"),
                       hospital_yaml("c", "3"), limits=kw.get("limits", PLATFORM_LIMITS))


def build_on(kind: str, redis: Any, platform: Any, clock: Clock, seed: int = 1, **kw: Any) -> Any:
    draws = random.Random(seed)
    if kind == "memory":
        return MemoryBookingService(platform, clock, rng=draws.randrange,
                                    draw=random.Random(seed).random, **kw)  # fmt: skip
    service = RedisBookingService(redis, platform, clock, rng=draws.randrange, **kw)
    service.random = random.Random(seed)  # type: ignore[assignment]
    return service


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def many(kind: str, redis: Any, clock: Clock) -> Any:
    return build_on(kind, redis, three(), clock)


def at_(hid: str, n: int, **kw: Any) -> BookingRequest:
    r = req(n, **kw)
    return BookingRequest(r.dept_id, r.day, r.session, r.id_number, r.msisdn, r.channel,
                          r.request_key, hospital_id=hid)  # fmt: skip


@pytest_twisted.ensureDeferred
async def test_hospitals_and_their_departments(many: Any) -> None:
    listed = await many.hospitals()
    assert [(h.id, h.code, h.short["en"], h.district["zh"]) for h in listed] == [
        ("a", "1", "a hospital", "福田区"), ("b", "2", "b hospital", "福田区"),
        ("c", "3", "c hospital", "福田区")]  # fmt: skip
    assert [(d.id, d.hospital_id) for d in await many.departments("b")] == [("nk", "b"),
                                                                            ("yk", "b")]
    for call in (many.departments(""), many.departments("zz"), many.open_days("nk", ""),
                 many.sessions("nk", TOMORROW, "q"), many.book(req(1))):  # fmt: skip
        assert (await answer(call))[0] == "unknown_hospital"
    sessions = await many.sessions("nk", TOMORROW, "c")
    assert {s.hospital_id for s in sessions} == {"c"}


@pytest_twisted.ensureDeferred
async def test_quotas_are_per_hospital_and_caps_across_them(many: Any) -> None:
    assert [(await answer(many.book(at_("a", n, session="pm"))))[0] for n in (1, 2, 3)] == [
        "ok", "ok", "full"]  # fmt: skip
    third = await answer(many.book(at_("c", 3, session="pm")))
    assert third[0] == "ok"  # c's places are c's own
    # one live booking per department and day is per hospital; the day cap (2) is the city's
    assert (await answer(many.book(at_("a", 1, session="am"))))[0] == "duplicate"
    assert (await answer(many.book(at_("c", 1, session="am"))))[0] == "ok"
    assert await answer(many.book(at_("b", 1, dept="yk"))) == (
        "limit", "This ID already has the most bookings allowed on that day.")
    held = await many.book(at_("b", 4))
    assert (held.status.value, held.hospital_id, held.hospital_name["en"]) == (
        "held", "b", "b hospital")  # b's own payment mode
    assert await many.recent_hospitals(phone(1)) == ["c", "a"]
    assert await many.recent_hospitals(phone(9)) == []


@pytest_twisted.ensureDeferred
async def test_a_kiosk_refuses_another_hospitals_code(many: Any, clock: Clock) -> None:
    booking = await answer(many.book(at_("a", 1)))
    clock.advance(at(TOMORROW, 9) - clock.seconds())
    refused = await answer(many.verify(booking[1], kiosk_id="k1", hospital_id="c"))
    assert refused == ("wrong_hospital",
                       "This booking is at a医院 (a hospital). Please check in there.")
    assert make_id(1) not in refused[1] and phone(1) not in refused[1]
    assert (await answer(many.check_in(booking[1], "k1", hospital_id="c")))[0] == "wrong_hospital"
    assert (await answer(many.verify(booking[1], "k1", hospital_id="zz")))[0] == "unknown_hospital"
    assert (await answer(many.verify(booking[1], kiosk_id="k1")))[0] == "ok"  # no registry
    done = await answer(many.check_in(booking[1], "k1", hospital_id="a"))
    assert done[:3] == ("ok", booking[1], "checked_in")


@pytest_twisted.ensureDeferred
async def test_a_removed_hospital_keeps_its_bookings(many: Any) -> None:
    booking = await answer(many.book(at_("b", 1)))
    kept = await answer(many.book(at_("a", 2)))
    gone = many.replace_platform(platform_of(hospital_yaml("a", "1"), hospital_yaml("c", "3"),
                                             limits=PLATFORM_LIMITS))  # fmt: skip
    assert gone == ["b"]
    assert (await answer(many.book(at_("b", 3))))[0] == "unknown_hospital"
    assert [h.id for h in await many.hospitals()] == ["a", "c"]
    assert (await answer(many.book(at_("a", 3))))[0] == "ok"
    listed = await many.bookings_for(phone(1))
    assert [(b.tcode, b.hospital_name["en"]) for b in listed] == [(booking[1], "b hospital")]
    assert (await answer(many.cancel(booking[1], msisdn=phone(1))))[2] == "cancelled"
    assert (await answer(many.cancel(kept[1], msisdn=phone(2))))[2] == "cancelled"


@pytest_twisted.ensureDeferred
async def test_person_caps_per_hospital_when_set(kind: str, redis: Any, clock: Clock) -> None:
    service = build_on(kind, redis, three(), clock, person_scope="hospital",
                       blacklist_scope="hospital")  # fmt: skip
    # each hospital's own limits (the defaults: 2 a day) instead of the platform's
    made = [(await answer(service.book(at_(h, 1, dept=d))))[0]
            for h in ("a", "c") for d in ("nk", "yk")]  # fmt: skip
    assert made == ["ok"] * 4
    assert (await answer(service.book(at_("c", 1, session="pm"))))[0] == "duplicate"


async def walk_platform(service: Any, clock: Clock, seed: int) -> list[Any]:
    """``walk`` over three hospitals: each step at a random hospital, kiosks naming theirs."""
    rng = random.Random(seed)
    out: list[Any] = []
    codes: list[str] = []
    for _ in range(200):
        op = rng.choice(["book", "book", "book", "cancel", "verify", "check_in", "recent",
                         "bookings_for", "sessions", "tick"])  # fmt: skip
        who, hid = rng.randrange(6), rng.choice(["a", "b", "c"])
        today = dt.datetime.fromtimestamp(clock.seconds(), SH).date()
        day = today + dt.timedelta(days=1 + rng.randrange(3))
        if op == "book":
            r = req(who, day=day, session=rng.choice(["am", "pm"]), dept=rng.choice(["nk", "yk"]),
                    msisdn=phone(who % 5), channel=rng.choice(["ussd", "ivr", "desk"]))
            result = await answer(service.book(BookingRequest(
                r.dept_id, r.day, r.session, r.id_number, r.msisdn, r.channel,
                hospital_id=hid)))  # fmt: skip
            if result[0] == "ok":
                codes.append(result[1])
        elif op in ("cancel", "verify", "check_in") and codes:
            code = rng.choice([*codes, "1234567890"])
            kiosk_of = rng.choice([None, hid])
            if op == "cancel":
                result = await answer(service.cancel(code, msisdn=rng.choice([None, phone(who)])))
            elif op == "verify":
                result = await answer(service.verify(code, f"k{who % 2}", hospital_id=kiosk_of))
            else:
                result = await answer(service.check_in(code, f"k{who % 2}", client="192.0.2.9",
                                                       hospital_id=kiosk_of))  # fmt: skip
        elif op == "recent":
            result = await service.recent_hospitals(phone(who % 5))
        elif op == "bookings_for":
            result = await answer(service.bookings_for(phone(who % 5)))
        elif op == "sessions":
            found = await service.sessions("nk", day, hid)
            result = [(s.session, s.remote_left, s.hospital_id) for s in found]
        else:
            clock.advance(rng.choice([30, 600, 3 * 3600, 20 * 3600]))
            result = clock.seconds()
        out.append((op, result))
    return out


@pytest.mark.parametrize("seed", [1, 2])
@pytest_twisted.ensureDeferred
async def test_random_walks_over_three_hospitals_agree(redis: Any, seed: int) -> None:
    transcripts = []
    for kind in ("memory", "redis"):
        await redis.flushdb()
        clock = Clock()
        clock.advance(NOW.timestamp())
        service = build_on(kind, redis, three(), clock, seed)
        transcripts.append(await walk_platform(service, clock, seed))
    memory, real = transcripts
    for n, (a, b) in enumerate(zip(memory, real, strict=True)):
        assert a == b, f"step {n}: memory {a} != redis {b}"
    outcomes = {r[1][0] for r in real if r[0] in ("book", "verify", "check_in")}
    assert {"ok", "wrong_hospital"} <= outcomes and len(outcomes) > 3


@pytest_twisted.ensureDeferred
async def test_a_session_reserve_override_moves_places_and_never_cuts_taken_ones(both: Any) -> None:
    """pm: 3 places, remote quota 2, no reserve_share. The admin's per-session reserve comes off
    the on-site part first, then the remote part; a reserve the taken places would not fit is
    refused and changes nothing."""

    async def remote_left() -> int:
        rows = await both.sessions("nk", TOMORROW)
        return next(s.remote_left for s in rows if s.session == "pm")

    def set_reserve(n: Any, session: str = "pm", dept: str = "nk") -> Any:
        return answer(both.set_reserve(dept, TOMORROW, session, n))

    assert await remote_left() == 2
    assert await set_reserve(1) == {"places": 3, "reserve": 1, "remote_quota": 2}
    assert await set_reserve(2) == {"places": 3, "reserve": 2, "remote_quota": 1}
    assert await remote_left() == 1
    over = await set_reserve(4)
    assert over[0] == "bad_request" and "0..3" in over[1]
    assert (await set_reserve(-1))[0] == "bad_request"
    assert (await set_reserve(True))[0] == "bad_request"
    assert (await set_reserve(1, session="xx"))[0] == "closed"
    assert (await set_reserve(1, dept="zz"))[0] == "unknown_department"
    assert (await answer(both.book(req(1, session="pm"))))[0] == "ok"
    assert (await answer(both.book(req(2, session="pm", channel="desk"))))[0] == "full"
    refused = await set_reserve(3)  # one remote place taken: 1 + 3 > 3
    assert refused[0] == "bad_request" and "no booking is cancelled" in refused[1]
    assert await remote_left() == 0  # the reserve in force is still 2
    assert (await answer(both.book(req(3, session="pm", channel="referral"))))[0] == "ok"
    assert (await answer(both.book(req(4, session="pm", channel="referral"))))[0] == "ok"
    assert (await set_reserve(1))[0] == "bad_request"  # two reserve places are taken
    assert await set_reserve(2) == {"places": 3, "reserve": 2, "remote_quota": 1}
