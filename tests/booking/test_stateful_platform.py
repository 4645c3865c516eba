"""Hypothesis state machine over three hospitals at once, against the real Redis: holds at any
hospital and channel, payments, cancels, hold expiry, share changes per hospital.

A small model predicts every outcome; after each step Redis is read back to prove the issue's
invariants across hospitals: taken ≤ quota in every bucket of every hospital's session, never
two live bookings for one ID in one hospital's department-day, and no ID over the platform's
per-person caps (per visit day, per 7 and per 90 days) counted over all hospitals together.
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
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from test_stateful import Box, attempt, run
from twisted.internet import threads
from twisted.internet.task import Clock

from booking import keys
from booking.api import BookingError, BookingRequest
from booking.catalog import Platform, parse_catalog
from booking.policy import Limits
from booking.rules import at, bookable, bucket_for, cancel_too_late
from booking.store import RedisBookingService

LIMITS = Limits(per_day=2, per_7_days=3, per_90_days=4, ops_per_minute=9999, cancel_count=0,
                noshow_count=99)  # fmt: skip


def hospital(hid: str, code: str, policy: str) -> Any:
    return parse_catalog(f"""\
hospital:
  id: {hid}
  code: '{code}'
  name: {{zh: {hid}院, en: Hospital {hid}}}
  days_ahead: 2
  remote_share: 0.6
  reserve_share: 0.2
{policy}
sessions:
  am: {{label: {{zh: 上午, en: morning}}, places: 5}}
  pm: {{label: {{zh: 下午, en: afternoon}}, places: 3}}
departments:
  - id: nk
    name: {{zh: 内科, en: Internal medicine}}
""", f"{hid}.yaml", limits=LIMITS, folder=True)


PLATFORM = Platform((
    hospital("a", "1", "  payment: pay_to_confirm"),
    hospital("b", "2", "  payment: pay_to_confirm\n  hold_minutes: 20"),
    hospital("c", "3", "  payment: pay_at_hospital"),
), LIMITS)  # fmt: skip
HOSPITALS = [h.id for h in PLATFORM.hospitals]
TAKEN = ("held", "confirmed", "checked_in", "no_show")


async def attempt_which(coro: Any) -> tuple[str, Any]:
    """``attempt``, with which cap refused a ``limit`` (from its patient-safe message)."""
    try:
        return "ok", await coro
    except BookingError as exc:
        if exc.code != "limit":
            return exc.code, None
        return "limit:" + ("day" if "that day" in exc.message else
                           "7d" if "7 days" in exc.message else "90d"), None


class Model(RuleBasedStateMachine):
    box = Box()

    def __init__(self) -> None:
        super().__init__()
        self.redis = self.box.redis
        run(self.redis.flushdb)
        self.clock = Clock()
        self.clock.advance(NOW.timestamp())
        self.service = RedisBookingService(self.redis, PLATFORM, self.clock)
        self.bookings: dict[str, dict] = {}  # tcode -> hospital, id, day, session, bucket, ...
        self.target: dict[tuple[str, str], int] = {}  # (hospital, session) -> remote quota
        self.txn = 0

    def now(self) -> dt.datetime:
        return self.service.now()

    def live(self, **match: Any) -> list[dict]:
        return [b for b in self.bookings.values() if b["status"] in TAKEN
                and all(b[k] == v for k, v in match.items())]  # fmt: skip

    def taken(self, hid: str, day: dt.date, session: str) -> Counter[str]:
        now_s = self.clock.seconds()
        out: Counter[str] = Counter()
        for b in self.bookings.values():
            if (b["hospital"], b["day"], b["session"]) != (hid, day, session):
                continue
            if b["status"] in TAKEN or (b["status"] == "cancelled" and b["release_at"] > now_s):
                out[b["bucket"]] += 1
        return out

    def quotas(self, hid: str, day: dt.date, session: str) -> dict[str, int]:
        h = PLATFORM.hospital(hid)
        tmpl = h.department("nk").session(session)  # type: ignore[union-attr]
        v = math.floor(tmpl.places * 0.2 + 1e-9)
        t = self.taken(hid, day, session)
        rq = self.target.get((hid, session), math.floor(tmpl.places * 0.6 + 1e-9))
        r = max(t["r"], min(rq, tmpl.places - v - t["o"]))
        if self.clock.seconds() >= at(day, tmpl.start, h.tz) - h.policy.fallback_minutes * 60:
            r = t["r"]
        return {"r": r, "o": tmpl.places - v - r, "v": v}

    def expected_hold(self, hid: str, who: int, day: dt.date, session: str, channel: str) -> str:
        h = PLATFORM.hospital(hid)
        p = h.policy
        onsite = channel != "ussd"
        if not onsite and not bookable(day, self.now(), 2, p.release_time, p.booking_cutoff):
            return "closed"
        end = h.department("nk").session(session).end  # type: ignore[union-attr]
        if onsite and self.clock.seconds() >= at(day, end, h.tz):
            return "closed"
        idn = make_id(who)
        if self.live(id=idn, hospital=hid, day=day):
            return "duplicate"
        if len(self.live(id=idn, day=day)) >= LIMITS.per_day:
            return "limit:day"
        now_s = self.clock.seconds()
        mine = self.live(id=idn)
        if sum(1 for b in mine if b["made"] > now_s - 7 * 86400) >= LIMITS.per_7_days:
            return "limit:7d"
        if len(mine) >= LIMITS.per_90_days:
            return "limit:90d"
        bucket = bucket_for(channel)
        if self.taken(hid, day, session)[bucket] >= self.quotas(hid, day, session)[bucket]:
            return "full"
        return "ok"

    @rule(hid=st.sampled_from(HOSPITALS), who=st.integers(0, 2),  # few IDs: caps are reached
          ahead=st.sampled_from([1, 1, 2, 0]), session=st.sampled_from(["am", "pm"]),
          channel=st.sampled_from(["ussd", "ussd", "ussd", "onsite", "referral"]))  # fmt: skip
    def hold(self, hid: str, who: int, ahead: int, session: str, channel: str) -> None:
        day = self.now().date() + dt.timedelta(days=ahead)
        expected = self.expected_hold(hid, who, day, session, channel)
        req = BookingRequest("nk", day, session, make_id(who), phone(who), channel,
                             hospital_id=hid)  # fmt: skip
        got, booking = run(attempt_which(self.service.book(req)))
        assert got == expected, (got, expected, hid, who, day, session, channel)
        if booking is not None:
            assert booking.hospital_id == hid
            self.bookings[booking.tcode] = {
                "hospital": hid, "id": make_id(who), "day": day, "session": session,
                "bucket": bucket_for(channel), "status": booking.status.value,
                "release_at": 0.0, "made": self.clock.seconds(),
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
        deadline = PLATFORM.hospital(b["hospital"]).policy.cancel_deadline  # type: ignore[union-attr]
        if status in ("held", "confirmed"):
            expected = "too_late" if cancel_too_late(b["day"], self.now(), deadline) else "ok"
        else:
            expected = {"checked_in": "already_checked_in"}.get(status, status)
        assert got == expected, (got, expected, b)
        if booking is not None:
            b["status"] = "cancelled"
            b["release_at"] = 0.0 if status == "held" else float(
                booking.extra.get("release_at", self.clock.seconds()))

    @rule(minutes=st.sampled_from([1, 9, 11, 21, 45, 125]))
    def advance(self, minutes: int) -> None:
        self.clock.advance(minutes * 60)
        now_s = self.clock.seconds()
        run(self.service.expire_due(limit=1000))
        for b in self.bookings.values():
            if b["status"] == "held" and b["hold_until"] <= now_s:
                b["status"] = "expired"

    @rule(hid=st.sampled_from(HOSPITALS), share=st.sampled_from([0.0, 0.2, 0.4, 0.6, 0.8]))
    def change_share(self, hid: str, share: float) -> None:
        run(self.service.set_share("nk", share, hospital_id=hid))
        for s, places in (("am", 5), ("pm", 3)):
            self.target[(hid, s)] = math.floor(places * share + 1e-9)

    @invariant()
    def redis_agrees(self) -> None:
        stored = {c: run(lambda code=c: self.redis.hgetall(keys.PLATFORM.booking(code)))
                  for c in self.bookings}  # fmt: skip
        assert {c: h["status"] for c, h in stored.items()} == {
            c: b["status"] for c, b in self.bookings.items()}
        assert {c: h["hospital"] for c, h in stored.items()} == {
            c: b["hospital"] for c, b in self.bookings.items()}
        live = [h for h in stored.values() if h["status"] in TAKEN]
        per_place = Counter((h["hospital"], h["id"], h["day"]) for h in live)
        assert all(n == 1 for n in per_place.values()), per_place  # no double booking
        per_day = Counter((h["id"], h["day"]) for h in live)  # caps across hospitals
        assert all(n <= LIMITS.per_day for n in per_day.values()), per_day
        per_id = Counter(h["id"] for h in live)
        assert all(n <= LIMITS.per_7_days for n in per_id.values()), per_id
        for hid, day, session in {(b["hospital"], b["day"], b["session"])
                                  for b in self.bookings.values()}:  # fmt: skip
            left = run(self.service.left("nk", day, session, hospital_id=hid))
            taken, quotas = self.taken(hid, day, session), self.quotas(hid, day, session)
            for bucket in "rov":
                assert taken[bucket] <= quotas[bucket], (hid, bucket, taken, quotas)  # oversell
                assert left[bucket] == max(quotas[bucket] - taken[bucket], 0), (hid, left, taken)
        assert run(self.service.reconcile()) == []


@pytest_twisted.ensureDeferred
async def test_three_hospitals_keep_the_invariants(redis) -> None:
    """Hypothesis drives the machine in a thread; every Redis call runs on the reactor."""
    Model.box = Box(redis)
    machine = Model.TestCase
    machine.settings = settings(
        max_examples=int(os.environ.get("STATEFUL_EXAMPLES", "25")),
        stateful_step_count=30, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )  # fmt: skip
    await threads.deferToThread(lambda: machine().runTest())
