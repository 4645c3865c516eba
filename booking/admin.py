"""Hospital-side operations: fill, shares, schedule changes, day exports and reconcile.

One part of ``booking.store.RedisBookingService``. ``reconcile`` rebuilds every session's counts
from the booking hashes (the source of truth) and reports drift; it is what proves, after a crash,
that no counter disagrees with the bookings.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from booking._types import Scripts, SecondsClock
from booking.api import CSV_FIELDS, BookingError
from booking.availability import Availability
from booking.catalog import DepartmentConfig, SessionTemplate
from booking.keys import PLATFORM
from booking.lifecycle import Lifecycle
from booking.part import Part, Scope
from booking.quota import Quotas
from booking.rules import remote_quota
from booking.values import reserve_reply

TAKEN = ("held", "confirmed", "checked_in", "no_show")


class Admin(Part):
    """What the hospital's staff and tools do to sessions and shares, and the audits."""

    def __init__(
        self, redis: Any, scope: Scope, clock: SecondsClock, scripts: Scripts, *,
        quotas: Quotas, availability: Availability, lifecycle: Lifecycle, retention_days: int,
    ) -> None:
        self.redis = redis
        super().__init__(scope, clock)
        self.scripts = scripts
        self.quotas = quotas
        self.availability = availability
        self.lifecycle = lifecycle
        self.retention_days = retention_days

    async def refresh_shares(self) -> None:
        """Reload the admin's remote shares (``<hospital>cfg:share``) into memory."""
        stored = await self.redis.hgetall(self.keys.shares)
        self.quotas.shares = {d: float(v) for d, v in (stored or {}).items()}

    async def set_share(self, dept_id: str, share: float) -> dict[str, int]:
        """Set a department's remote share from now on, for every session not yet held.

        Sessions already open get the new quota clamped so no held or booked place breaks;
        returns ``{"<day>:<session>": quota in force}``.
        """
        dept = self.availability.dept(dept_id)
        if not 0 <= share <= 1 or share + self.policy.reserve_share > 1:
            raise BookingError("bad_request", "share must be 0..1 and leave room for the reserve.")
        await self.redis.hset(self.keys.shares, dept_id, repr(share))
        self.quotas.shares[dept_id] = share
        now_s = self.clock.seconds()
        today = self.now().date()
        out = {}
        for ahead in range(self.catalog.days_ahead + 2):
            day = today + dt.timedelta(days=ahead)
            for tmpl in dept.sessions:
                args = self.quotas.args(dept, tmpl, day, now_s)
                want = remote_quota(tmpl.places, share)
                rq = await self.scripts["set_share"](
                    [self.keys.counts(dept_id, day, tmpl.id),
                     self.keys.returns(dept_id, day, tmpl.id)],
                    [*args, now_s, want],
                )
                out[f"{day.isoformat()}:{tmpl.id}"] = int(rq)
        return out

    async def fill(self, day: dt.date) -> list[dict[str, Any]]:
        """Per department-session of ``day``: quota and taken per channel bucket."""
        rows = []
        for dept in self.catalog.departments:
            for tmpl in dept.sessions:
                left = await self.availability.left(dept.id, day, tmpl.id)
                raw = await self.redis.hgetall(self.keys.counts(dept.id, day, tmpl.id)) or {}
                rows.append({
                    "hospital": self.catalog.id, "dept": dept.id, "day": day.isoformat(),
                    "session": tmpl.id,
                    "places": int(raw.get("places", tmpl.places)),
                    "remote_quota": left["rq"], "remote_left": left["r"],
                    "onsite_left": left["o"], "reserve_left": left["v"],
                    "reserve": await self._reserve(dept, tmpl, day, raw),
                    "closed": "closed" in raw,
                })  # fmt: skip
        return rows

    async def _reserve(
        self, dept: DepartmentConfig, tmpl: SessionTemplate, day: dt.date, raw: dict[str, str]
    ) -> int:
        """The session's reserve in force: the admin's override, else the hospital's share."""
        places = int(raw.get("places", tmpl.places))
        catalog = int(self.quotas.args(dept, tmpl, day, 0.0)[1])
        return min(int(raw.get("reserve", catalog)), places)

    async def set_reserve(
        self, dept_id: str, day: dt.date, session: str, reserve: int
    ) -> dict[str, int]:
        """Set one session's reserve (places kept back: referrals, green channel) in place of the
        hospital's ``reserve_share``. Never cancels a booking: a reserve that would leave fewer
        remote, on-site or reserve places than are taken there is refused (``bad_request``).
        Returns ``{"places", "reserve", "remote_quota"}`` in force after the change."""
        dept = self.availability.dept(dept_id)
        tmpl = dept.session(session)
        if tmpl is None:
            raise BookingError("closed", "No such session.")
        if isinstance(reserve, bool) or not isinstance(reserve, int) or reserve < 0:
            raise BookingError("bad_request", "reserve must be a whole number >= 0.")
        now_s = self.clock.seconds()
        reply = await self.scripts["set_reserve"](
            [self.keys.counts(dept_id, day, session), self.keys.returns(dept_id, day, session)],
            [*self.quotas.args(dept, tmpl, day, now_s), now_s, reserve],
        )
        self.availability.listings.drop(dept_id)  # the next listing shows the new remote places
        return reserve_reply(reply, reserve)

    async def session_bookings(self, dept_id: str, day: dt.date, session: str) -> list[dict]:
        codes = await self.redis.smembers(self.keys.session_codes(dept_id, day, session))
        out = []
        for code in sorted(codes):
            h = await self.redis.hgetall(PLATFORM.booking(code))
            if h:
                out.append(dict(h))
        return sorted(out, key=lambda h: int(h.get("seq", 0)))  # order of taking

    async def day_bookings(self, day: dt.date) -> list[dict[str, str]]:
        """Every booking of ``day`` (all statuses), oldest first, with CSV_FIELDS."""
        rows: list[dict[str, str]] = []
        for tag in sorted(await self.redis.smembers(self.keys.day_index(day))):
            dept_id, _, session = tag.split(":")
            for h in await self.session_bookings(dept_id, day, session):
                rows.append({k: h.get(k, "") for k in CSV_FIELDS} | {"hospital": self.catalog.id})
        return sorted(rows, key=lambda r: float(r["created_at"]))

    async def change_session(
        self, dept_id: str, day: dt.date, session: str, places: int | None
    ) -> list[str]:
        """Close (``places=None``) or shrink a session; cancels the bookings that no longer fit,
        latest first, each with a ``schedule_cancelled`` event. Returns the cancelled T-codes."""
        if self.availability.dept(dept_id).session(session) is None:
            raise BookingError("closed", "No such session.")
        if places is not None and places < 0:
            raise BookingError("bad_request", "places must be >= 0.")
        now_s = self.clock.seconds()
        excess = await self.scripts["shrink"](
            [self.keys.counts(dept_id, day, session), self.keys.returns(dept_id, day, session)],
            [-1 if places is None else places, now_s],
        )
        live = [
            h for h in await self.session_bookings(dept_id, day, session)
            if h["status"] in ("held", "confirmed")
        ]  # fmt: skip
        victims = live[::-1][: int(excess)]
        reason = "session_closed" if places is None else "session_shrunk"
        for h in victims:
            await self.lifecycle.cancel(h["tcode"], reason=reason)
        return [h["tcode"] for h in victims]

    async def reconcile(self, fix: bool = False) -> list[dict[str, Any]]:
        """Recompute each session's taken counts from its bookings; report (and fix) drift.

        Looks at every day from ``retention_days`` ago to the end of the booking window.
        """
        now_s = self.clock.seconds()
        today = self.now().date()
        drift: list[dict[str, Any]] = []
        first = today - dt.timedelta(days=self.retention_days)
        for n in range((today - first).days + self.catalog.days_ahead + 2):
            day = first + dt.timedelta(days=n)
            for tag in await self.redis.smembers(self.keys.day_index(day)):
                dept_id, _, session = tag.split(":")
                drift += await self._reconcile_session(dept_id, day, session, now_s, fix)
        return drift

    async def _reconcile_session(
        self, dept_id: str, day: dt.date, session: str, now_s: float, fix: bool
    ) -> list[dict[str, Any]]:
        want: Counter[str] = Counter()
        for h in await self.session_bookings(dept_id, day, session):
            pending = h["status"] == "cancelled" and float(h.get("release_at", 0) or 0) > now_s
            if h["status"] in TAKEN or pending:
                want[h.get("bucket", "r")] += 1
        qkey = self.keys.counts(dept_id, day, session)
        stored = await self.redis.hgetall(qkey) or {}
        ret = self.keys.returns(dept_id, day, session)
        due = await self.redis.zrangebyscore(ret, "-inf", now_s)
        have = Counter({b: int(stored.get(b, 0)) for b in "rov"})
        for member in due:
            have[member[0]] -= 1
        out = []
        for b in "rov":
            if have[b] != want[b]:
                out.append({"hospital": self.catalog.id, "dept": dept_id,
                            "day": day.isoformat(), "session": session,
                            "bucket": b, "counter": have[b], "bookings": want[b]})  # fmt: skip
                if fix:
                    await self.redis.hincrby(qkey, b, want[b] - have[b])
        return out
