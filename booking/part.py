"""What every part of the booking service holds (``booking.store`` composes them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from booking._types import SecondsClock
from booking.catalog import HospitalConfig
from booking.keys import HospitalKeys
from booking.policy import Limits
from booking.rules import local_now


@dataclass(frozen=True, slots=True)
class Scope:
    """One hospital as the parts serving it see it: its catalog, its keys, the limits in force.

    ``limits``: the per-person caps and the no-show and cancel ladders for this hospital's
    bookings (the platform's, or the hospital's own when persons are counted per hospital);
    ``platform_limits``: what is always the platform's (IDs per phone, operations a minute)."""

    hospital: HospitalConfig
    keys: HospitalKeys
    limits: Limits
    platform_limits: Limits


class Part:
    """The hospital's catalog and policy, its keys, booking's clock, and local time from it."""

    def __init__(self, scope: Scope, clock: SecondsClock) -> None:
        self.scope = scope
        self.catalog = scope.hospital
        self.policy = scope.hospital.policy
        self.keys = scope.keys
        self.limits = scope.limits
        self.clock = clock
        self._tz = scope.hospital.tz

    def now(self) -> dt.datetime:
        return local_now(self.clock.seconds(), self._tz)
