"""What every part of the booking service holds (``booking.store`` composes them)."""

from __future__ import annotations

import datetime as dt

from booking._types import SecondsClock
from booking.catalog import HospitalConfig
from booking.rules import local_now


class Part:
    """The catalog and its policy, booking's clock, and the hospital's local time from it."""

    def __init__(self, catalog: HospitalConfig, clock: SecondsClock) -> None:
        self.catalog = catalog
        self.policy = catalog.policy
        self.clock = clock
        self._tz = catalog.tz

    def now(self) -> dt.datetime:
        return local_now(self.clock.seconds(), self._tz)
