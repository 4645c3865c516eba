"""UssdSessionStore against a real Redis: round trip, TTL, compare-and-set, NOSCRIPT reload."""

from __future__ import annotations

import pytest
import pytest_twisted

from menus.types import Say, Session
from ussd.sessions import UssdSessionStore

SESSION = Session(menu="booking", version="v1", node="dept", lang="en", msisdn="8613800138000",
                  vars={"dept": "nk", "名": "内科"}, pending=(Say("hi"),), history=("root",))


@pytest_twisted.ensureDeferred
async def test_save_then_load_round_trips_the_session(redis) -> None:
    store = UssdSessionStore(redis, ttl_s=60)
    saved = await store.save("at", "abc", SESSION, "1*2", "CON 内科", expected_hop=0)
    assert saved is not None and saved.hop == 1
    loaded = await store.load("at", "abc")
    assert loaded == saved
    assert loaded.session == SESSION
    assert store.key("at", "abc") == "hl:ussd:{at:abc}"
    assert 55 <= int(await redis.ttl("hl:ussd:{at:abc}")) <= 60


@pytest_twisted.ensureDeferred
async def test_unknown_session_is_none_and_creates_nothing(redis) -> None:
    store = UssdSessionStore(redis)
    assert await store.load("at", "nope") is None
    assert await redis.exists("hl:ussd:{at:nope}") in (0, False)


@pytest_twisted.ensureDeferred
async def test_save_is_compare_and_set_on_the_hop(redis) -> None:
    store = UssdSessionStore(redis)
    assert await store.save("at", "x", SESSION, "", "CON a", expected_hop=0) is not None
    # a second "new session" write for the same id loses
    assert await store.save("at", "x", SESSION, "", "CON b", expected_hop=0) is None
    won = await store.save("at", "x", SESSION, "1", "CON c", expected_hop=1)
    assert won is not None and won.hop == 2
    assert await store.save("at", "x", SESSION, "2", "CON d", expected_hop=1) is None
    loaded = await store.load("at", "x")
    assert loaded is not None and (loaded.text, loaded.reply, loaded.hop) == ("1", "CON c", 2)


@pytest_twisted.ensureDeferred
async def test_load_slides_the_ttl(redis) -> None:
    store = UssdSessionStore(redis, ttl_s=100)
    await store.save("at", "t", SESSION, "", "CON a", expected_hop=0)
    await redis.expire(store.key("at", "t"), 3)
    await store.load("at", "t")
    assert int(await redis.ttl(store.key("at", "t"))) > 90


@pytest_twisted.ensureDeferred
async def test_scripts_reload_after_script_flush(redis) -> None:
    store = UssdSessionStore(redis)
    await store.save("at", "f", SESSION, "", "CON a", expected_hop=0)
    await redis.script_flush()
    assert (await store.load("at", "f")) is not None
    assert await store.save("at", "f", SESSION, "1", "CON b", expected_hop=1) is not None


@pytest_twisted.ensureDeferred
async def test_corrupt_record_is_a_clear_error(redis) -> None:
    store = UssdSessionStore(redis)
    await redis.hset(store.key("at", "bad"), "s", "{not json")
    with pytest.raises(ValueError, match="corrupt USSD session record"):
        await store.load("at", "bad")


def test_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError):
        UssdSessionStore(object(), ttl_s=0)
