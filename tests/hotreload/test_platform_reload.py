"""The hospitals' folder reloads without a restart: an added hospital takes bookings, a removed one
stops taking them while its bookings stay valid (cancel, notices with its signature), a broken
file is refused with file:line and the running platform stays. Real files, the real loader, the
in-memory booking twin (it speaks the same protocol and swaps platforms like the Redis service)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from demo_booking import NOW, valid_id
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher

from booking.api import BookingError, BookingRequest
from booking.catalog import load_platform
from booking.rules import day_label
from booking.testing import MemoryBookingService
from hotreload.reloaders import PlatformReloader, Reloaders
from notify.templates import Renderer, load_templates

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = load_templates(ROOT / "config/sms.yaml")
DAY = dt.date(2026, 11, 26)  # the day after NOW


class Platformed:
    """A copy of the demo folder, booking over it, the SMS renderer, and the reloader."""

    def __init__(self, tmp_path: Path) -> None:
        self.folder = tmp_path / "hospitals"
        shutil.copytree(ROOT / "config/hospitals", self.folder)
        self.clock = Clock()
        self.clock.advance(NOW.timestamp())
        platform = load_platform(self.folder)
        self.booking = MemoryBookingService(platform, self.clock)
        self.renderer = Renderer(TEMPLATES, platform, day_label, signature="【12580】")
        self.events: list[Any] = []
        self.reloader = PlatformReloader(
            self.folder, load_platform, [self.booking.replace_platform, self.renderer.use],
            self.clock, platform, on_event=self.events.append)
        self.reloader.start()

    def file(self, name: str) -> Path:
        return self.folder / name

    async def ids(self) -> list[str]:
        return [h.id for h in await self.booking.hospitals()]

    async def book(self, hospital: str, dept: str, n: int) -> Any:
        return await self.booking.book(BookingRequest(
            dept, DAY, "am", valid_id(n), f"861380013{n:04d}", "ussd", hospital_id=hospital))


@pytest.fixture
def line(tmp_path: Path):
    platformed = Platformed(tmp_path)
    yield platformed
    platformed.reloader.stop()


@pytest_twisted.ensureDeferred
async def test_a_removed_hospital_stops_taking_bookings_and_its_bookings_stay_valid(line) -> None:
    kept = await line.book("ns-renmin", "gk", 1)
    assert kept.hospital_id == "ns-renmin"

    line.file("2-ns-renmin.yaml").unlink()
    line.clock.advance(2)  # the file watch
    assert [e.outcome for e in line.events] == ["loaded"]
    assert "ns-renmin" not in await line.ids() and len(await line.ids()) == 5
    with pytest.raises(BookingError) as refused:
        await line.book("ns-renmin", "gk", 2)
    assert refused.value.code == "unknown_hospital"

    # its booking: still found, its notices still carry its signature and names
    [mine] = await line.booking.bookings_for(kept.msisdn)
    assert mine.tcode == kept.tcode
    event = {"type": "cancelled", "tcode": kept.tcode, "msisdn": kept.msisdn, "dept": "gk",
             "day": DAY.isoformat(), "session": "am", "hospital": "ns-renmin", "lang": "zh"}
    text = line.renderer.for_event("cancelled", event)
    assert text.startswith("【南山医院】") and "骨科" in text
    cancelled = await line.booking.cancel(kept.tcode, msisdn=kept.msisdn)
    assert cancelled.status.value == "cancelled"

    # the file back: the hospital is back
    shutil.copy(ROOT / "config/hospitals/2-ns-renmin.yaml", line.file("2-ns-renmin.yaml"))
    line.clock.advance(2)
    assert "ns-renmin" in await line.ids()
    assert (await line.book("ns-renmin", "gk", 3)).hospital_id == "ns-renmin"


@pytest_twisted.ensureDeferred
async def test_an_added_hospital_takes_bookings_at_the_next_look(line) -> None:
    text = line.file("6-lh-yanke.yaml").read_text(encoding="utf-8")
    text = (text.replace("id: lh-yanke", "id: lh-erke").replace("code: 6", "code: 77")
            .replace("罗湖区眼科医院（演示）", "罗湖区儿科医院（演示）")
            .replace("【罗湖眼科】", "【罗湖儿科】"))
    line.file("7-lh-erke.yaml").write_text(text, encoding="utf-8")
    line.clock.advance(1)
    assert "lh-erke" not in await line.ids()  # not before the next look
    line.clock.advance(1)
    assert (await line.ids())[-1] == "lh-erke"
    booked = await line.book("lh-erke", "ydk", 4)
    event = {"tcode": booked.tcode, "dept": "ydk", "day": DAY.isoformat(), "session": "am",
             "hospital": "lh-erke"}
    assert line.renderer.for_event("booked", event).startswith("【罗湖儿科】预约成功：眼底病科")


@pytest_twisted.ensureDeferred
async def test_a_broken_file_is_refused_with_file_and_line_and_the_platform_stays(line) -> None:
    logged: list[dict] = []
    globalLogPublisher.addObserver(logged.append)
    try:
        before = line.booking.platform
        path = line.file("4-ft-ertong.yaml")
        good = path.read_text(encoding="utf-8")
        path.write_text(good.replace("  fee: 600\n", "  fee: 600\n  colour: blue\n"),
                        encoding="utf-8")
        line.clock.advance(2)
        [event] = line.events
        assert event.outcome == "rejected"
        assert f"{path}:15:" in event.errors[0] and "colour" in event.errors[0]
        assert line.booking.platform is before and line.reloader.platform is before
        assert any("catalog.reload_rejected" in str(e.get("log_format", "")) for e in logged)
        assert (await line.book("ft-ertong", "xenk", 5)).hospital_id == "ft-ertong"

        line.clock.advance(2)  # reported once, not at every look
        assert len(line.events) == 1

        # a code used twice: both files named
        path.write_text(good.replace("code: 4", "code: 2"), encoding="utf-8")
        line.clock.advance(2)
        assert line.events[-1].outcome == "rejected"
        assert "4-ft-ertong.yaml" in line.events[-1].errors[0]
        assert "2-ns-renmin.yaml" in line.events[-1].errors[0]

        path.write_text(good.replace("fee: 600", "fee: 700"), encoding="utf-8")  # fixed
        line.clock.advance(2)
        assert line.events[-1].outcome == "loaded" and line.booking.platform is not before
        assert line.booking.platform.hospital("ft-ertong").departments[0].fee == 700
    finally:
        globalLogPublisher.removeObserver(logged.append)


def test_a_booking_service_that_cannot_swap_leaves_everything_as_it_was(tmp_path) -> None:
    """Booking swaps first: if it refuses, the renderer and the kiosks keep the old platform."""
    line = Platformed(tmp_path)
    line.reloader.stop()

    def refuse(platform: Any) -> None:
        raise RuntimeError("cannot change hospitals without a restart")

    renderer_saw: list[Any] = []
    line.reloader.swap = [refuse, renderer_saw.append]
    before = line.reloader.platform
    line.file("6-lh-yanke.yaml").unlink()
    [event] = Reloaders([line.reloader]).reload_all()  # SIGHUP's path
    assert event.outcome == "rejected" and "restart" in event.errors[0]
    assert renderer_saw == [] and line.reloader.platform is before
