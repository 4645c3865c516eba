"""UssdSessionStore against a real Redis: round trip, TTL, compare-and-set, cache, NOSCRIPT."""

from __future__ import annotations

from dataclasses import replace

import pytest
import pytest_twisted

from menus.types import Say, Session
from ussd.sessions import UssdRecord, UssdSessionStore

MSISDN = "8613800138000"
SESSION = Session(menu="booking", version="v1", node="dept", lang="en", msisdn=MSISDN,
                  vars={"dept": "nk", "名": "内科"}, pending=(Say("hi"),), history=("root",))
RECORD = UssdRecord(session_id="abc", session=SESSION, text="1*2", pages=("内科", "外科"),
                    page=1, ends=True, at=12.5)
GOING = replace(RECORD, ends=False)  # a dialogue still in progress


@pytest_twisted.ensureDeferred
async def test_save_then_load_round_trips_the_record(redis) -> None:
    store = UssdSessionStore(redis, keep_s=60)
    saved = await store.save("at", MSISDN, RECORD)
    assert saved is not None and saved.hop == 1
    other = UssdSessionStore(redis)  # another node: no cache, reads Redis
    loaded = await other.load("at", MSISDN)
    assert loaded == saved and loaded.session == SESSION
    assert loaded.reply == "END 外科" and loaded.final
    assert replace(loaded, page=0).reply == "CON 内科"
    assert store.key("at", MSISDN) == "hl:ussd:{at:8613800138000}"
    assert 55 <= int(await redis.ttl(store.key("at", MSISDN))) <= 60


@pytest_twisted.ensureDeferred
async def test_unknown_caller_is_none_and_creates_nothing(redis) -> None:
    store = UssdSessionStore(redis)
    assert await store.load("at", "nope") is None
    assert await redis.exists("hl:ussd:{at:nope}") in (0, False)


@pytest_twisted.ensureDeferred
async def test_save_is_compare_and_set_on_the_save_count(redis) -> None:
    store = UssdSessionStore(redis)
    first = await store.save("at", "x", RECORD)
    assert first is not None
    # a second "new record" write (expecting none) loses
    assert await store.save("at", "x", replace(RECORD, text="b")) is None
    assert store.cached("at", "x") is None  # the loser's cache is dropped: it must re-read
    won = await store.save("at", "x", replace(first, text="c"))
    assert won is not None and won.hop == 2
    assert await store.save("at", "x", replace(first, text="d")) is None
    loaded = await store.load("at", "x")
    assert loaded is not None and (loaded.text, loaded.hop) == ("c", 2)


@pytest_twisted.ensureDeferred
async def test_save_slides_the_ttl_and_caches_the_record(redis) -> None:
    store = UssdSessionStore(redis, keep_s=100)
    saved = await store.save("at", "t", GOING)
    await redis.expire(store.key("at", "t"), 3)
    assert store.cached("at", "t") == saved
    await store.save("at", "t", replace(saved, text="9"))
    assert int(await redis.ttl(store.key("at", "t"))) > 90
    store.forget("at", "t")
    assert store.cached("at", "t") is None


@pytest_twisted.ensureDeferred
async def test_scripts_reload_after_script_flush(redis) -> None:
    store = UssdSessionStore(redis)
    saved = await store.save("at", "f", RECORD)
    await redis.script_flush()
    assert await store.save("at", "f", replace(saved, text="x")) is not None


@pytest_twisted.ensureDeferred
async def test_cache_is_bounded(redis) -> None:
    store = UssdSessionStore(redis, cache_size=2)
    for name in ("a", "b", "c"):
        await store.save("at", name, GOING)
    assert store.cached("at", "a") is None and store.cached("at", "c") is not None


@pytest_twisted.ensureDeferred
async def test_an_ended_dialogue_leaves_the_cache_and_stays_in_redis(redis) -> None:
    store = UssdSessionStore(redis)
    going = await store.save("at", "e", GOING)
    assert going is not None and store.cached("at", "e") == going
    ended = await store.save("at", "e", replace(going, ends=True))
    assert ended is not None and ended.final
    assert store.cached("at", "e") is None  # the cache holds dialogues in progress only
    assert await store.load("at", "e") == ended  # a retry of the last hop still finds it
    assert store.cached("at", "e") is None


@pytest_twisted.ensureDeferred
async def test_corrupt_record_is_a_clear_error(redis) -> None:
    store = UssdSessionStore(redis)
    await redis.set(store.key("at", "bad"), "1\n{not json")
    with pytest.raises(ValueError, match="corrupt USSD session record"):
        await store.load("at", "bad")


def test_keep_must_be_positive() -> None:
    with pytest.raises(ValueError):
        UssdSessionStore(object(), keep_s=0)


@pytest_twisted.ensureDeferred
async def test_number_keys_in_the_menu_variables_are_stored_as_strings(redis) -> None:
    store = UssdSessionStore(redis)
    record = replace(RECORD, session=replace(SESSION, vars={"left": {1: "am", 2.5: "pm"}}))
    assert await store.save("at", "n", record) is not None
    loaded = await UssdSessionStore(redis).load("at", "n")
    assert loaded is not None and loaded.session.vars == {"left": {"1": "am", "2.5": "pm"}}
