"""Kiosks belong to hospitals, over real HTTP on 127.0.0.1: a kiosk a hospital file lists is
answered ``wrong_hospital`` for another hospital's T-code, naming that hospital and nothing
personal; with no kiosk registry (the demo) any kiosk takes every hospital's codes. Booking is the
in-memory twin over the demo platform (it speaks the protocol the Redis service speaks)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import treq
from demo_booking import NOW, valid_id
from twisted.internet.task import Clock
from twisted.web.server import Site

from booking.api import BookingRequest
from booking.catalog import load_platform
from booking.testing import MemoryBookingService
from web.kiosk import KioskAccess, platform_owners
from web.root import build_root

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 11, 26)


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


def demo_folder(tmp_path: Path, kiosks: dict[str, list[str]]) -> Path:
    """The demo hospitals, with ``kiosks`` ({file: [kiosk id]}) registered."""
    folder = tmp_path / "hospitals"
    shutil.copytree(ROOT / "config/hospitals", folder)
    for name, ids in kiosks.items():
        path = folder / name
        path.write_text(path.read_text(encoding="utf-8").replace(
            "  kiosks: []", f"  kiosks: [{', '.join(ids)}]"), encoding="utf-8")
    return folder


class Kiosks:
    """The kiosk API on a real port over ``folder``'s platform, and two bookings in it."""

    def __init__(self, folder: Path, settings: dict[str, Any]) -> None:
        self.clock = Clock()
        self.clock.advance(NOW.timestamp())
        self.booking = MemoryBookingService(load_platform(folder), self.clock)
        access = replace(KioskAccess.from_settings(settings),
                         owners=platform_owners(lambda: self.booking.platform))
        self.port = reactor().listenTCP(0, Site(build_root(self.booking, _ping,
                                                           kiosk_access=access)),
                                        interface="127.0.0.1")

    async def book(self, hospital: str, dept: str, n: int) -> Any:
        return await self.booking.book(BookingRequest(
            dept, DAY, "am", valid_id(n), f"861390013{n:04d}", "ussd", hospital_id=hospital))

    async def ask(self, what: str, tcode: str, kiosk: str) -> tuple[int, dict]:
        url = f"http://127.0.0.1:{self.port.getHost().port}/api/kiosk/{what}"
        response = await treq.post(url, data=json.dumps({"tcode": tcode, "kiosk_id": kiosk})
                                    .encode())
        return response.code, json.loads(await response.text("utf-8"))


async def _ping() -> bool:
    return True


@pytest_twisted.async_yield_fixture
async def registered(tmp_path):
    folder = demo_folder(tmp_path, {"1-sz-renmin.yaml": ["sz-lobby-1", "sz-lobby-2"],
                                    "2-ns-renmin.yaml": ["ns-lobby-1"]})
    kiosks = Kiosks(folder, {"kiosk": {"ids": ["shared-1"]}})
    yield kiosks
    await kiosks.port.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_hospitals_kiosk_names_the_hospital_of_another_hospitals_code(registered) -> None:
    at_nanshan = await registered.book("ns-renmin", "nk", 1)
    at_renmin = await registered.book("sz-renmin", "nk", 2)
    registered.clock.advance(22 * 3600)  # the visit day, 08:00: check-in is open

    for what in ("verify", "check-in"):
        status, body = await registered.ask(what, at_nanshan.tcode, "sz-lobby-1")
        assert status == 409 and body["error"]["code"] == "wrong_hospital", body
        message = body["error"]["message"]
        assert "南山区人民医院" in message and "Nanshan" in message
        text = json.dumps(body, ensure_ascii=False)
        for personal in (at_nanshan.id_number, at_nanshan.msisdn, at_nanshan.id_number[-4:]):
            assert personal not in text

    status, body = await registered.ask("check-in", at_renmin.tcode, "sz-lobby-2")
    assert status == 200 and body["booking"]["hospital"] == "sz-renmin"
    assert body["booking"]["hospital_name"]["zh"] == "深圳市第一人民医院（演示）"
    # its own hospital's kiosk checks the other in
    status, body = await registered.ask("check-in", at_nanshan.tcode, "ns-lobby-1")
    assert status == 200 and body["booking"]["status"] == "checked_in"


@pytest_twisted.ensureDeferred
async def test_unlisted_kiosks_are_refused_and_a_shared_kiosk_serves_every_hospital(
        registered) -> None:  # fmt: skip
    at_nanshan = await registered.book("ns-renmin", "nk", 3)
    registered.clock.advance(22 * 3600)
    status, body = await registered.ask("verify", at_nanshan.tcode, "stray-kiosk")
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body = await registered.ask("verify", at_nanshan.tcode, "shared-1")  # kiosk.ids
    assert status == 200 and body["booking"]["tcode"] == at_nanshan.tcode


@pytest_twisted.ensureDeferred
async def test_without_a_registry_any_kiosk_takes_every_hospitals_codes(tmp_path) -> None:
    kiosks = Kiosks(demo_folder(tmp_path, {}), {})  # the demo: no kiosks anywhere
    try:
        codes = [(await kiosks.book(h, d, n)).tcode for n, (h, d) in
                 enumerate([("ns-renmin", "nk"), ("ft-ertong", "xenk"), ("sz-renmin", "ek")])]
        kiosks.clock.advance(22 * 3600)
        for code in codes:
            status, body = await kiosks.ask("check-in", code, "any-kiosk")
            assert status == 200 and body["booking"]["status"] == "checked_in", body
    finally:
        await kiosks.port.stopListening()


def test_the_owners_follow_a_reloaded_platform(tmp_path) -> None:
    before = load_platform(demo_folder(tmp_path / "a", {"1-sz-renmin.yaml": ["k1"]}))
    after = load_platform(demo_folder(tmp_path / "b", {"2-ns-renmin.yaml": ["k1", "k2"]}))
    current = [before]
    owners = platform_owners(lambda: current[0])
    assert owners() == {"k1": "sz-renmin"}
    current[0] = after
    assert owners() == {"k1": "ns-renmin", "k2": "ns-renmin"}


@pytest.mark.parametrize("kiosks", [{}, {"1-sz-renmin.yaml": ["k1"]}])
def test_admission_counts_the_hospitals_kiosks_as_a_registry(tmp_path, kiosks) -> None:
    platform = load_platform(demo_folder(tmp_path, kiosks))
    owners = platform_owners(lambda: platform)
    access = replace(KioskAccess(), owners=owners)
    assert access.admits("k1", None)
    assert access.admits("k9", None) is (not kiosks)  # a registry: unknown kiosks refused
