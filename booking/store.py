"""``BookingService`` on Redis: every state change is one Lua script, so no place is sold twice.

``RedisBookingService`` is composed of parts, each an object holding the Redis connection,
scripts and clock it needs, and none importing this module:

- ``booking.availability.Availability``: departments, open days, sessions, places left;
- ``booking.hold.Holds``: taking a place (the hot path: one EVALSHA per attempt);
- ``booking.lifecycle.Lifecycle``: payment, expiry, cancel, the kiosk's verify and check-in;
- ``booking.people.People``: IDs bound to a phone, no-shows and the blacklist;
- ``booking.admin.Admin``: shares, schedule changes, exports and reconcile;

and the pieces they share: ``Quotas`` (the shares in force), ``Records`` (reading a booking
back), ``Listeners`` (who hears of confirmed bookings), the ``ListingCache``. The service
delegates ``booking.api.BookingService`` and the hospital's operations to them, and runs the
sweeper that spans two of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from booking._types import SecondsClock
from booking.admin import Admin
from booking.api import (
    Booking,
    BookingListener,
    BookingRequest,
    Department,
    Hospital,
    SessionAvailability,
)
from booking.availability import Availability
from booking.catalog import HospitalConfig, Platform
from booking.directory import Directory, as_platform
from booking.hold import Holds
from booking.lifecycle import SWEEP_BATCH, Lifecycle
from booking.listeners import Listeners
from booking.listing_cache import ListingCache
from booking.people import People
from booking.quota import Quotas
from booking.records import Records
from booking.rules import local_now
from booking.scripts import LuaScript
from booking.tcode import BufferedRandbelow, Rng

log = Logger()
SCRIPTS = ("hold", "confirm", "expire", "cancel", "check_in", "avail", "avail_many", "set_share",
           "register", "no_show", "shrink", "kiosk_lookup")  # fmt: skip


class RedisBookingService:
    """The booking service (``booking.api.BookingService``) backed by one Redis.

    ``clock`` gives epoch seconds (the reactor, or ``task.Clock`` in tests); ``rng`` draws T-code
    digits like ``secrets.randbelow`` and defaults to it; bookings and their session keys expire
    ``retention_days`` after the visit day.
    """

    book: Callable[[BookingRequest], Coroutine[Any, Any, Booking]]  # Holds.book: take a place

    def __init__(
        self,
        redis: Any,
        platform: Platform | HospitalConfig,
        clock: SecondsClock,
        *,
        rng: Rng | None = None,
        retention_days: int = 30,
        listing_cache_s: float = 0.0,
    ) -> None:
        self.redis = redis
        self.directory = Directory(as_platform(platform))
        catalog = self.directory.platform.hospitals[0]
        self.catalog = catalog
        self.policy = catalog.policy
        self.clock = clock
        self.retention_days = retention_days
        self.last_sweep: Deferred[None] | None = None  # the sweeper's latest round
        self.scripts = {name: LuaScript(redis, name) for name in SCRIPTS}
        self.quotas = Quotas(catalog.policy, catalog.tz)
        self.records = Records(redis, catalog)
        self.listeners = Listeners()
        self.listings = ListingCache(listing_cache_s)  # "places left" screens, seconds old at most
        common = (redis, catalog, clock, self.scripts)
        self.availability = Availability(catalog, clock, self.scripts, self.quotas, self.listings)
        self.holds = Holds(
            *common, quotas=self.quotas, records=self.records, listeners=self.listeners,
            listings=self.listings, rng=rng or BufferedRandbelow(), retention_days=retention_days,
        )  # fmt: skip
        self.lifecycle = Lifecycle(*common, records=self.records, listeners=self.listeners)
        self.people = People(*common, retention_days=retention_days)
        self.admin = Admin(
            *common, quotas=self.quotas, availability=self.availability,
            lifecycle=self.lifecycle, retention_days=retention_days,
        )  # fmt: skip
        self.book = self.holds.book  # the hot path, bound: no delegating frame per attempt

    async def load_scripts(self) -> None:
        """SCRIPT LOAD every script now (optional: they are loaded on first NOSCRIPT anyway)."""
        for script in self.scripts.values():
            await script.load()

    def now(self) -> dt.datetime:
        return local_now(self.clock.seconds(), self.catalog.tz)

    def start_sweeper(self, clock: Any, interval: float = 1.0) -> LoopingCall:
        """Run ``expire_due`` (and the no-show sweep) every ``interval`` s on ``clock``.

        ``last_sweep`` is the Deferred of the latest round (tests wait on it, never on time).
        """

        async def tick() -> None:
            try:
                while await self.lifecycle.expire_due() == SWEEP_BATCH:
                    pass
                await self.people.sweep_no_shows()
            except Exception:
                log.failure("booking.sweep_failed")

        def run() -> Deferred[None]:
            self.last_sweep = Deferred.fromCoroutine(tick())
            return self.last_sweep

        loop = LoopingCall(run)
        loop.clock = clock
        loop.start(interval, now=False)
        return loop

    # ---------------------------------------------------------------- booking.api.BookingService

    async def hospitals(self) -> list[Hospital]:
        return self.directory.hospitals()

    async def recent_hospitals(self, msisdn: str) -> list[str]:
        return [self.catalog.id] if await self.lifecycle.bookings_for(msisdn) else []

    async def departments(self, hospital_id: str = "") -> list[Department]:
        self.directory.taking(hospital_id)
        return await self.availability.departments()

    async def open_days(self, dept_id: str, hospital_id: str = "") -> list[dt.date]:
        self.directory.taking(hospital_id)
        return await self.availability.open_days(dept_id)

    async def sessions(
        self, dept_id: str, day: dt.date, hospital_id: str = ""
    ) -> list[SessionAvailability]:
        self.directory.taking(hospital_id)
        return await self.availability.sessions(dept_id, day)

    async def verify(
        self, tcode: str, kiosk_id: str | None = None, client: str | None = None,
        hospital_id: str | None = None,
    ) -> Booking:
        if hospital_id is not None:
            self.directory.taking(hospital_id)
        return await self.lifecycle.verify(tcode, kiosk_id, client)

    async def check_in(
        self, tcode: str, kiosk_id: str, client: str | None = None,
        hospital_id: str | None = None,
    ) -> Booking:
        if hospital_id is not None:
            self.directory.taking(hospital_id)
        return await self.lifecycle.check_in(tcode, kiosk_id, client)

    async def bookings_for(self, msisdn: str) -> list[Booking]:
        return await self.lifecycle.bookings_for(msisdn)

    async def cancel(
        self, tcode: str, msisdn: str | None = None, reason: str = "patient"
    ) -> Booking:
        return await self.lifecycle.cancel(tcode, msisdn, reason)

    async def register(self, msisdn: str, id_number: str) -> list[str]:
        return await self.people.register(msisdn, id_number)

    async def registered_ids(self, msisdn: str) -> list[str]:
        return await self.people.registered_ids(msisdn)

    def subscribe(self, listener: BookingListener) -> None:
        self.listeners.subscribe(listener)

    # ---------------------------------------------------------------- the hospital's side

    async def _load(self, tcode: str) -> Booking:
        return await self.records.load(tcode)

    async def left(self, dept_id: str, day: dt.date, session: str) -> dict[str, int]:
        return await self.availability.left(dept_id, day, session)

    async def remote_left(self, dept_id: str, day: dt.date, session: str) -> int:
        return await self.availability.remote_left(dept_id, day, session)

    async def confirm_payment(self, tcode: str, txn_id: str, amount: int | None = None) -> str:
        return await self.lifecycle.confirm_payment(tcode, txn_id, amount)

    async def expire_due(self, limit: int = SWEEP_BATCH) -> int:
        return await self.lifecycle.expire_due(limit)

    async def blacklist(self) -> list[dict[str, Any]]:
        return await self.people.blacklist()

    async def barred_until(self, id_number: str) -> float | None:
        return await self.people.barred_until(id_number)

    async def lift(self, id_or_digest: str, reason: str, appeal: str = "") -> bool:
        return await self.people.lift(id_or_digest, reason, appeal)

    async def sweep_no_shows(self) -> int:
        return await self.people.sweep_no_shows()

    async def refresh_shares(self) -> None:
        await self.admin.refresh_shares()

    async def set_share(self, dept_id: str, share: float) -> dict[str, int]:
        return await self.admin.set_share(dept_id, share)

    async def fill(self, day: dt.date) -> list[dict[str, Any]]:
        return await self.admin.fill(day)

    async def session_bookings(self, dept_id: str, day: dt.date, session: str) -> list[dict]:
        return await self.admin.session_bookings(dept_id, day, session)

    async def day_bookings(self, day: dt.date) -> list[dict[str, str]]:
        return await self.admin.day_bookings(day)

    async def change_session(
        self, dept_id: str, day: dt.date, session: str, places: int | None
    ) -> list[str]:
        return await self.admin.change_session(dept_id, day, session, places)

    async def reconcile(self, fix: bool = False) -> list[dict[str, Any]]:
        return await self.admin.reconcile(fix)
