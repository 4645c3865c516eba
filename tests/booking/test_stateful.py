"""Hypothesis state machine against the real Redis: holds, payments, cancels, expiries, share
changes, days passing (no-shows, the blacklist) and check-ins.

A small model predicts every outcome; after each step Redis is read back to prove the issue's
invariants: taken ≤ quota in every bucket, never two live bookings for one ID in one
department-day, every released place returns exactly once (counters equal the model's count of
taken places, due returns included), and counters equal what ``reconcile`` recomputes.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections import Counter
from typing import Any

import pytest_twisted
from booking_support import NOW, make_id, phone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from twisted.internet import threads
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from booking import keys
from booking.api import BookingError, BookingRequest
from booking.catalog import parse_catalog
from booking.rules import (
    at,
    bookable,
    bucket_for,
    cancel_too_late,
    check_in_refusal,
    check_in_window,
)
from booking.store import RedisBookingService

CATALOG = parse_catalog(
    """\
hospital:
  name: {zh: 状态医院, en: State hospital}
  days_ahead: 2
  remote_share: 0.6
  reserve_share: 0.2
  payment: pay_to_confirm
sessions:
  am: {label: {zh: 上午, en: morning}, places: 5}
  pm: {label: {zh: 下午, en: afternoon}, places: 3}
departments:
  - id: nk
    name: {zh: 内科, en: Internal medicine}
limits: {per_day: 9, per_7_days: 99, per_90_days: 99, ops_per_minute: 9999}
""",
    "state.yaml",
)
P = CATALOG.policy
TAKEN = ("held", "confirmed", "checked_in", "no_show")


def run(work: object) -> Any:
    """From the machine's thread, run a coroutine, or a call that returns a Deferred, on the
    reactor. A Redis command is passed as a call (``lambda: redis.get(k)``) so that it is sent
    from the reactor's thread: txredisapi, like Twisted, is not thread-safe."""
    from twisted.internet import reactor

    def start() -> Deferred:
        return work() if callable(work) else Deferred.fromCoroutine(work)

    return threads.blockingCallFromThread(reactor, start)


async def attempt(coro: Any) -> tuple[str, Any]:
    try:
        return "ok", await coro
    except BookingError as exc:
        return exc.code, None


class Box:
    """Holds the connection: hypothesis inspects class attributes, txredisapi fakes them all."""

    def __init__(self, redis: object = None) -> None:
        self.redis = redis


class Model(RuleBasedStateMachine):
    box = Box()

    def __init__(self) -> None:
        super().__init__()
        self.redis = self.box.redis
        run(self.redis.flushdb)
        self.clock = Clock()
        self.clock.advance(NOW.timestamp())
        self.service = RedisBookingService(self.redis, CATALOG, self.clock)
        self.bookings: dict[str, dict] = {}  # tcode -> id, day, session, bucket, status, ...
        self.target: dict[str, int] = {}  # session -> remote quota target (share changes)
        self.noshows: Counter[str] = Counter()
        self.barred_until: dict[str, float] = {}
        self.cancels: dict[str, list[float]] = {}
        self.txn = 0

    # ------------------------------------------------------------ model helpers

    def now(self) -> dt.datetime:
        return self.service.now()

    def taken(self, day: dt.date, session: str) -> Counter[str]:
        now_s = self.clock.seconds()
        out: Counter[str] = Counter()
        for b in self.bookings.values():
            if (b["day"], b["session"]) != (day, session):
                continue
            if b["status"] in TAKEN or (b["status"] == "cancelled" and b["release_at"] > now_s):
                out[b["bucket"]] += 1
        return out

    def quotas(self, day: dt.date, session: str) -> dict[str, int]:
        places = CATALOG.department("nk").session(session).places  # type: ignore[union-attr]
        v = math.floor(places * 0.2 + 1e-9)
        t = self.taken(day, session)
        rq = self.target.get(session, math.floor(places * 0.6 + 1e-9))
        r = max(t["r"], min(rq, places - v - t["o"]))
        start = CATALOG.department("nk").session(session).start  # type: ignore[union-attr]
        if self.clock.seconds() >= at(day, start, CATALOG.tz) - P.fallback_minutes * 60:
            r = t["r"]
        return {"r": r, "o": places - v - r, "v": v}

    def expected_hold(self, who: int, day: dt.date, session: str, channel: str) -> str:
        onsite = channel != "ussd"
        if not onsite and not bookable(day, self.now(), 2, P.release_time, P.booking_cutoff):
            return "closed"
        end = CATALOG.department("nk").session(session).end  # type: ignore[union-attr]
        if onsite and self.clock.seconds() >= at(day, end, CATALOG.tz):
            return "closed"
        if self.barred_until.get(make_id(who), 0) > self.clock.seconds():
            return "blacklisted"
        if any(b["id"] == make_id(who) and b["day"] == day and b["status"] in TAKEN
               for b in self.bookings.values()):  # fmt: skip
            return "duplicate"
        bucket = bucket_for(channel)
        if self.taken(day, session)[bucket] >= self.quotas(day, session)[bucket]:
            return "full"
        return "ok"

    # ------------------------------------------------------------ rules

    @rule(who=st.integers(0, 5), ahead=st.integers(0, 3), session=st.sampled_from(["am", "pm"]),
          channel=st.sampled_from(["ussd", "ussd", "ussd", "onsite", "referral"]))  # fmt: skip
    def hold(self, who: int, ahead: int, session: str, channel: str) -> None:
        day = self.now().date() + dt.timedelta(days=ahead)
        expected = self.expected_hold(who, day, session, channel)
        req = BookingRequest("nk", day, session, make_id(who), phone(who), channel)
        got, booking = run(attempt(self.service.book(req)))
        assert got == expected, (got, expected, who, day, session, channel)
        if booking is not None:
            self.bookings[booking.tcode] = {
                "id": make_id(who), "day": day, "session": session,
                "bucket": bucket_for(channel), "status": booking.status.value, "release_at": 0.0,
                "hold_until": float(booking.extra.get("hold_until", 0)),
            }  # fmt: skip

    def pick(self, n: int) -> str | None:
        codes = sorted(self.bookings)
        return codes[n % len(codes)] if codes else None

    @rule(n=st.integers(0, 99))
    def pay(self, n: int) -> None:
        tcode = self.pick(n)
        if tcode is None:
            return
        b = self.bookings[tcode]
        self.txn += 1
        outcome = run(self.service.confirm_payment(tcode, f"t{self.txn}"))
        live_hold = b["status"] == "held" and b["hold_until"] > self.clock.seconds()
        assert outcome == ("booked" if live_hold else "refund"), (outcome, b)
        if live_hold:
            b["status"] = "confirmed"

    @rule(n=st.integers(0, 99))
    def cancel(self, n: int) -> None:
        tcode = self.pick(n)
        if tcode is None:
            return
        b = self.bookings[tcode]
        got, booking = run(attempt(self.service.cancel(tcode)))
        status = b["status"]
        if status in ("held", "confirmed"):
            late = cancel_too_late(b["day"], self.now(), P.cancel_deadline)
            expected = "too_late" if late else "ok"
        else:
            expected = {"checked_in": "already_checked_in"}.get(status, status)
        assert got == expected, (got, expected, b)
        if booking is not None:
            b["status"] = "cancelled"
            b["release_at"] = float(booking.extra.get("release_at", self.clock.seconds()))
            if status == "held":
                b["release_at"] = 0.0  # a hold returns at once
            else:  # cancels count toward penalties: 3 in 30 days bar the ID for 30 days
                now_s = self.clock.seconds()
                mine = self.cancels.setdefault(b["id"], [])
                mine[:] = [t for t in mine if t > now_s - 30 * 86400] + [now_s]
                if len(mine) >= P.limits.cancel_count:
                    until = now_s + P.limits.cancel_barred_days * 86400
                    self.barred_until[b["id"]] = max(self.barred_until.get(b["id"], 0), until)

    @rule(minutes=st.sampled_from([1, 9, 11, 45, 90, 125]))
    def advance(self, minutes: int) -> None:
        self.clock.advance(minutes * 60)
        self.sweep()

    @rule()
    def next_morning(self) -> None:
        """Jump to 09:00 tomorrow (sessions end, no-shows happen, check-ins become possible)."""
        target = dt.datetime.combine(self.now().date() + dt.timedelta(days=1), dt.time(9))
        self.clock.advance(target.replace(tzinfo=CATALOG.tz).timestamp() - self.clock.seconds())
        self.sweep()

    def sweep(self) -> None:
        now_s = self.clock.seconds()
        run(self.service.expire_due(limit=1000))
        for b in self.bookings.values():
            if b["status"] == "held" and b["hold_until"] <= now_s:
                b["status"] = "expired"
        run(self.service.sweep_no_shows())
        grace = P.noshow_grace_minutes * 60
        for b in sorted(self.bookings.values(), key=lambda b: (b["day"], b["session"])):
            end = CATALOG.department("nk").session(b["session"]).end  # type: ignore[union-attr]
            if b["status"] == "confirmed" and at(b["day"], end, CATALOG.tz) + grace <= now_s:
                b["status"] = "no_show"
                self.noshows[b["id"]] += 1
                if self.noshows[b["id"]] >= P.limits.noshow_count:
                    self.barred_until[b["id"]] = now_s + P.limits.barred_days * 86400

    @rule(share=st.sampled_from([0.0, 0.2, 0.4, 0.6, 0.8]))
    def change_share(self, share: float) -> None:
        run(self.service.set_share("nk", share))
        for s in ("am", "pm"):
            places = CATALOG.department("nk").session(s).places  # type: ignore[union-attr]
            self.target[s] = math.floor(places * share + 1e-9)

    @precondition(lambda self: bool(self.bookings))
    @rule(n=st.integers(0, 99))
    def check_in(self, n: int) -> None:
        tcode = self.pick(n)
        assert tcode is not None
        b = self.bookings[tcode]
        got, _ = run(attempt(self.service.check_in(tcode, "kiosk-1")))
        expected = check_in_refusal(b["status"], b["day"], self.now())
        if expected is None and b["status"] != "confirmed":
            expected = b["status"]
        tmpl = CATALOG.department("nk").session(b["session"])  # type: ignore[union-attr]
        opens, closes = check_in_window(b["day"], tmpl.start, tmpl.end, CATALOG.tz, 60, 30)
        if expected is None and not opens <= self.clock.seconds() <= closes:
            expected = "too_early" if self.clock.seconds() < opens else "too_late"
        assert got == (expected or "ok"), (got, expected, b)
        if got == "ok":
            b["status"] = "checked_in"

    # ------------------------------------------------------------ invariants

    @invariant()
    def redis_agrees(self) -> None:
        stored = {}
        for tcode in self.bookings:
            stored[tcode] = run(lambda code=tcode: self.redis.hgetall(keys.PLATFORM.booking(code)))
        assert {c: h["status"] for c, h in stored.items()} == {
            c: b["status"] for c, b in self.bookings.items()
        }
        live = Counter((h["id"], h["day"]) for h in stored.values() if h["status"] in TAKEN)
        assert all(n == 1 for n in live.values()), live  # one live booking per ID/dept/day
        for day, session in {(b["day"], b["session"]) for b in self.bookings.values()}:
            left = run(self.service.left("nk", day, session))
            taken, quotas = self.taken(day, session), self.quotas(day, session)
            for bucket in "rov":
                assert taken[bucket] <= quotas[bucket], (bucket, taken, quotas)
                assert left[bucket] == max(quotas[bucket] - taken[bucket], 0), (left, taken)
        assert run(self.service.reconcile()) == []


@pytest_twisted.ensureDeferred
async def test_random_lifecycles_keep_the_invariants(redis) -> None:
    """Hypothesis drives the machine in a thread; every Redis call runs on the reactor."""
    Model.box = Box(redis)
    machine = Model.TestCase
    machine.settings = settings(
        max_examples=int(os.environ.get("STATEFUL_EXAMPLES", "25")),  # raise it to search longer
        stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )  # fmt: skip
    await threads.deferToThread(lambda: machine().runTest())
