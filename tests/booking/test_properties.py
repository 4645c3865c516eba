"""Property: any sequence of book / check-in / cancel / next-day keeps the booking invariants.

Each example runs against the real Redis and is compared with a tiny in-memory model; then Redis
is read back to prove no session exceeds its quota and no ID holds two live bookings per
department and day.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
import pytest_twisted
from booking_support import MAIN, NOW, make_id, phone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock

from booking.api import BookingError, BookingRequest
from booking.catalog import parse_catalog
from booking.rules import cancel_too_late, check_in_refusal, remote_quota
from booking.store import RedisBookingService

SMALL = parse_catalog(
    """\
hospital:
  name: {zh: 小医院, en: Small hospital}
  days_ahead: 2
  remote_share: 1.0
  return_delay_minutes: [0, 0]   # a cancelled place returns at once in this model
  checkin_window: false          # this model checks the day only
limits: {per_day: 9, per_7_days: 99, per_90_days: 99, ops_per_minute: 999}
sessions:
  am: {label: {zh: 上午, en: morning}, places: 2}
  pm: {label: {zh: 下午, en: afternoon}, places: 1}
departments:
  - id: nk
    name: {zh: 内科, en: Internal medicine}
  - id: ek
    name: {zh: 儿科, en: Paediatrics}
    remote_share: 0.5
""",
    "small.yaml",
)
LIVE = ("confirmed", "checked_in")

book_op = st.tuples(
    st.just("book"),
    st.integers(0, 4),  # which patient
    st.sampled_from(["nk", "ek"]),
    st.sampled_from([1, 1, 1, 2, 0, 3]),  # days from today (0 and 3 are closed)
    st.sampled_from(["am", "pm"]),
)
pick_op = st.tuples(st.sampled_from(["check_in", "cancel"]), st.integers(0, 50))
ops = st.lists(
    st.one_of(book_op, book_op, book_op, pick_op, st.just(("tick",))), min_size=4, max_size=30
)


class Box:
    """Holds the Redis connection so hypothesis never tries to pretty-print it."""

    def __init__(self, redis: object) -> None:
        self.redis = redis


@pytest.fixture
def box(redis: object) -> Box:
    return Box(redis)


def quota(dept: str, session: str) -> int:
    d = SMALL.department(dept)
    assert d is not None
    return remote_quota(d.session(session).places, d.remote_share)  # type: ignore[union-attr]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(script=ops)
@pytest_twisted.ensureDeferred
async def test_random_operations_keep_invariants(box: Box, script: list[tuple]) -> None:
    redis = box.redis
    await redis.flushdb()
    clock = Clock()
    clock.advance(NOW.timestamp())
    service = RedisBookingService(redis, SMALL, clock)
    model: dict[str, list] = {}  # tcode -> [id, dept, day, session, status]
    codes: list[str] = []
    for op in script:
        today = service.now().date()
        if op[0] == "tick":
            clock.advance(86400)
            continue
        if op[0] == "book":
            _, who, dept, ahead, sess = op
            day = today + dt.timedelta(days=ahead)
            live = [b for b in model.values() if b[4] in LIVE]
            if not 1 <= ahead <= 2:
                expected = "closed"
            elif any(b[:3] == [make_id(who), dept, day] for b in live):
                expected = "duplicate"
            elif sum(b[1:4] == [dept, day, sess] for b in live) >= quota(dept, sess):
                expected = "full"
            else:
                expected = "ok"
            request = BookingRequest(dept, day, sess, make_id(who), phone(who), "ussd")
            try:
                booking = await service.book(request)
                got = "ok"
                model[booking.tcode] = [make_id(who), dept, day, sess, "confirmed"]
                codes.append(booking.tcode)
            except BookingError as exc:
                got = exc.code
            assert got == expected, op
            continue
        if not codes:
            continue
        tcode = codes[op[1] % len(codes)]
        entry = model[tcode]
        if op[0] == "check_in":
            expected = check_in_refusal(entry[4], entry[2], service.now()) or "ok"
            call = service.check_in(tcode, "kiosk")
        else:
            expected = {"cancelled": "cancelled", "checked_in": "already_checked_in"}.get(
                entry[4], "ok"
            )
            if expected == "ok" and cancel_too_late(entry[2], service.now(), dt.time(15)):
                expected = "too_late"
            call = service.cancel(tcode)
        try:
            got = (await call).status.value
            entry[4] = got
            got = "ok"
        except BookingError as exc:
            got = exc.code
        assert got == expected, op

    # Read Redis back: what it holds must match the model and the invariants.
    stored = {}
    for key in await redis.keys("hl:bk:*"):
        stored[key.removeprefix("hl:bk:")] = await redis.hgetall(key)
    assert {c: h["status"] for c, h in stored.items()} == {c: b[4] for c, b in model.items()}
    live = [h for h in stored.values() if h["status"] in LIVE]
    per_session = Counter((h["dept"], h["day"], h["session"]) for h in live)
    for (dept, day, sess), n in per_session.items():
        assert n <= quota(dept, sess)
        counter = await redis.hget(MAIN.counts(dept, dt.date.fromisoformat(day), sess), "r")
        assert int(counter) == n
    per_id = Counter((h["id"], h["dept"], h["day"]) for h in live)
    assert all(n == 1 for n in per_id.values())
