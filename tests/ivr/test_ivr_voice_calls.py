"""Booking calls that must be heard: the strict Asterisk stand-in plays only built files.

Simulator → FastAGI → the shipped menu → the real effects and Redis booking, with the sound set
``hotline prompts build`` makes for real (espeak-ng + sox): any file a call asks for that is not
built is a fault (``AsteriskSimulator(sounds=…)``), in Mandarin, English and Cantonese.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_twisted
from twisted.internet.task import Clock

from booking.catalog import load_catalog
from booking.idcard import is_valid_resident_id
from booking.testing import MemoryBookingService
from dialogue.effects import booking_dialogue
from dialogue.languages import PREFIX, LanguageMemory
from ivr.prompt_texts import lexicons
from ivr.server import FastAGIFactory, listen_fastagi
from ivr.simulator import place_call
from menus.definition import MenuSource, load_menu
from tests.ivr.voice_sounds import CATALOG, MENU, built_sounds

NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
ID = "11010519491231002X"
KEYED = ID[:-1] + "*"
CALLER = "+8613912345678"


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


@pytest.fixture(scope="module")
def sounds() -> dict[str, set[str]]:
    return built_sounds()[1]


@pytest_twisted.async_yield_fixture
async def line(redis):
    clock = Clock()
    clock.advance(NOW.timestamp())
    catalog = load_catalog(CATALOG)
    booking = MemoryBookingService(catalog, clock)  # the point is the sound set, not Redis
    menus = MenuSource([load_menu(MENU)])
    dialogue = booking_dialogue(
        menus, booking, clock, {"resident_id": is_valid_resident_id},
        languages=LanguageMemory(redis),
    )  # fmt: skip
    lex = lexicons(menus.definitions.values(), catalog)  # as hotline serve wires it
    factory = FastAGIFactory(dialogue, clock=_reactor(), lexicons=lex)
    port = listen_fastagi(_reactor(), 0, factory)
    yield booking, redis, factory, port.getHost().port
    await factory.when_idle()
    await port.stopListening()


async def _call(line, script, sounds, **kw) -> Any:
    _, _, factory, port = line
    sim = await place_call(_reactor(), port, script, callerid=CALLER, sounds=sounds, **kw)
    await factory.when_idle()
    return sim


def _booked(sim) -> list[str]:
    return [d for d in sim.said_digits if len(d) == 10]


@pytest.mark.parametrize(
    ("lang", "menu", "script"),
    [
        ("zh", "booking", ["1", "1", "1", "1", KEYED, "1"]),
        ("en", "booking?lang=en", ["1", "1", "1", "1", KEYED, "1"]),
        ("yue", "booking", ["8", "1", "1", "1", "1", KEYED, "1"]),  # 8: 粤语服务
    ],
)
@pytest_twisted.ensureDeferred
async def test_a_booking_call_plays_only_built_files(line, sounds, lang, menu, script) -> None:
    records: list[Any] = []
    line[2].on_record = records.append
    sim = await _call(line, script, sounds, menu=menu)
    assert sim.faults == [], sim.format_transcript()
    assert records[0].invalid == 0 and records[0].result == "completed"  # choosing yue is valid
    assert len(_booked(sim)) == 1, sim.format_transcript()
    assert sim.commands[-1] == "HANGUP" and sim.events("aborted") == []
    assert sim.variables.get("CHANNEL(language)", "zh") == lang
    played = sim.played
    assert all(name in sounds[lang] or name == "silence/1" for name in played[-20:])
    # the read-back is heard: the weekday and the session are words, the ID tail digits
    assert "hotline/words/weekday_" in " ".join(played) or lang == "en"
    assert "letters/x" in played and ("hotline/words/am" in played or lang == "en")


@pytest_twisted.ensureDeferred
async def test_cantonese_is_remembered_for_the_next_call(line, sounds) -> None:
    _, redis, _, _ = line
    first = await _call(line, ["8", "9", "2"], sounds)  # choose Cantonese, hear it, my bookings
    assert first.faults == [], first.format_transcript()
    assert (await redis.get(PREFIX + "8613912345678")) in ("yue", b"yue")
    again = await _call(line, ["2"], sounds)
    assert again.faults == []
    answer = again.commands.index("ANSWER")
    assert again.commands[answer + 1] == "SET VARIABLE CHANNEL(language) yue"


@pytest_twisted.ensureDeferred
async def test_a_file_missing_from_the_sound_set_fails_the_call(line, sounds) -> None:
    gone = {lang: names - {"hotline/words/weekday_6", "hotline/words/weekday_0",
                           "hotline/words/weekday_1", "hotline/words/weekday_2",
                           "hotline/words/weekday_3", "hotline/words/weekday_4",
                           "hotline/words/weekday_5"}
            for lang, names in sounds.items()}  # fmt: skip
    strict = await _call(line, ["1", "1", "1", "1", KEYED, "1"], gone)
    assert strict.faults and strict.faults[0].startswith("zh/hotline/words/weekday_")
    assert _booked(strict) == [] and strict.events("hangup")[:1] == ["caller"]
    lenient = await _call(line, ["1", "1", "1", "1", KEYED, "1"], gone, lenient=True)
    assert lenient.faults == [] and len(_booked(lenient)) == 1  # Asterisk would go on
