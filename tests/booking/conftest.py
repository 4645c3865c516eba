"""Booking fixtures: a small catalog, a fixed clock and a service on the real Redis fixture."""

from __future__ import annotations

import pytest
from booking_support import CATALOG_YAML, NOW
from twisted.internet.task import Clock

from booking.catalog import HospitalConfig, parse_catalog
from booking.store import RedisBookingService


@pytest.fixture
def catalog() -> HospitalConfig:
    return parse_catalog(CATALOG_YAML, "test-hospital.yaml")


@pytest.fixture
def clock() -> Clock:
    c = Clock()
    c.advance(NOW.timestamp())
    return c


@pytest.fixture
def service(redis, catalog: HospitalConfig, clock: Clock) -> RedisBookingService:
    return RedisBookingService(redis, catalog, clock)
