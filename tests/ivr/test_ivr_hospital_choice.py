"""Choosing the hospital by phone: the Asterisk simulator calls the real FastAGI server over TCP,
the shipped menu runs on the booking twin over a small platform, and every file the call plays
must be in the sound set built for that platform (a missing hospital name is a fault: the
simulated caller hangs up). Each booking must land in the hospital the caller chose."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
import pytest_twisted
from hospital_choice_support import (
    ID_NUMBER,
    MENU,
    NOW,
    SHIPPED,
    THREE,
    dialogue,
    twin,
    write_platform,
)
from twisted.internet.task import Clock
from voice_sounds import built_sounds

from booking.catalog import load_platform
from commands.main import main
from ivr.compose import text_name
from ivr.prompt_texts import lexicons, prompt_items, voice_languages
from ivr.prompts import available_prompts, build
from ivr.server import FastAGIFactory, listen_fastagi
from ivr.simulator import place_call
from menus.definition import load_menu

PHONE = "+8613800138000"
MSISDN = "8613800138000"


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


@pytest.fixture(scope="module")
def platform_folder(tmp_path_factory) -> Any:
    """THREE's platform folder, and beside it the sound set built for it (the shipped set
    plus the platform's names)."""
    folder = tmp_path_factory.mktemp("voice")
    platform = write_platform(folder / "hospitals", THREE)
    shipped, _ = built_sounds()
    sounds = folder / "sounds"
    shutil.copytree(shipped, sounds)  # only the platform's names are new: built here
    build(prompt_items([load_menu(MENU)], platform), sounds, jobs=2)
    return folder


@pytest.fixture(scope="module")
def platform_sounds(platform_folder) -> tuple[Any, dict[str, set[str]]]:
    """THREE's platform and the names of its sound set, per language."""
    sounds = platform_folder / "sounds"
    langs = voice_languages(load_menu(MENU))
    platform = load_platform(platform_folder / "hospitals")
    return platform, {lang: available_prompts(sounds, lang) for lang in langs}


@pytest_twisted.async_yield_fixture
async def line(platform_sounds):
    platform, names = platform_sounds
    clock = Clock()
    clock.advance(NOW.timestamp())
    booking = twin(platform, clock)
    await booking.register(MSISDN, ID_NUMBER)  # a registered phone: choosing a session books
    factory = FastAGIFactory(
        dialogue(booking), clock=_reactor(), numbers={"1258012": "h2"},
        lexicons=lexicons([load_menu(MENU)], platform),  # as hotline serve has them
    )
    port = listen_fastagi(_reactor(), 0, factory)

    async def call(keys: list[str], **options: Any) -> Any:
        options.setdefault("sounds", names)
        sim = await place_call(_reactor(), port.getHost().port, keys, callerid=PHONE, **options)
        await factory.when_idle()
        assert sim.faults == [], sim.faults  # every prompt of the call was in the sound set
        assert sim.commands[-1] == "HANGUP", sim.transcript
        return sim

    yield booking, call
    await factory.when_idle()
    await port.stopListening()


async def _landed(booking: Any) -> list[str]:
    return [b.hospital_id for b in await booking.bookings_for(MSISDN)]


def _booked(sim: Any) -> bool:
    return len([d for d in sim.said_digits if len(d) == 10]) == 1


@pytest_twisted.ensureDeferred
async def test_hospital_in_the_agi_url_chooses_it(line) -> None:
    booking, call = line
    sim = await call(["1", "1", "1", "1"], menu="booking?hospital=13")  # by its code
    assert _booked(sim) and await _landed(booking) == ["h3"]


@pytest_twisted.ensureDeferred
async def test_hospital_id_in_the_agi_url_chooses_it(line) -> None:
    booking, call = line
    sim = await call(["1", "1", "1", "1"], menu="booking?hospital=h1")
    assert _booked(sim) and await _landed(booking) == ["h1"]


@pytest_twisted.ensureDeferred
async def test_the_number_dialed_chooses_the_hospital(line) -> None:
    booking, call = line
    sim = await call(["1", "1", "1", "1"], dnid="1258012")  # ivr.numbers: 1258012 -> h2
    assert _booked(sim) and await _landed(booking) == ["h2"]


@pytest_twisted.ensureDeferred
async def test_choosing_from_the_list_and_by_code(line) -> None:
    booking, call = line
    sim = await call(["1", "2", "1", "1", "1"])  # an option number: one key
    assert _booked(sim) and await _landed(booking) == ["h2"]
    booking.clock.advance(60)
    sim = await call(["2", "*11#", "2", "1", "1"])  # returning: 2 is another hospital, by code
    assert _booked(sim) and sorted(await _landed(booking)) == ["h1", "h2"]


@pytest_twisted.ensureDeferred
async def test_a_returning_caller_hears_his_hospital_first(line) -> None:
    booking, call = line
    await call(["1", "3", "1", "1", "1"])  # books at 中医院
    booking.clock.advance(60)
    sim = await call(["1", "2", "1", "1"])  # 1: 中医院 again, straight to its departments
    assert _booked(sim) and await _landed(booking) == ["h3", "h3"]


@pytest_twisted.ensureDeferred
async def test_hospital_names_are_played_from_the_sound_set(line, platform_sounds) -> None:
    _, names = platform_sounds
    _, call = line
    sim = await call(["1", "1", "1", "1", "1"])  # the list says each hospital's name
    played = {value for kind, value in sim.transcript if kind == "play"}
    for short in ("市一医院", "市二医院", "中医院"):
        assert text_name(short, "zh") in played
    shipped = {lang: available_prompts(built_sounds()[0], lang) for lang in names}
    assert text_name("中医院", "zh") not in shipped["zh"]  # the platform's build made it
    with pytest.raises(AssertionError, match=r"zh/hotline/zh/"):
        await call(["1", "1", "1", "1", "1"], sounds=shipped)  # without it: a fault


@pytest_twisted.ensureDeferred
async def test_a_platform_of_one_hospital_asks_nothing_by_phone() -> None:
    clock = Clock()
    clock.advance(NOW.timestamp())
    booking = twin(load_platform(SHIPPED), clock)
    await booking.register(MSISDN, ID_NUMBER)
    factory = FastAGIFactory(dialogue(booking), clock=_reactor())
    port = listen_fastagi(_reactor(), 0, factory)
    try:
        _, names = built_sounds()
        sim = await place_call(_reactor(), port.getHost().port, ["1", "1", "1", "1"],
                               callerid=PHONE, sounds=names, menu="booking?hospital=7")
        await factory.when_idle()
        assert sim.faults == [] and _booked(sim)  # welcome, department, date, session: booked
        assert await _landed(booking) == ["main"]
    finally:
        await port.stopListening()


def test_menus_check_takes_a_platform_folder(platform_folder, capsys) -> None:
    folder = platform_folder / "hospitals"
    args = ["menus", "check", "--prompts", str(platform_folder / "sounds"), "--catalog",
            str(folder), str(MENU)]
    assert main(args) == 0, capsys.readouterr().out
    capsys.readouterr()
    shipped, _ = built_sounds()  # built for the single hospital file: no names of these
    args[3] = str(shipped)
    assert main(args) == 1
    out = capsys.readouterr().out
    for name in ("中医院", "南山区"):  # a short name and a district, said by the menus
        assert f"zh text '{name}' has no prompt file zh/{text_name(name, 'zh')}" in out, out


def test_prompts_build_takes_several_catalogs(tmp_path) -> None:
    shipped, _ = built_sounds()
    sounds = tmp_path / "sounds"
    shutil.copytree(shipped, sounds)  # only the new names are rendered
    folder = tmp_path / "hospitals"
    write_platform(folder, THREE)
    args = ["prompts", "build", "-q", "--out", str(sounds), "--catalog", str(SHIPPED),
            "--catalog", str(folder)]
    assert main(args) == 0
    zh = available_prompts(sounds, "zh")
    assert text_name("中医院", "zh") in zh and text_name("南山区", "zh") in zh  # the folder's
    assert text_name("深圳市第一人民医院（演示）", "zh") in zh  # and the single file's


@pytest_twisted.ensureDeferred
async def test_by_phone_an_option_is_one_key_and_a_star_starts_a_code(line) -> None:
    booking, call = line
    sim = await call(["1", "*13", "1", "1", "1"])  # no # needed: 4 keys at most follow the *
    assert _booked(sim) and await _landed(booking) == ["h3"]
    assert "GET DATA silence/1 3000 4" in sim.commands  # the code's keys, after the *
    booking.clock.advance(60)
    sim = await call(["2", "2", "1", "1", "1"])  # another hospital: 2, one key, no wait
    assert _booked(sim) and sorted(await _landed(booking)) == ["h2", "h3"]
    lists = [c for c in sim.commands if c.startswith("EXEC Read") and ",5," in c]
    assert lists == []  # no list of this call waited for more than one key
    assert not [c for c in sim.commands if c.startswith("GET DATA silence/1 3000 4")]
