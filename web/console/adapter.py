"""Every booking call the console makes, scoped to one hospital, in one place.

The console never touches the booking service but through ``HospitalBooking``, which is made for
one hospital (the logged-in user's, checked before) and passes that hospital with every call as
``hospital_id=`` (docs/architecture.md, the hospital dimension). A booking operation that does
not take a hospital yet is still correct on a platform of one hospital, whose data is all that
hospital's; on a platform of several it is refused rather than shown or done across hospitals.
"""

from __future__ import annotations

import datetime as dt
import inspect
from typing import Any

from booking.api import BookingError, Department, Hospital

LIVE = ("held", "confirmed")  # what a cancel can still undo
TAKEN = ("held", "confirmed", "checked_in", "no_show")  # what holds a place
SEARCH_DAYS_BACK = 7  # how far back "find a booking" looks
PLAN_DAYS = 28  # how far ahead places can be set, before the booking window reaches a day
_TAKES: dict[tuple[type, str], bool] = {}


def takes_hospital(service: Any, name: str) -> bool:
    """Whether ``service.<name>`` accepts ``hospital_id=`` (asked once per class and name)."""
    key = (type(service), name)
    if key not in _TAKES:
        _TAKES[key] = "hospital_id" in inspect.signature(getattr(service, name)).parameters
    return _TAKES[key]


class Platform:
    """The hospitals booking serves now, and an adapter per hospital."""

    def __init__(self, booking: Any, days_ahead: int) -> None:
        self.booking = booking
        self.days_ahead = days_ahead

    async def hospitals(self) -> list[Hospital]:
        return list(await self.booking.hospitals())

    async def for_hospital(self, hospital_id: str) -> HospitalBooking:
        hospitals = await self.hospitals()
        info = next((h for h in hospitals if h.id == hospital_id), None)
        if info is None:
            raise BookingError("unknown_hospital", "No such hospital.")
        return HospitalBooking(self.booking, info, self.days_ahead, single=len(hospitals) == 1)


class HospitalBooking:
    """One hospital's view of booking: what the console may read and change."""

    def __init__(self, booking: Any, info: Hospital, days_ahead: int, *, single: bool) -> None:
        self.booking, self.info, self.single = booking, info, single
        platform = getattr(booking, "platform", None)
        config = platform.hospital(info.id) if platform is not None else None
        self.days_ahead = config.days_ahead if config is not None else days_ahead

    async def _call(self, name: str, *args: Any) -> Any:
        """``booking.<name>(*args)`` for this hospital alone."""
        if takes_hospital(self.booking, name):
            return await getattr(self.booking, name)(*args, hospital_id=self.info.id)
        if not self.single:
            raise BookingError("unknown_hospital",
                               f"booking cannot keep {name} to one hospital yet")
        return await getattr(self.booking, name)(*args)

    def today(self) -> dt.date:
        return self.booking.now().date()

    def last_day(self) -> dt.date:
        """The last day whose places the console shows and sets: the end of the booking window,
        or PLAN_DAYS ahead (release is prepared before callers can book)."""
        return self.today() + dt.timedelta(days=max(self.days_ahead, PLAN_DAYS))

    def days(self, start: dt.date | None = None, count: int = 7) -> list[dt.date]:
        """``count`` days from ``start`` (default today), kept between today and last_day."""
        today = self.today()
        last = self.last_day()
        first = min(max(start or today, today), last)
        return [first + dt.timedelta(days=n) for n in range(count)
                if first + dt.timedelta(days=n) <= last]

    async def departments(self) -> list[Department]:
        return await self._call("departments")

    def share(self, dept_id: str) -> float | None:
        """The remote share in force for a department, as booking's quota part holds it (None
        when it cannot be told)."""
        unit = getattr(self.booking, "unit", None)
        platform = getattr(self.booking, "platform", None)
        if unit is None or platform is None:
            return None
        hospital = platform.hospital(self.info.id)
        dept = hospital.department(dept_id) if hospital is not None else None
        return None if dept is None else unit(self.info.id).quotas.share(dept)

    async def fill(self, day: dt.date) -> list[dict[str, Any]]:
        return await self._call("fill", day)

    async def set_share(self, dept_id: str, share: float) -> dict[str, int]:
        return await self._call("set_share", dept_id, share)

    async def session_bookings(self, dept_id: str, day: dt.date, session: str) -> list[dict]:
        return await self._call("session_bookings", dept_id, day, session)

    async def taken(self, dept_id: str, day: dt.date, session: str) -> int:
        rows = await self.session_bookings(dept_id, day, session)
        return sum(1 for r in rows if r.get("status") in TAKEN)

    async def change_session(
        self, dept_id: str, day: dt.date, session: str, places: int | None
    ) -> list[str]:
        return await self._call("change_session", dept_id, day, session, places)

    async def set_reserve(
        self, dept_id: str, day: dt.date, session: str, reserve: int
    ) -> dict[str, int]:
        return await self._call("set_reserve", dept_id, day, session, reserve)

    async def find(self, query: str) -> list[dict[str, str]]:
        """Bookings of this hospital whose T-code is ``query`` or whose phone or ID number ends
        in it (4 digits or more), from SEARCH_DAYS_BACK days ago to the end of the window."""
        query = query.strip().upper()
        if len(query) < 4 or not query.rstrip("X").isdigit():
            raise BookingError("bad_request", "Give a T-code or at least the last 4 digits.")
        today = self.today()
        out = []
        for n in range(-SEARCH_DAYS_BACK, self.days_ahead + 1):
            for row in await self._call("day_bookings", today + dt.timedelta(days=n)):
                if row.get("hospital", self.info.id) not in (self.info.id, ""):
                    continue  # a row of another hospital: never shown
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
        return await self._call("blacklist")

    async def lift(self, digest: str, reason: str) -> bool:
        """Lift a bar listed for this hospital (by ID digest) with a reason."""
        if not any(row["id_digest"] == digest for row in await self.blacklist()):
            raise BookingError("not_found", "No such bar at this hospital.")
        return await self._call("lift", digest, reason)

    async def day_bookings(self, day: dt.date) -> list[dict[str, str]]:
        """Every booking of ``day`` at this hospital (all statuses), oldest first."""
        return [r for r in await self._call("day_bookings", day)
                if r.get("hospital", self.info.id) in (self.info.id, "")]

    async def appeals(self, unowned: bool = False) -> list[dict[str, Any]]:
        """Appeals waiting against bars earned at this hospital; ``unowned``: also those whose
        bar names no hospital (platform staff handle them)."""
        if not hasattr(self.booking, "appeals"):
            return []  # a booking service without appeals (a stand-in): an empty queue
        rows = await self.booking.appeals(None)
        return [r for r in rows
                if r.get("hospital") == self.info.id or (unowned and not r.get("hospital"))]

    async def decide_appeal(self, digest: str, lift: bool, reason: str,
                            unowned: bool = False) -> dict[str, Any] | None:
        """Lift or refuse an appeal listed by ``appeals``; the appeal, or None when no such
        appeal waits here."""
        row = next((r for r in await self.appeals(unowned) if r["id_digest"] == digest), None)
        if row is None:
            return None
        return await self.booking.decide_appeal(digest, lift, reason,
                                                hospital_id=row.get("hospital") or None)
