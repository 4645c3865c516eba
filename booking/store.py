"""``BookingService`` on Redis: every state change is one Lua script, so no place is sold twice.

``RedisBookingService`` serves a platform of hospitals. Each hospital is served by its own set
of parts (``Unit``), each an object holding the Redis connection, scripts, clock and the
hospital's ``Scope`` (catalog, keys, limits), none importing this module:

- ``booking.availability.Availability``: departments, open days, sessions, places left;
- ``booking.hold.Holds``: taking a place (the hot path: one EVALSHA per attempt);
- ``booking.lifecycle.Lifecycle``: payment, expiry, cancel, the kiosk's verify and check-in;
- ``booking.people.People``: IDs bound to a phone, no-shows and the blacklist;
- ``booking.admin.Admin``: shares, schedule changes, exports and reconcile;

and the pieces they share: ``Quotas`` (the shares in force), ``Records`` (reading a booking
back, platform-wide), ``Listeners`` (who hears of confirmed bookings), the ``ListingCache``. The
service routes what names a hospital to that hospital's unit, and what names a T-code to the
unit of the hospital the booking belongs to; it runs the sweeper over every hospital.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from booking._types import SecondsClock
from booking.admin import Admin
from booking.api import (
    Booking,
    BookingError,
    BookingListener,
    BookingRequest,
    Department,
    Hospital,
    SessionAvailability,
)
from booking.availability import Availability
from booking.catalog import HospitalConfig, Platform
from booking.directory import Directory, as_platform, wrong_hospital
from booking.hold import Holds
from booking.keys import PLATFORM, SCOPES, HospitalKeys
from booking.lifecycle import SWEEP_BATCH, Lifecycle, kiosk_lookup
from booking.listeners import Listeners
from booking.listing_cache import ListingCache
from booking.part import Scope
from booking.people import People
from booking.quota import Quotas
from booking.records import Records
from booking.rules import local_now
from booking.scripts import LuaScript
from booking.tcode import BufferedRandbelow, Rng

log = Logger()
SCRIPTS = ("hold", "confirm", "expire", "cancel", "check_in", "avail", "avail_many", "set_share",
           "set_reserve", "register", "no_show", "shrink", "kiosk_lookup")  # fmt: skip


async def _raise(exc: BookingError) -> Booking:
    raise exc


@dataclass(slots=True)
class Unit:
    """The parts serving one hospital."""

    scope: Scope
    quotas: Quotas
    availability: Availability
    holds: Holds
    lifecycle: Lifecycle
    people: People
    admin: Admin


class RedisBookingService:
    """The booking service (``booking.api.BookingService``) backed by one Redis.

    ``platform``: the hospitals (a ``HospitalConfig`` is a platform of one). ``clock`` gives
    epoch seconds (the reactor, or ``task.Clock`` in tests); ``rng`` draws T-code digits like
    ``secrets.randbelow`` and defaults to it; bookings and their session keys expire
    ``retention_days`` after the visit day. ``person_scope`` and ``blacklist_scope``
    ("platform" or "hospital"): whether the per-person caps (per day, 7 and 90 days, no-shows,
    cancels) and the blacklist hold across the platform or per hospital.
    """

    def __init__(
        self,
        redis: Any,
        platform: Platform | HospitalConfig,
        clock: SecondsClock,
        *,
        rng: Rng | None = None,
        retention_days: int = 30,
        listing_cache_s: float = 0.0,
        person_scope: str = "platform",
        blacklist_scope: str = "platform",
    ) -> None:
        if person_scope not in SCOPES or blacklist_scope not in SCOPES:
            raise ValueError(f"person_scope and blacklist_scope must be one of {SCOPES}")
        self.redis = redis
        self.directory = Directory(as_platform(platform))
        self.clock = clock
        self.rng = rng or BufferedRandbelow()
        self.retention_days = retention_days
        self.listing_cache_s = listing_cache_s
        self.person_scope = person_scope
        self.blacklist_scope = blacklist_scope
        self.random = secrets.SystemRandom()  # where in its return delay a cancelled place is back
        self.last_sweep: Deferred[None] | None = None  # the sweeper's latest round
        self.scripts = {name: LuaScript(redis, name) for name in SCRIPTS}
        self.records = Records(redis, self.directory)
        self.listeners = Listeners()
        self.units: dict[str, Unit] = {}  # hospital id -> its parts (removed hospitals too)
        for h in self.directory.platform.hospitals:
            self.units[h.id] = self._unit(h)

    # ---------------------------------------------------------------- hospitals and reload

    def _unit(self, hospital: HospitalConfig) -> Unit:
        platform = self.directory.platform
        limits = platform.limits
        if self.person_scope == "hospital":
            limits = hospital.policy.limits
        keys = HospitalKeys.of(hospital.id, self.person_scope, self.blacklist_scope)
        scope = Scope(hospital, keys, limits, platform.limits)
        common = (self.redis, scope, self.clock, self.scripts)
        quotas = Quotas(hospital.policy, hospital.tz)
        listings = ListingCache(self.listing_cache_s)  # "places left", seconds old at most
        availability = Availability(scope, self.clock, self.scripts, quotas, listings)
        holds = Holds(
            *common, quotas=quotas, records=self.records, listeners=self.listeners,
            listings=listings, rng=self.rng, retention_days=self.retention_days,
        )  # fmt: skip
        lifecycle = Lifecycle(*common, records=self.records, listeners=self.listeners,
                              draw=lambda: self.random.random())  # fmt: skip
        people = People(*common, retention_days=self.retention_days)
        admin = Admin(
            *common, quotas=quotas, availability=availability, lifecycle=lifecycle,
            retention_days=self.retention_days,
        )  # fmt: skip
        return Unit(scope, quotas, availability, holds, lifecycle, people, admin)

    @property
    def platform(self) -> Platform:
        return self.directory.platform

    @property
    def catalog(self) -> HospitalConfig:
        """The platform's first hospital (the only one of a single-hospital deployment)."""
        return self.directory.platform.hospitals[0]

    @property
    def holds(self) -> Holds:
        """The first hospital's hot path (benchmarks measure it on its own)."""
        return self.units[self.catalog.id].holds

    def replace_platform(self, platform: Platform | HospitalConfig) -> list[str]:
        """Put a reloaded platform in force; returns the ids of the hospitals it removed.

        A removed hospital takes no new bookings (``unknown_hospital``); its bookings stay
        valid for cancel, payment, verify and check-in, and its holds still expire. A hospital
        whose file changed gets fresh parts, keeping the admin's shares."""
        platform = as_platform(platform)
        old = self.directory.platform
        gone = self.directory.replace(platform)
        for h in platform.hospitals:
            if old.hospital(h.id) != h or h.id not in self.units or old.limits != platform.limits:
                before = self.units.get(h.id)
                self.units[h.id] = self._unit(h)
                if before is not None:  # the admin's shares stay in force
                    self.units[h.id].quotas.shares = dict(before.quotas.shares)
        log.info("booking.platform_replaced hospitals={n} removed={gone}",
                 n=len(platform.hospitals), gone=",".join(gone) or "-")  # fmt: skip
        return gone

    def unit(self, hospital_id: str) -> Unit:
        """The parts of a hospital taking bookings; BookingError unknown_hospital."""
        return self.units[self.directory.taking(hospital_id).id]

    def _owner(self, h: dict[str, str]) -> Unit:
        """The parts of the hospital a stored booking belongs to (removed ones too)."""
        hid = h.get("hospital") or self.catalog.id
        found = self.units.get(hid)
        if found is None:  # removed before this process started: its keys, default rules
            stand_in = HospitalConfig({"zh": hid, "en": hid}, self.catalog.timezone, 1, 0.0, (),
                                      id=hid)  # fmt: skip
            found = self.units[hid] = self._unit(stand_in)
            self.directory.retired.setdefault(hid, stand_in)
        return found

    async def load_scripts(self) -> None:
        """SCRIPT LOAD every script now (optional: they are loaded on first NOSCRIPT anyway)."""
        for script in self.scripts.values():
            await script.load()

    def now(self) -> dt.datetime:
        return local_now(self.clock.seconds(), self.catalog.tz)

    async def _every_unit(self) -> list[Unit]:
        """Units of every hospital the platform ever served (``hl:hospitals``), so holds and
        no-shows of a hospital removed before a restart are still swept."""
        await self.redis.sadd(PLATFORM.hospitals, list(self.units))
        for hid in sorted(await self.redis.smembers(PLATFORM.hospitals)):
            self._owner({"hospital": hid})
        return list(self.units.values())

    def start_sweeper(self, clock: Any, interval: float = 1.0) -> LoopingCall:
        """Run ``expire_due`` (and the no-show sweep) every ``interval`` s on ``clock``.

        ``last_sweep`` is the Deferred of the latest round (tests wait on it, never on time).
        """

        async def tick() -> None:
            try:
                for unit in await self._every_unit():
                    while await unit.lifecycle.expire_due() == SWEEP_BATCH:
                        pass
                    await unit.people.sweep_no_shows()
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
        seen: list[tuple[float, str]] = []
        for code in await self.redis.zrange(PLATFORM.phone_bookings(msisdn), 0, -1):
            hid, made = await self.redis.hmget(PLATFORM.booking(code), ["hospital", "created_at"])
            if made:
                seen.append((float(made), hid or self.catalog.id))
        out: list[str] = []
        for _, hid in sorted(seen, reverse=True):
            if hid not in out:
                out.append(hid)
        return out

    async def departments(self, hospital_id: str = "") -> list[Department]:
        return await self.unit(hospital_id).availability.departments()

    async def open_days(self, dept_id: str, hospital_id: str = "") -> list[dt.date]:
        return await self.unit(hospital_id).availability.open_days(dept_id)

    async def sessions(
        self, dept_id: str, day: dt.date, hospital_id: str = ""
    ) -> list[SessionAvailability]:
        return await self.unit(hospital_id).availability.sessions(dept_id, day)

    def book(self, request: BookingRequest) -> Coroutine[Any, Any, Booking]:
        """Take a place at the request's hospital (``Holds.book``; no frame of its own)."""
        try:
            unit = self.unit(request.hospital_id)
        except BookingError as exc:
            return _raise(exc)
        return unit.holds.book(request)

    async def _kiosk(
        self, tcode: str, kiosk_id: str | None, client: str | None, hospital_id: str | None
    ) -> tuple[Unit, dict[str, str]]:
        """The booking for a kiosk, limited by the kiosk's hospital's counters, and its unit.

        A kiosk naming no hospital counts wrong codes against its hospital on a platform of
        one, against platform-wide counters (the first hospital's limits) on one of several."""
        kiosk_unit: Unit | None = None
        if hospital_id is not None:
            known = (self.directory.known(hospital_id) if hospital_id
                     else self.platform.hospital(""))  # fmt: skip
            if known is None:
                raise BookingError("unknown_hospital", "That hospital is not on this line.")
            kiosk_unit = self._owner({"hospital": known.id})
            failures, policy = kiosk_unit.scope.keys.kiosk_failures, known.policy
        elif self.platform.single:
            failures, policy = self.units[self.catalog.id].scope.keys.kiosk_failures, \
                self.catalog.policy
        else:
            failures, policy = PLATFORM.kiosk_failures, self.catalog.policy
        h = await kiosk_lookup(self.scripts["kiosk_lookup"], self.records, tcode, kiosk_id,
                               client, failures, policy, self.clock.seconds())  # fmt: skip
        owner = self._owner(h)
        if kiosk_unit is not None and owner is not kiosk_unit:
            raise wrong_hospital(owner.scope.hospital.name)
        return owner, h

    async def verify(
        self, tcode: str, kiosk_id: str | None = None, client: str | None = None,
        hospital_id: str | None = None,
    ) -> Booking:
        owner, h = await self._kiosk(tcode, kiosk_id, client, hospital_id)
        return owner.lifecycle.verify(h)

    async def check_in(
        self, tcode: str, kiosk_id: str, client: str | None = None,
        hospital_id: str | None = None,
    ) -> Booking:
        if not kiosk_id or len(kiosk_id) > 64:
            raise BookingError("bad_request", "kiosk_id must be 1 to 64 characters.")
        owner, h = await self._kiosk(tcode, kiosk_id, client, hospital_id)
        return await owner.lifecycle.check_in(h, kiosk_id)

    async def bookings_for(self, msisdn: str) -> list[Booking]:
        codes = await self.redis.zrange(PLATFORM.phone_bookings(msisdn), 0, -1)
        found = []
        for code in codes:
            stored = await self.redis.hgetall(PLATFORM.booking(code))
            if stored and stored.get("status") in ("held", "confirmed"):
                found.append(self.records.booking(dict(stored)))
        return found

    async def cancel(
        self, tcode: str, msisdn: str | None = None, reason: str = "patient"
    ) -> Booking:
        owner = self._owner(await self.records.hash(tcode))
        return await owner.lifecycle.cancel(tcode, msisdn, reason)

    async def register(self, msisdn: str, id_number: str) -> list[str]:
        return await self.units[self.catalog.id].people.register(msisdn, id_number)

    async def registered_ids(self, msisdn: str) -> list[str]:
        return await self.units[self.catalog.id].people.registered_ids(msisdn)

    def subscribe(self, listener: BookingListener) -> None:
        self.listeners.subscribe(listener)

    # ---------------------------------------------------------------- the hospitals' side

    async def _load(self, tcode: str) -> Booking:
        return await self.records.load(tcode)

    async def left(
        self, dept_id: str, day: dt.date, session: str, hospital_id: str = ""
    ) -> dict[str, int]:
        return await self.unit(hospital_id).availability.left(dept_id, day, session)

    async def remote_left(
        self, dept_id: str, day: dt.date, session: str, hospital_id: str = ""
    ) -> int:
        return await self.unit(hospital_id).availability.remote_left(dept_id, day, session)

    async def confirm_payment(self, tcode: str, txn_id: str, amount: int | None = None) -> str:
        stored = await self.redis.hgetall(PLATFORM.booking(tcode)) if tcode.isdigit() else {}
        owner = self._owner(dict(stored)) if stored else self.units[self.catalog.id]
        return await owner.lifecycle.confirm_payment(tcode, txn_id, amount)

    async def expire_due(self, limit: int = SWEEP_BATCH) -> int:
        """Release the holds past their deadline at every hospital (at most ``limit`` each)."""
        return sum([await u.lifecycle.expire_due(limit) for u in await self._every_unit()])

    def _bar_units(self, hospital_id: str | None) -> list[tuple[Unit, str | None]]:
        """Where bars are kept and which of them a caller sees: the one platform list filtered
        to the bars earned at ``hospital_id``, or the hospitals' own lists."""
        if self.blacklist_scope == "platform":
            return [(self.units[self.catalog.id], hospital_id)]
        if hospital_id is None:
            return [(u, None) for u in self.units.values()]
        return [(self._owner({"hospital": self.directory.taking(hospital_id).id}), None)]

    async def blacklist(self, hospital_id: str | None = None) -> list[dict[str, Any]]:
        """IDs barred now (``hospital_id`` None: at every hospital, for platform staff)."""
        if hospital_id is not None:
            hospital_id = self.directory.taking(hospital_id).id
        rows = []
        for unit, only in self._bar_units(hospital_id):
            for row in await unit.people.blacklist(only):
                rows.append({"hospital": unit.scope.hospital.id, **row})
        return rows

    async def barred_until(self, id_number: str, hospital_id: str = "") -> float | None:
        unit = self._bar_units(None)[0][0] if self.blacklist_scope == "platform" else \
            self.unit(hospital_id)  # fmt: skip
        return await unit.people.barred_until(id_number)

    async def lift(
        self, id_or_digest: str, reason: str, appeal: str = "", *, hospital_id: str | None = None
    ) -> bool:
        """Lift a bar; with ``hospital_id`` only one earned at that hospital."""
        if hospital_id is not None:
            hospital_id = self.directory.taking(hospital_id).id
        done = False
        for unit, only in self._bar_units(hospital_id):
            done = await unit.people.lift(id_or_digest, reason, appeal, only) or done
        return done

    async def appeal(self, msisdn: str, text: str, lang: str = "zh") -> list[dict[str, Any]]:
        """File an appeal against the bars of the IDs bound to ``msisdn`` (the phone that sent
        it: nobody appeals for an ID they did not register); the bars appealed, each with its
        ``hospital``; empty when none of them is barred. The IDs: those registered to the
        phone and those its bookings were made for."""
        ids = set(await self.registered_ids(msisdn))
        for code in await self.redis.zrange(PLATFORM.phone_bookings(msisdn), 0, -1):
            id_number = await self.redis.hget(PLATFORM.booking(code), "id")
            if id_number:
                ids.add(id_number)
        rows = []
        for id_number in sorted(ids):
            for unit, _ in self._bar_units(None):
                row = await unit.people.appeal(id_number, msisdn, text, lang)
                if row is not None:
                    rows.append({"hospital": unit.scope.hospital.id, **row})
        return rows

    async def appeals(self, hospital_id: str | None = None) -> list[dict[str, Any]]:
        """Appeals waiting, oldest first (``hospital_id`` None: every hospital's)."""
        if hospital_id is not None:
            hospital_id = self.directory.taking(hospital_id).id
        rows = []
        for unit, only in self._bar_units(hospital_id):
            for row in await unit.people.appeals(only):
                rows.append({"hospital": unit.scope.hospital.id, **row})
        return rows

    async def decide_appeal(
        self, digest: str, lift: bool, reason: str, *, hospital_id: str | None = None
    ) -> dict[str, Any] | None:
        """Lift the bar (``lift``) or refuse the appeal, with a reason; the appeal as it was
        (its ``appeal_msisdn`` is who to answer), or None when no such appeal waits."""
        if not reason.strip():
            raise BookingError("bad_request", "A reason is required.")
        if hospital_id is not None:
            hospital_id = self.directory.taking(hospital_id).id
        for unit, only in self._bar_units(hospital_id):
            row = await unit.people.close_appeal(digest, "lifted" if lift else "refused",
                                                 reason, only)
            if row is not None:
                if lift:
                    await unit.people.lift(digest, reason, row.get("appeal", ""), only)
                return {"hospital": unit.scope.hospital.id, **row}
        return None

    async def sweep_no_shows(self) -> int:
        return sum([await u.people.sweep_no_shows() for u in await self._every_unit()])

    async def refresh_shares(self) -> None:
        for unit in self.units.values():
            await unit.admin.refresh_shares()

    async def set_share(
        self, dept_id: str, share: float, *, hospital_id: str = ""
    ) -> dict[str, int]:
        return await self.unit(hospital_id).admin.set_share(dept_id, share)

    async def fill(self, day: dt.date, *, hospital_id: str = "") -> list[dict[str, Any]]:
        return await self.unit(hospital_id).admin.fill(day)

    async def session_bookings(
        self, dept_id: str, day: dt.date, session: str, *, hospital_id: str = ""
    ) -> list[dict]:
        return await self.unit(hospital_id).admin.session_bookings(dept_id, day, session)

    async def day_bookings(
        self, day: dt.date, hospital_id: str | None = None
    ) -> list[dict[str, str]]:
        """Every booking of ``day`` with CSV_FIELDS, oldest first; ``hospital_id`` None: at
        every hospital (platform staff only)."""
        units = list(self.units.values()) if hospital_id is None else [self.unit(hospital_id)]
        rows = [r for u in units for r in await u.admin.day_bookings(day)]
        return sorted(rows, key=lambda r: float(r["created_at"]))

    async def change_session(
        self, dept_id: str, day: dt.date, session: str, places: int | None, *,
        hospital_id: str = "",
    ) -> list[str]:
        return await self.unit(hospital_id).admin.change_session(dept_id, day, session, places)

    async def set_reserve(
        self, dept_id: str, day: dt.date, session: str, reserve: int, *, hospital_id: str = "",
    ) -> dict[str, int]:
        return await self.unit(hospital_id).admin.set_reserve(dept_id, day, session, reserve)

    async def reconcile(self, fix: bool = False) -> list[dict[str, Any]]:
        """Counter drift at every hospital (see ``Admin.reconcile``)."""
        return [d for u in await self._every_unit() for d in await u.admin.reconcile(fix)]
