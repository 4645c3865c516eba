"""Pure booking rules: quota, booking window, check-in day, day labels."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from booking.rules import (
    check_in_refusal,
    day_label,
    is_open,
    local_now,
    open_days,
    remote_quota,
)

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=SH)


@pytest.mark.parametrize(
    ("places", "share", "quota"),
    [(50, 0.8, 40), (63, 0.8, 50), (100, 0.29, 29), (10, 0.7, 7), (0, 0.8, 0), (9, 1.0, 9)],
)
def test_remote_quota_is_exact_floor(places: int, share: float, quota: int) -> None:
    assert remote_quota(places, share) == quota


def test_open_days_start_tomorrow() -> None:
    days = open_days(NOW, 7)
    assert days[0] == dt.date(2026, 11, 26)
    assert days[-1] == dt.date(2026, 12, 2)
    assert len(days) == 7


def test_is_open_window_edges() -> None:
    assert not is_open(dt.date(2026, 11, 25), NOW, 7)  # same day
    assert is_open(dt.date(2026, 11, 26), NOW, 7)
    assert is_open(dt.date(2026, 12, 2), NOW, 7)
    assert not is_open(dt.date(2026, 12, 3), NOW, 7)
    assert not is_open(dt.date(2026, 11, 24), NOW, 7)


def test_local_now_uses_hospital_timezone() -> None:
    # 2026-11-25 17:30 UTC is already the 26th in Shanghai.
    ts = dt.datetime(2026, 11, 25, 17, 30, tzinfo=dt.UTC).timestamp()
    assert local_now(ts, SH).date() == dt.date(2026, 11, 26)


def test_check_in_refusals() -> None:
    today = NOW.date()
    assert check_in_refusal("confirmed", today, NOW) is None
    assert check_in_refusal("confirmed", today + dt.timedelta(days=1), NOW) == "not_today"
    assert check_in_refusal("checked_in", today, NOW) == "already_checked_in"
    assert check_in_refusal("cancelled", today, NOW) == "cancelled"


def test_day_labels() -> None:
    day = dt.date(2026, 11, 26)
    assert day_label(day, "zh") == "11月26日 星期四"
    assert day_label(day, "en") == "Thu 26 Nov"
    assert day_label(dt.date(2026, 3, 1), "zh") == "3月1日 星期日"
