"""Per-hospital booking policy: payment mode, hold time, release and cut-off hours, caps, limits.

Read from ``config/hospital.yaml`` (keys under ``hospital:`` and the ``limits:`` section) by
``booking.catalog``; every value has a default taken from the public platforms in
docs/booking.md, so a catalog that says nothing about policy behaves like Beijing 114.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

PAY_AT_HOSPITAL = "pay_at_hospital"
PAY_TO_CONFIRM = "pay_to_confirm"
PAYMENT_MODES = (PAY_AT_HOSPITAL, PAY_TO_CONFIRM)
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


def parse_hhmm(text: str) -> dt.time | None:
    """``"07:00"`` → time(7, 0); anything else → None (the caller reports file:line)."""
    m = _HHMM.match(text.strip()) if isinstance(text, str) else None
    return dt.time(int(m.group(1)), int(m.group(2))) if m else None


@dataclass(frozen=True, slots=True)
class Limits:
    """预约限量 caps keyed on the ID across every channel, and anti-scalper limits."""

    per_day: int = 2  # live bookings of one ID on one visit day (all departments)
    per_7_days: int = 3  # bookings made by one ID in any trailing 7 days
    per_90_days: int = 5  # bookings made by one ID in any trailing 90 days
    ids_per_phone: int = 2  # resident IDs one phone number may book for
    ops_per_minute: int = 30  # booking operations per phone and per ID per clock minute
    noshow_count: int = 3  # no-shows within noshow_window_days → barred
    noshow_window_days: int = 90
    barred_days: int = 180
    cancel_count: int = 3  # patient cancels within cancel_window_days → barred (0 = off)
    cancel_window_days: int = 30
    cancel_barred_days: int = 30


@dataclass(frozen=True, slots=True)
class Policy:
    """The rules that decide when and how a remote place may be taken and given back."""

    payment: str = PAY_AT_HOSPITAL
    hold_minutes: int = 10  # pay_to_confirm: an unpaid hold is released after this
    release_time: dt.time = dt.time(7, 0)  # the day today+days_ahead opens at this hour
    booking_cutoff: dt.time = dt.time(17, 0)  # booking for tomorrow closes at this hour
    cancel_deadline: dt.time = dt.time(15, 0)  # cancelling closes at this hour the day before
    fallback_minutes: int = 30  # unclaimed remote places go on-site this long before the start
    reserve_share: float = 0.0  # places kept back (referrals, green channel), off the on-site part
    return_delay_minutes: tuple[int, int] = (60, 120)  # cancelled places re-enter after this
    checkin_early_minutes: int = 60  # kiosk check-in opens this long before the session start
    checkin_late_minutes: int = 30  # ... and closes this long after the session end
    checkin_window: bool = True  # False: any time on the visit day (demo convenience)
    noshow_grace_minutes: int = 30  # session end + this → unclaimed bookings become no-shows
    kiosk_failures_per_minute: int = 10  # failed verifications per kiosk per minute
    kiosk_failures_per_address_per_minute: int = 30  # ... per client address, whatever kiosk_id
    kiosk_failures_per_hospital_per_minute: int = 120  # ... at all kiosks together
    limits: Limits = Limits()


DEFAULT_POLICY = Policy()
