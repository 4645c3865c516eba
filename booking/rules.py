"""Booking rules as pure functions of values and a local ``now`` (no Redis, no Twisted).

The store applies them; keeping them here makes the policy readable and testable on its own.
"""

from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction
from zoneinfo import ZoneInfo

_WEEKDAY_ZH = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
_WEEKDAY_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def remote_quota(places: int, share: float) -> int:
    """Places remote channels may take: floor(places × share), computed exactly.

    ``Fraction(str(share))`` avoids binary-float surprises such as 100 × 0.29 = 28.999….
    """
    return math.floor(places * Fraction(str(share)))


def local_now(seconds: float, tz: ZoneInfo) -> dt.datetime:
    """The hospital's wall-clock time for an epoch timestamp (``clock.seconds()``)."""
    return dt.datetime.fromtimestamp(seconds, tz)


def open_days(now: dt.datetime, days_ahead: int) -> list[dt.date]:
    """Days remote callers may book: tomorrow up to today + ``days_ahead`` (no same-day)."""
    today = now.date()
    return [today + dt.timedelta(days=n) for n in range(1, days_ahead + 1)]


def is_open(day: dt.date, now: dt.datetime, days_ahead: int) -> bool:
    """Whether ``day`` is inside the remote booking window at ``now``."""
    return 1 <= (day - now.date()).days <= days_ahead


def check_in_refusal(status: str, day: dt.date, now: dt.datetime) -> str | None:
    """Why a booking cannot be checked in now (a BookingError code), or None when it can.

    Check-in happens only on the booking's own day; the order of the tests fixes which reason a
    kiosk shows when several apply.
    """
    if status == "cancelled":
        return "cancelled"
    if day != now.date():
        return "not_today"
    if status == "checked_in":
        return "already_checked_in"
    return None


def day_label(day: dt.date, lang: str) -> str:
    """How a day is read out or shown: "11月26日 星期四" (zh) or "Thu 26 Nov" (en)."""
    if lang == "zh":
        return f"{day.month}月{day.day}日 {_WEEKDAY_ZH[day.weekday()]}"
    return f"{_WEEKDAY_EN[day.weekday()]} {day.day} {_MONTH_EN[day.month - 1]}"


def day_labels(day: dt.date) -> dict[str, str]:
    """The label of ``day`` in every supported language."""
    return {lang: day_label(day, lang) for lang in ("zh", "en")}
