"""The voice language a phone chose: kept in Redis, read by voice only, never in the way."""

from __future__ import annotations

import pytest_twisted

from dialogue.languages import KEEP_S, PREFIX, LanguageMemory


@pytest_twisted.ensureDeferred
async def test_a_choice_is_kept_for_the_phone_and_read_by_voice_only(redis) -> None:
    memory = LanguageMemory(redis)
    assert await memory.preferred("ivr", "8613912345678") is None
    await memory.remember("8613912345678", "yue")
    assert await memory.preferred("ivr", "8613912345678") == "yue"
    assert await memory.preferred("ussd", "8613912345678") is None  # USSD keeps its default
    assert await memory.preferred("ivr", "8613900000000") is None
    assert 0 < await redis.ttl(PREFIX + "8613912345678") <= KEEP_S
    await memory.remember("", "en")  # a withheld number has nowhere to keep it
    assert await redis.keys(PREFIX + "*") == [PREFIX + "8613912345678"]


class Broken:
    async def get(self, key: str) -> None:
        raise ConnectionError("redis away")


@pytest_twisted.ensureDeferred
async def test_a_failed_read_costs_only_the_preference() -> None:
    assert await LanguageMemory(Broken()).preferred("ivr", "8613912345678") is None
