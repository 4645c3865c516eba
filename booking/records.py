"""The records part: a booking read back from its ``hl:bk:<tcode>`` hash (platform-wide)."""

from __future__ import annotations

from typing import Any

from booking.api import Booking, BookingError
from booking.catalog import HospitalConfig
from booking.directory import Directory
from booking.keys import PLATFORM
from booking.tcode import is_well_formed
from booking.values import NOT_FOUND, booking_from_hash


class Records:
    """Reads stored bookings; malformed and unknown codes give the same error."""

    def __init__(self, redis: Any, directory: Directory) -> None:
        self.redis = redis
        self.directory = directory

    async def hash(self, tcode: str) -> dict[str, str]:
        """The stored booking hash, or BookingError not_found."""
        if not is_well_formed(tcode):
            raise BookingError("not_found", NOT_FOUND)
        stored = await self.redis.hgetall(PLATFORM.booking(tcode))
        if not stored:
            raise BookingError("not_found", NOT_FOUND)
        return dict(stored)

    async def load(self, tcode: str) -> Booking:
        return self.booking(await self.hash(tcode))

    def hospital(self, h: dict[str, str]) -> HospitalConfig | None:
        """The hospital the booking belongs to, if the platform still knows it."""
        return self.directory.known(h.get("hospital", ""))

    def booking(self, h: dict[str, str]) -> Booking:
        return booking_from_hash(self.hospital(h), h)
