"""The booking interface every channel, the kiosk API and the notifier rely on.

Values are frozen and plain; the one real implementation is the Redis store
(``booking.store.RedisBookingService``). Errors carry a stable ``code`` that menus route on and the
HTTP API returns; ``message`` is safe to show a patient (it never contains PII).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

# the columns of a day's bookings (``day_bookings`` rows, the admin CSV export), in order
CSV_FIELDS = ("tcode", "hospital", "dept", "day", "session", "status", "channel", "id", "msisdn",
              "created_at")


class BookingStatus(StrEnum):
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"
    CANCELLED = "cancelled"
    HELD = "held"  # pay_to_confirm: waiting for the payment until extra["hold_until"]
    EXPIRED = "expired"  # a hold that was not paid in time
    NO_SHOW = "no_show"  # not checked in by the session end + grace


@dataclass(frozen=True, slots=True)
class Hospital:
    """One hospital of the platform, as a caller choosing one sees it."""

    id: str
    code: str  # 1-4 digits: the keypad code on posters, unique on the platform
    name: Mapping[str, str]  # {"zh": ..., "en": ...}
    short: Mapping[str, str]  # the name for small screens
    district: Mapping[str, str]  # {} when the hospital file names none


@dataclass(frozen=True, slots=True)
class Department:
    id: str
    name: Mapping[str, str]  # language -> name, e.g. {"zh": "内科", "en": "Internal medicine"}
    hospital_id: str = ""


@dataclass(frozen=True, slots=True)
class SessionAvailability:
    """One clinic session of one department on one day, as a remote caller sees it."""

    dept_id: str
    day: dt.date
    session: str  # "am" | "pm"
    label: Mapping[str, str]  # {"zh": "上午", "en": "morning"}
    remote_left: int
    hospital_id: str = ""


@dataclass(frozen=True, slots=True)
class BookingRequest:
    dept_id: str
    day: dt.date
    session: str
    id_number: str  # 18-character resident ID, X upper-case
    msisdn: str  # E.164 digits without '+'
    channel: str  # "ussd" | "ivr" | "sms" | "api"
    request_key: str = ""  # idempotency key: the same key returns the same booking
    lang: str = "zh"  # language of the patient's notices (carried on the hl:events stream)
    hospital_id: str = ""  # "": the platform's only hospital (unknown_hospital when several)
    source: str = ""  # the device that booked, e.g. a partner terminal's id; in extra["source"]


@dataclass(frozen=True, slots=True)
class Booking:
    tcode: str  # 10 digits, always shown as 10 consecutive digits
    dept_id: str
    dept_name: Mapping[str, str]
    day: dt.date
    session: str
    session_label: Mapping[str, str]
    id_number: str
    msisdn: str
    channel: str
    status: BookingStatus
    created_at: float
    checked_in_at: float | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    hospital_id: str = ""
    hospital_name: Mapping[str, str] = field(default_factory=dict)  # {zh, en}


class BookingError(Exception):
    """A refused operation: ``code`` is stable (docs/booking.md), ``message`` is patient-safe."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class RateLimited(BookingError):
    """``rate_limited``, with the seconds after which the same caller may try again."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__("rate_limited", message)
        self.retry_after_s = retry_after_s


BookingListener = Callable[[Booking], Awaitable[None] | None]


class BookingService(Protocol):
    """What channels and the kiosk may ask of booking. Time comes from the service's clock.

    ``hospital_id=""`` means the platform's only hospital; on a platform of several it is
    refused with BookingError("unknown_hospital"), as is an id the platform does not have.
    T-code operations need no hospital: T-codes are unique across the platform."""

    async def hospitals(self) -> list[Hospital]:
        """Every hospital taking bookings, in the platform's order."""
        ...

    async def recent_hospitals(self, msisdn: str) -> list[str]:
        """Ids of the hospitals this phone booked at (live bookings), most recent first."""
        ...

    async def departments(self, hospital_id: str = "") -> list[Department]: ...

    async def open_days(self, dept_id: str, hospital_id: str = "") -> list[dt.date]:
        """Days ahead (from tomorrow) on which the department still has remote places."""
        ...

    async def sessions(
        self, dept_id: str, day: dt.date, hospital_id: str = ""
    ) -> list[SessionAvailability]: ...

    async def book(self, request: BookingRequest) -> Booking:
        """Reserve a remote place and confirm it; raises BookingError (full, duplicate, ...)."""
        ...

    async def verify(
        self, tcode: str, kiosk_id: str | None = None, client: str | None = None,
        hospital_id: str | None = None,
    ) -> Booking:
        """The booking behind a T-code if it can be checked in now; raises BookingError.

        With ``kiosk_id`` or ``client`` (the caller's network address), a wrong code counts
        against that kiosk, that address and the whole hospital, each limited per minute; over a
        limit the answer is RateLimited, without looking the code up. With ``hospital_id`` (the
        kiosk's hospital), a code of another hospital raises BookingError("wrong_hospital")
        whose message names the hospital it belongs to.
        """
        ...

    async def check_in(
        self, tcode: str, kiosk_id: str, client: str | None = None,
        hospital_id: str | None = None,
    ) -> Booking:
        """Mark the booking used, once; a second call raises BookingError('already_checked_in').
        Wrong codes are limited, and other hospitals' codes refused, as for ``verify``."""
        ...

    async def bookings_for(self, msisdn: str) -> list[Booking]:
        """Live (held, confirmed) bookings made from this phone number, soonest first."""
        ...

    async def cancel(self, tcode: str, msisdn: str | None = None) -> Booking:
        """Cancel a held or confirmed booking; with ``msisdn`` only the phone that booked may.

        Raises BookingError not_found, too_late, cancelled, already_checked_in, rate_limited.
        """
        ...

    async def register(self, msisdn: str, id_number: str) -> list[str]:
        """Bind an ID to a phone number (at most ``ids_per_phone``); returns the bound IDs.

        Raises BookingError invalid_id or limit.
        """
        ...

    async def registered_ids(self, msisdn: str) -> list[str]:
        """The IDs bound to a phone number (sorted)."""
        ...

    def subscribe(self, listener: BookingListener) -> None:
        """Call ``listener`` after every confirmed booking (the SMS notifier listens here)."""
        ...
