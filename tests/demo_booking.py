"""The booking core on the shipped demo hospital at a fixed moment, for tests of the shell."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from twisted.internet.task import Clock

from booking.catalog import load_catalog
from booking.idcard import check_char
from booking.store import RedisBookingService

ROOT = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Wednesday morning


def valid_id(n: int) -> str:
    """The n-th of a run of valid resident ID numbers (checksum included)."""
    first = f"11010519800101{n:03d}"
    return first + check_char(first)


def clock_at_now() -> Clock:
    clock = Clock()
    clock.advance(NOW.timestamp())
    return clock


def demo_service(redis: Any, catalog: Path = ROOT / "config/hospital.yaml") -> tuple[
    RedisBookingService, Clock
]:
    """``RedisBookingService`` on ``catalog`` (the shipped one by default) with a Clock at NOW."""
    clock = clock_at_now()
    return RedisBookingService(redis, load_catalog(catalog), clock), clock
