"""Shared values for the booking tests: a fixed "now", a small catalog, valid ID numbers."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from booking.idcard import check_char

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=SH)  # a Wednesday, 10:00 hospital time
TOMORROW = dt.date(2026, 11, 26)

CATALOG_YAML = """\
hospital:
  name: {zh: 测试医院, en: Test hospital}
sessions:
  am: {label: {zh: 上午, en: morning}, places: 63}   # remote quota floor(63 * 0.8) = 50
  pm: {label: {zh: 下午, en: afternoon}, places: 3}  # remote quota 2
departments:
  - id: nk
    name: {zh: 内科, en: Internal medicine}
  - id: yk
    name: {zh: 眼科, en: Ophthalmology}
    sessions: {pm: 0}
"""


def make_id(n: int) -> str:
    """The n-th distinct valid resident ID (Beijing Chaoyang, born 1980-1999)."""
    first17 = f"110105{1980 + n // 1000:04d}0101{n % 1000:03d}"
    return first17 + check_char(first17)


def phone(n: int) -> str:
    """A distinct phone number per person (one phone may book for at most 2 IDs)."""
    return f"86139{n:08d}"
