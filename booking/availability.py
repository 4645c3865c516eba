"""Reading availability: departments, open days, sessions and the places left in them.

One part of ``booking.store.RedisBookingService``. These are the reads behind every "choose a day
/ a session" screen: they never take a place, so a listing may come from the node's seconds-old
``ListingCache``; ``booking.hold`` takes a place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable

from twisted.internet.defer import ensureDeferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from booking._types import Scripts, SecondsClock
from booking.api import BookingError, Department, SessionAvailability
from booking.catalog import DepartmentConfig, SessionTemplate
from booking.listing_cache import ListingCache
from booking.part import Part, Scope
from booking.quota import Quotas
from booking.rules import bookable, open_days

log = Logger()


class Availability(Part):
    """Departments, bookable days and sessions, and the places left in each."""

    def __init__(
        self, scope: Scope, clock: SecondsClock, scripts: Scripts, quotas: Quotas,
        listings: ListingCache,
    ) -> None:
        super().__init__(scope, clock)
        self.scripts = scripts
        self.quotas = quotas
        self.listings = listings

    async def departments(self) -> list[Department]:
        return [Department(d.id, d.name, self.catalog.id) for d in self.catalog.departments]

    def dept(self, dept_id: str) -> DepartmentConfig:
        dept = self.catalog.department(dept_id)
        if dept is None:
            raise BookingError("unknown_department", "That department is not offered.")
        return dept

    async def left(self, dept_id: str, day: dt.date, session: str) -> dict[str, int]:
        """Places left per bucket ``{"r", "o", "v"}`` and the remote quota ``rq`` now."""
        dept = self.dept(dept_id)
        tmpl = dept.session(session)
        if tmpl is None:
            return {"r": 0, "o": 0, "v": 0, "rq": 0}
        now_s = self.clock.seconds()
        reply = await self.scripts["avail"](
            [self.keys.counts(dept_id, day, session), self.keys.returns(dept_id, day, session)],
            [*self.quotas.args(dept, tmpl, day, now_s), now_s],
        )
        if not reply:
            return {"r": 0, "o": 0, "v": 0, "rq": 0}
        return {k: max(int(v), 0) for k, v in zip(("r", "o", "v", "rq"), reply, strict=True)}

    async def remote_left(self, dept_id: str, day: dt.date, session: str) -> int:
        """Remote places still free in one session (0 for an unknown or closed session)."""
        return (await self.left(dept_id, day, session))["r"]

    def is_bookable(self, day: dt.date, now: dt.datetime) -> bool:
        p = self.policy
        return bookable(day, now, self.catalog.days_ahead, p.release_time, p.booking_cutoff)

    async def sessions(self, dept_id: str, day: dt.date) -> list[SessionAvailability]:
        """Every session of an open day with its remote places left (0 when full); [] if closed."""
        dept = self.dept(dept_id)
        if not self.is_bookable(day, self.now()):
            return []
        lefts = await self._remote_left_many(dept, [(day, s) for s in dept.sessions])
        return [
            SessionAvailability(dept_id, day, s.id, s.label, left, self.catalog.id)
            for s, left in zip(dept.sessions, lefts, strict=True)
        ]

    async def open_days(self, dept_id: str) -> list[dt.date]:
        self.dept(dept_id)
        now = self.now()
        days = [d for d in open_days(now, self.catalog.days_ahead) if self.is_bookable(d, now)]
        dept = self.dept(dept_id)
        pairs = [(day, s) for day in days for s in dept.sessions]
        lefts = await self._remote_left_many(dept, pairs)
        open_ = {day for (day, _), left in zip(pairs, lefts, strict=True) if left > 0}
        return [day for day in days if day in open_]

    async def _remote_left_many(
        self, dept: DepartmentConfig, pairs: list[tuple[dt.date, SessionTemplate]]
    ) -> list[int]:
        """Remote places left for each (day, session) in one Redis round trip."""
        if not pairs:
            return []
        now_s = self.clock.seconds()
        share = self.quotas.share(dept)  # a new share is a new listing
        wanted = (share, tuple((day, tmpl.id) for day, tmpl in pairs))
        known = self.listings.get(dept.id, wanted, now_s)
        if known is not None:
            generation = self.listings.claim(dept.id, wanted, now_s)
            if generation is not None:  # due: refresh behind the callers, who do not wait
                self._refresh_listing(dept, pairs, wanted, now_s, generation)
            return list(known)
        generation = self.listings.generation(dept.id)
        lefts = await self._read_lefts(dept, pairs, now_s)
        self.listings.put(dept.id, wanted, now_s, tuple(lefts), generation)
        return lefts

    async def _read_lefts(
        self, dept: DepartmentConfig, pairs: list[tuple[dt.date, SessionTemplate]], now_s: float
    ) -> list[int]:
        keys_: list[str] = []
        args: list[object] = [now_s]
        for day, tmpl in pairs:
            keys_ += [self.keys.counts(dept.id, day, tmpl.id),
                      self.keys.returns(dept.id, day, tmpl.id)]
            args += self.quotas.args(dept, tmpl, day, now_s)
        return [int(v) for v in await self.scripts["avail_many"](keys_, args)]

    def _refresh_listing(
        self, dept: DepartmentConfig, pairs: list[tuple[dt.date, SessionTemplate]],
        wanted: Hashable, now_s: float, generation: int,
    ) -> None:
        def keep(lefts: list[int]) -> None:
            self.listings.put(dept.id, wanted, now_s, tuple(lefts), generation)

        def failed(f: Failure) -> None:  # the cached listing stays until its ttl runs out
            self.listings.release(dept.id, wanted)
            log.warn("booking.listing_refresh_failed dept={dept} why={why}", dept=dept.id,
                     why=f.getErrorMessage())

        ensureDeferred(self._read_lefts(dept, pairs, now_s)).addCallbacks(keep, failed)
