"""The console's one way into booking passes the user's hospital, and refuses what it cannot
keep to one hospital on a platform of several."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import pytest_twisted

from booking.api import BookingError, Department, Hospital
from web.console.adapter import Platform


def hospital(hid: str) -> Hospital:
    return Hospital(hid, hid[:1], {"zh": hid}, {"zh": hid}, {})


class Service:
    """Booking as the contract shapes it: departments by hospital, fill not yet."""

    def __init__(self, *ids: str) -> None:
        self.ids, self.calls = ids, []

    async def hospitals(self) -> list[Hospital]:
        return [hospital(h) for h in self.ids]

    async def departments(self, hospital_id: str = "") -> list[Department]:
        self.calls.append(("departments", hospital_id))
        return [Department(f"d-{hospital_id}", {"zh": "科"}, hospital_id)]

    async def fill(self, day: dt.date) -> list[dict[str, Any]]:
        self.calls.append(("fill", day))
        return []

    async def day_bookings(self, day: dt.date, hospital_id: str | None = None) -> list[dict]:
        self.calls.append(("day_bookings", hospital_id))
        return [{"tcode": "1234567890", "hospital": "b", "msisdn": "8613800138000", "id": "X"}]

    def now(self) -> dt.datetime:
        return dt.datetime(2026, 12, 7, 8, 0)


@pytest_twisted.ensureDeferred
async def test_the_users_hospital_goes_with_every_call_that_takes_one() -> None:
    service = Service("a", "b")
    hb = await Platform(service, 7).for_hospital("a")
    assert [d.id for d in await hb.departments()] == ["d-a"]
    assert await hb.find("8000") == []  # b's booking, though its phone matches
    assert ("departments", "a") in service.calls and ("day_bookings", "a") in service.calls


@pytest_twisted.ensureDeferred
async def test_a_call_without_a_hospital_is_refused_on_a_platform_of_several() -> None:
    hb = await Platform(Service("a", "b"), 7).for_hospital("a")
    with pytest.raises(BookingError) as refused:
        await hb.fill(dt.date(2026, 12, 8))
    assert refused.value.code == "unknown_hospital"
    single = await Platform(Service("main"), 7).for_hospital("main")
    assert await single.fill(dt.date(2026, 12, 8)) == []  # one hospital: all of it is its own


@pytest_twisted.ensureDeferred
async def test_an_unknown_hospital_has_no_adapter() -> None:
    with pytest.raises(BookingError):
        await Platform(Service("a"), 7).for_hospital("z")
