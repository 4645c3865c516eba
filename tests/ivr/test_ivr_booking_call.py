"""A whole booking by phone: simulator → FastAGI → real menu → the booking service's twin."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest_twisted
from twisted.internet.task import Clock

from booking.catalog import load_catalog
from booking.idcard import check_char, is_valid_resident_id
from booking.testing import MemoryBookingService
from dialogue.effects import make_effect_runner
from ivr.server import FastAGIFactory, listen_fastagi
from ivr.simulator import HANGUP, place_call
from menus.definition import MenuSource, load_menu
from menus.driver import Dialogue

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def id_ending_in_x() -> str:
    """A valid resident ID whose check character is X (keyed as '*' on a phone)."""
    for n in range(1000):
        first17 = f"11010519800101{n:03d}"
        if check_char(first17) == "X":
            return first17 + "X"
    raise AssertionError("no X check character in range")


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


@pytest_twisted.async_yield_fixture
async def hotline_ivr():
    clock = Clock()
    clock.advance(NOW.timestamp())
    booking = MemoryBookingService(load_catalog(ROOT / "config/hospital.yaml"), clock)
    menus = MenuSource([load_menu(ROOT / "config/menus/booking.yaml")])
    dialogue = Dialogue(menus, make_effect_runner(booking), {"resident_id": is_valid_resident_id})
    factory = FastAGIFactory(dialogue, clock=_reactor())
    port = listen_fastagi(_reactor(), 0, factory)
    yield booking, clock, factory, port.getHost().port
    await factory.when_idle()
    await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_booking_by_phone_reads_back_the_tcode(hotline_ivr) -> None:
    booking, clock, factory, port = hotline_ivr
    id_number = id_ending_in_x()
    keyed = id_number[:-1] + "*"
    sim = await place_call(
        _reactor(), port, ["1", "1", "1", "1", keyed, "1"], callerid="+8613912345678"
    )
    await factory.when_idle()
    assert sim.commands[0] == "ANSWER" and sim.commands[-1] == "HANGUP"
    assert sim.events("aborted") == [] and sim.events("timeout") == []
    tcodes = [d for d in sim.said_digits if len(d) == 10]
    assert len(tcodes) == 1, sim.transcript
    assert f'SAY DIGITS {tcodes[0]} ""' in sim.commands
    clock.advance(24 * 3600)  # the kiosk verifies on the visit day (tomorrow)
    stored = await booking.verify(tcodes[0])
    assert stored.msisdn == "8613912345678"  # the caller ID became the booking's phone
    assert stored.id_number == id_number  # '*' was keyed for the X
    assert stored.dept_id == "nk"


@pytest_twisted.ensureDeferred
async def test_hangup_before_confirming_books_nothing(hotline_ivr) -> None:
    _, _, factory, port = hotline_ivr
    sim = await place_call(_reactor(), port, ["1", "1", "1", "1", HANGUP])
    await factory.when_idle()
    assert sim.events("hangup") == ["caller"]
    assert not [d for d in sim.said_digits if len(d) == 10]
    assert sim.transcript[-1] == ("closed", "")
