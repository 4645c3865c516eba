"""A caller's registered IDs are read when the dialogue begins; the "book" step takes that read.

Real Redis; how many reads Redis served is taken from its own INFO commandstats."""

from __future__ import annotations

from pathlib import Path

import pytest_twisted
from demo_booking import demo_service, valid_id

from booking import keys
from dialogue.effects import booking_dialogue, make_effect_runner
from dialogue.prefetch import CallerPrefetch
from hotline.app import VALIDATORS
from menus.definition import MenuSource, load_menu
from menus.types import Digits, Effect, Session

ROOT = Path(__file__).resolve().parents[2]
PHONE = "8613900000001"


def caller(msisdn: str = PHONE) -> Session:
    return Session(menu="booking", version="v", node="n", channel="ivr", msisdn=msisdn, lang="zh")


async def smembers_served(redis) -> int:
    """SMEMBERS calls Redis has served so far (its own count; the server outlives tests)."""
    await redis.ping()  # replies come in order: every read sent before this one is answered
    info = await redis.execute_command("INFO", "commandstats")
    for line in str(info).splitlines():
        if line.startswith("cmdstat_smembers:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


@pytest_twisted.ensureDeferred
async def test_the_lookup_started_at_begin_is_taken_once_without_a_new_read(redis) -> None:
    booking, clock = demo_service(redis)
    await booking.register(PHONE, valid_id(1))
    prefetch = CallerPrefetch(booking, clock)
    run = make_effect_runner(booking, prefetch=prefetch)
    prefetch.begin(caller())
    before = await smembers_served(redis)  # the prefetch's read has been answered
    found = await run(Effect("registered_ids", {}), caller())
    assert [i["id"] for i in found.value] == [valid_id(1)]
    assert await smembers_served(redis) == before  # taken from the prefetch
    await run(Effect("registered_ids", {}), caller())
    assert await smembers_served(redis) == before + 1  # used once: the next lookup reads


@pytest_twisted.ensureDeferred
async def test_a_registration_drops_the_prefetched_ids(redis) -> None:
    booking, clock = demo_service(redis)
    prefetch = CallerPrefetch(booking, clock)
    run = make_effect_runner(booking, prefetch=prefetch)
    prefetch.begin(caller())  # reads: no IDs yet
    assert (await run(Effect("register", {"id_number": valid_id(2)}), caller())).ok
    found = await run(Effect("registered_ids", {}), caller())
    assert [i["id"] for i in found.value] == [valid_id(2)]


@pytest_twisted.ensureDeferred
async def test_an_old_prefetch_is_not_used_and_old_ones_are_let_go(redis) -> None:
    booking, clock = demo_service(redis)
    prefetch = CallerPrefetch(booking, clock, keep_s=30.0)
    run = make_effect_runner(booking, prefetch=prefetch)
    prefetch.begin(caller())
    await smembers_served(redis)
    await booking.register(PHONE, valid_id(3))  # elsewhere, after the prefetch
    clock.advance(31)
    found = await run(Effect("registered_ids", {}), caller())
    assert [i["id"] for i in found.value] == [valid_id(3)]  # read afresh
    for n in range(5):
        prefetch.begin(caller(f"86139000001{n:02d}"))
    clock.advance(31)
    prefetch.begin(caller("8613900000200"))
    assert list(prefetch._reads) == ["8613900000200"]  # callers who never asked are dropped


@pytest_twisted.ensureDeferred
async def test_a_failed_prefetch_falls_back_to_a_fresh_read(redis, logged_errors) -> None:
    booking, clock = demo_service(redis)
    prefetch = CallerPrefetch(booking, clock)
    run = make_effect_runner(booking, prefetch=prefetch)
    phone_key = keys.PLATFORM.phone_ids(PHONE)
    await redis.set(phone_key, "not a set")  # SMEMBERS fails for real: WRONGTYPE
    prefetch.begin(caller())
    await smembers_served(redis)
    await redis.delete(phone_key)
    await booking.register(PHONE, valid_id(4))
    found = await run(Effect("registered_ids", {}), caller())
    assert [i["id"] for i in found.value] == [valid_id(4)]
    assert logged_errors == []  # a warning, and no unhandled error in a Deferred


@pytest_twisted.ensureDeferred
async def test_the_shipped_menu_books_for_a_registered_caller_on_one_read(redis) -> None:
    """Dial, then "1" (book): the dialogue as serve wires it reads the caller's IDs once, at
    the start, and the caller is offered departments for that ID without keying it."""
    booking, clock = demo_service(redis)
    await booking.register(PHONE, valid_id(5))
    menus = MenuSource([load_menu(ROOT / "config/menus/booking.yaml")])
    dialogue = booking_dialogue(menus, booking, clock, VALIDATORS)
    before = await smembers_served(redis)
    session, _ = await dialogue.begin("booking", channel="ivr", msisdn=PHONE, lang="zh")
    assert await smembers_served(redis) == before + 1  # read while the welcome plays
    session, output = await dialogue.resume(session, Digits("1"))
    assert session.vars.get("id_number") == valid_id(5)
    assert "科室" in output.text()
    assert await smembers_served(redis) == before + 1
