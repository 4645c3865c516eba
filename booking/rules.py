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


ONSITE_CHANNELS = frozenset({"onsite", "desk"})
RESERVE_CHANNELS = frozenset({"reserve", "referral"})


def bucket_for(channel: str) -> str:
    """Which quota bucket a channel draws from: r remote, o on-site desk, v reserve (referrals)."""
    if channel in ONSITE_CHANNELS:
        return "o"
    return "v" if channel in RESERVE_CHANNELS else "r"


def bucket_quotas(
    places: int, reserve: int, rq: int, fallback: bool, taken: dict[str, int]
) -> dict[str, int]:
    """Places per bucket of one session, given the places ``taken`` per bucket (lib.lua
    ``quotas``): the remote quota never falls below the remote places taken nor rises above what
    the desk has not used; after the fallback time the unclaimed remote places go on-site."""
    v = min(reserve, places)
    r = max(taken["r"], min(rq, places - v - taken["o"]))
    if fallback:
        r = taken["r"]
    return {"r": r, "o": places - v - r, "v": v}


def bookable(
    day: dt.date, now: dt.datetime, days_ahead: int, release: dt.time, cutoff: dt.time
) -> bool:
    """Remote booking window: tomorrow (until ``cutoff`` today) up to today + ``days_ahead``,
    the last day only from ``release`` o'clock (nothing is bookable before its release)."""
    ahead = (day - now.date()).days
    if ahead < 1 or ahead > days_ahead:
        return False
    if ahead == 1 and now.time() >= cutoff:
        return False
    return not (ahead == days_ahead and now.time() < release)


def at(day: dt.date, hhmm: dt.time, tz: ZoneInfo) -> float:
    """Epoch seconds of ``hhmm`` on ``day`` in the hospital's zone."""
    return dt.datetime.combine(day, hhmm, tzinfo=tz).timestamp()


def fallback_active(day: dt.date, start: dt.time, tz: ZoneInfo, now_s: float, minutes: int) -> bool:
    """True once unclaimed remote places belong to the on-site desk (``minutes`` before start)."""
    return now_s >= at(day, start, tz) - minutes * 60


def cancel_too_late(day: dt.date, now: dt.datetime, deadline: dt.time) -> bool:
    """Cancelling closes at ``deadline`` on the day before the visit."""
    return now >= dt.datetime.combine(day - dt.timedelta(days=1), deadline, tzinfo=now.tzinfo)


def return_time(now_s: float, delay_minutes: tuple[int, int], draw: float) -> int:
    """When a cancelled place re-enters its bucket: now + a delay in the configured range.

    ``draw`` in [0, 1) comes from the caller's random source, so this stays a pure function.
    """
    low, high = delay_minutes
    return int(now_s + (low + (high - low) * draw) * 60)


def check_in_window(
    day: dt.date, start: dt.time, end: dt.time, tz: ZoneInfo, early_min: int, late_min: int
) -> tuple[float, float]:
    """Epoch seconds between which a kiosk may check a booking in (lateness grace included)."""
    return at(day, start, tz) - early_min * 60, at(day, end, tz) + late_min * 60


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
