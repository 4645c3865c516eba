"""booking: the catalog, the rules and the atomic Redis booking service.

Channels and the kiosk see only the ``BookingService`` protocol and its values (``booking.api``);
the composition root builds ``RedisBookingService`` from a platform of hospitals
(``load_platform``). Tests that need a booking answer without Redis use
``booking.testing.MemoryBookingService``, and so does the console's phone simulator (a sandbox
of a hospital that never touches its data).

``RedisBookingService`` is imported on first use: ``booking.store`` brings
txredisapi, which installs the global reactor, and a channel importing ``booking.api`` must not.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from booking import migrate
from booking.api import (
    CSV_FIELDS,
    Booking,
    BookingError,
    BookingListener,
    BookingRequest,
    BookingService,
    BookingStatus,
    Department,
    Hospital,
    RateLimited,
    SessionAvailability,
)
from booking.catalog import HospitalConfig, Platform, load_catalog, load_platform
from booking.idcard import is_valid_resident_id
from booking.rules import day_label

if TYPE_CHECKING:
    from booking.store import RedisBookingService
    from booking.testing import MemoryBookingService

__all__ = [
    "CSV_FIELDS",
    "Booking",
    "BookingError",
    "BookingListener",
    "BookingRequest",
    "BookingService",
    "BookingStatus",
    "Department",
    "Hospital",
    "HospitalConfig",
    "MemoryBookingService",
    "Platform",
    "RateLimited",
    "RedisBookingService",
    "SessionAvailability",
    "day_label",
    "is_valid_resident_id",
    "load_catalog",
    "load_platform",
    "migrate",
]
_ON_FIRST_USE = {"RedisBookingService": "booking.store", "MemoryBookingService": "booking.testing"}


def __getattr__(name: str) -> object:
    if name in _ON_FIRST_USE:
        return getattr(import_module(_ON_FIRST_USE[name]), name)
    raise AttributeError(f"module 'booking' has no attribute {name!r}")
