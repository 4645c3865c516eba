"""Which hospitals take bookings now, and which a stored booking belongs to.

Both booking services resolve hospital ids here, so ``""`` (the only hospital of a platform of
one), ``unknown_hospital`` and a hospital removed by a reload mean the same in both. A removed
hospital takes no new bookings, but its bookings stay readable with its names, timezone and policy
until the process ends.
"""

from __future__ import annotations

from collections.abc import Mapping

from booking.api import BookingError, Hospital
from booking.catalog import HospitalConfig, Platform

UNKNOWN = "That hospital is not on this line. Please choose another."


def as_platform(config: HospitalConfig | Platform) -> Platform:
    """A platform, from a platform or from one hospital (today's single file)."""
    return config if isinstance(config, Platform) else Platform.of(config)


class Directory:
    """The platform in force and the hospitals a reload took away."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.retired: dict[str, HospitalConfig] = {}

    def replace(self, platform: Platform) -> list[str]:
        """Put ``platform`` in force; returns the ids of the hospitals it no longer has."""
        gone = [h for h in self.platform.hospitals if platform.hospital(h.id) is None]
        for h in gone:
            self.retired[h.id] = h
        for h in platform.hospitals:
            self.retired.pop(h.id, None)
        self.platform = platform
        return [h.id for h in gone]

    def taking(self, hospital_id: str) -> HospitalConfig:
        """The hospital that takes bookings under this id; BookingError unknown_hospital."""
        found = self.platform.hospital(hospital_id)
        if found is None:
            raise BookingError("unknown_hospital", UNKNOWN)
        return found

    def known(self, hospital_id: str) -> HospitalConfig | None:
        """The hospital a stored booking names: in force or removed since ("" = the first)."""
        if not hospital_id:
            return self.platform.hospitals[0]
        return self.platform.hospital(hospital_id) or self.retired.get(hospital_id)

    def hospitals(self) -> list[Hospital]:
        return [hospital_value(h) for h in self.platform.hospitals]


def hospital_value(h: HospitalConfig) -> Hospital:
    return Hospital(h.id, h.code, h.name, h.short or h.name, h.district)


def wrong_hospital(owner: Mapping[str, str]) -> BookingError:
    """The kiosk of one hospital was shown another's code: name the owner, nothing personal."""
    zh, en = owner.get("zh", ""), owner.get("en", owner.get("zh", ""))
    return BookingError("wrong_hospital",
                        f"This booking is at {zh} ({en}). Please check in there.")  # fmt: skip
