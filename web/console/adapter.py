"""Every booking call the console makes, scoped to one hospital, in one place.

The console never touches the booking service but through ``HospitalBooking``, which is made for
one hospital (the logged-in user's, checked before) and passes that hospital with every call.
Today's booking serves one hospital, the platform's only one (id ``main``): the calls carry no
hospital argument yet and any other id is refused. When booking takes ``hospital_id=``
(docs/architecture.md, the hospital dimension), only ``_scope`` changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from booking.api import BookingError, Department

SINGLE = "main"  # the id of the one hospital of a single-hospital platform
LIVE = ("held", "confirmed")  # what a cancel can still undo
TAKEN = ("held", "confirmed", "checked_in", "no_show")  # what holds a place
SEARCH_DAYS_BACK = 7  # how far back "find a booking" looks


@dataclass(frozen=True, slots=True)
class HospitalInfo:
    id: str
    name: Mapping[str, str]


class Platform:
    """The hospitals the console can show, and an adapter per hospital."""

    def __init__(self, booking: Any, hospitals: list[HospitalInfo], days_ahead: int) -> None:
        self.booking = booking
        self.hospitals = {h.id: h for h in hospitals}
        self.days_ahead = days_ahead

    def for_hospital(self, hospital_id: str) -> HospitalBooking:
        info = self.hospitals.get(hospital_id)
        if info is None:
            raise BookingError("unknown_hospital", "No such hospital.")
        return HospitalBooking(self.booking, info, self.days_ahead)


class HospitalBooking:
    """One hospital's view of booking: what the console may read and change."""

    def __init__(self, booking: Any, info: HospitalInfo, days_ahead: int) -> None:
        self.booking, self.info, self.days_ahead = booking, info, days_ahead

    def _scope(self) -> dict[str, str]:
        """The keyword arguments naming this hospital (none while booking has one hospital)."""
        if self.info.id != SINGLE:
            raise BookingError("unknown_hospital", "No such hospital.")
        return {}

    def today(self) -> dt.date:
        return self.booking.now().date()

    def days(self) -> list[dt.date]:
        today = self.today()
        return [today + dt.timedelta(days=n) for n in range(self.days_ahead)]

    async def departments(self) -> list[Department]:
        return await self.booking.departments(**self._scope())

    def share(self, dept_id: str) -> float | None:
        """The remote share in force for a department (None when it cannot be told)."""
        self._scope()
        dept = self.booking.catalog.department(dept_id)
        return None if dept is None else self.booking.quotas.share(dept)

    async def fill(self, day: dt.date) -> list[dict[str, Any]]:
        return await self.booking.fill(day, **self._scope())

    async def set_share(self, dept_id: str, share: float) -> dict[str, int]:
        return await self.booking.set_share(dept_id, share, **self._scope())

    async def session_bookings(self, dept_id: str, day: dt.date, session: str) -> list[dict]:
        return await self.booking.session_bookings(dept_id, day, session, **self._scope())

    async def taken(self, dept_id: str, day: dt.date, session: str) -> int:
        rows = await self.session_bookings(dept_id, day, session)
        return sum(1 for r in rows if r.get("status") in TAKEN)

    async def change_session(
        self, dept_id: str, day: dt.date, session: str, places: int | None
    ) -> list[str]:
        return await self.booking.change_session(dept_id, day, session, places, **self._scope())

    async def find(self, query: str) -> list[dict[str, str]]:
        """Bookings of this hospital whose T-code is ``query`` or whose phone or ID number ends
        in it (4 digits or more), from SEARCH_DAYS_BACK days ago to the end of the window."""
        query = query.strip().upper()
        if len(query) < 4 or not query.rstrip("X").isdigit():
            raise BookingError("bad_request", "Give a T-code or at least the last 4 digits.")
        today = self.today()
        out = []
        for n in range(-SEARCH_DAYS_BACK, self.days_ahead + 1):
            for row in await self.booking.day_bookings(today + dt.timedelta(days=n),
                                                       **self._scope()):
                if (row["tcode"] == query or row["msisdn"].endswith(query)
                        or row["id"].upper().endswith(query)):
                    out.append(row)
        return out

    async def booking_row(self, tcode: str) -> dict[str, str] | None:
        """The booking ``tcode`` if it is this hospital's (found by ``find``), else None."""
        if len(tcode) != 10 or not tcode.isdigit():
            return None
        return next((r for r in await self.find(tcode) if r["tcode"] == tcode), None)

    async def cancel(self, tcode: str) -> str:
        """Cancel on the patient's behalf: the patient's own rules (deadline, cancel count) and
        the patient's SMS. Only a booking of this hospital; returns the new status."""
        if await self.booking_row(tcode) is None:
            raise BookingError("not_found", "No such booking at this hospital.")
        done = await self.booking.cancel(tcode)
        return str(done.status)

    async def blacklist(self) -> list[dict[str, Any]]:
        return await self.booking.blacklist(**self._scope())

    async def lift(self, digest: str, reason: str) -> bool:
        """Lift a bar listed for this hospital (by ID digest) with a reason."""
        if not any(row["id_digest"] == digest for row in await self.blacklist()):
            raise BookingError("not_found", "No such bar at this hospital.")
        return await self.booking.lift(digest, reason)
