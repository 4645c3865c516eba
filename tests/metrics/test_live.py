"""The whole line's figures for the console's dashboard (metrics.live): dialogues begun per
minute in Redis, whichever process counts them, and the SMS outbox and delivery."""

from __future__ import annotations

import pytest_twisted
from twisted.internet.task import Clock

import metrics
from menus.types import Session
from metrics.live import DialogueRate, rate_key, sms_figures


def session(channel: str) -> Session:
    return Session(menu="m", version="v", node="n", channel=channel, msisdn="8613800000000")


@pytest_twisted.ensureDeferred
async def test_dialogues_are_counted_per_channel_and_minute_in_redis(redis) -> None:
    clock = Clock()
    clock.advance(600 * 60 + 30)
    one, other = DialogueRate(redis, clock), DialogueRate(redis, clock)  # two processes
    one.hit(session("ussd"))
    other.hit(session("ussd"))
    one.hit(session("ivr"))
    await one.flush()
    await other.flush()
    clock.advance(60)
    other.hit(session("ivr"))
    await other.flush()
    assert await one.per_minute(5) == {"ivr": [0, 0, 0, 1, 1], "ussd": [0, 0, 0, 2, 0]}
    assert 0 < await redis.ttl(rate_key("ussd", 600)) <= 7200


@pytest_twisted.ensureDeferred
async def test_counts_wait_in_the_process_until_a_flush_adds_them_once(redis) -> None:
    clock = Clock()
    clock.advance(700 * 60)
    rate = DialogueRate(redis, clock)
    for _ in range(3):
        rate.hit(session("ussd"))
    assert await redis.get(rate_key("ussd", 700)) is None  # nothing sent per dialogue
    assert (await rate.per_minute(1))["ussd"] == [3]  # but this process shows its own at once
    await rate.flush()
    await rate.flush()  # nothing new: adds nothing
    assert int(await redis.get(rate_key("ussd", 700))) == 3
    assert (await rate.per_minute(1))["ussd"] == [3]  # not counted twice


@pytest_twisted.ensureDeferred
async def test_a_redis_error_loses_the_batch_never_the_caller() -> None:
    class Down:
        calls = 0

        async def incrby(self, key: str, count: int) -> None:
            Down.calls += 1
            raise ConnectionError("redis is down")

    rate = DialogueRate(Down(), Clock())
    rate.hit(session("ivr"))
    await rate.flush()  # logged, not raised
    await rate.flush()  # the lost batch is not sent again
    assert Down.calls == 1


@pytest_twisted.ensureDeferred
async def test_sms_figures_read_the_outbox_and_the_receipts(redis) -> None:
    before = await sms_figures(redis)
    await redis.zadd("hl:{sms}:q", 1, "a")
    metrics.F.sms_receipts.labels("DELIVRD").inc()
    metrics.F.sms_receipts.labels("UNDELIV").inc()
    after = await sms_figures(redis)
    assert after["queued"] == before["queued"] + 1
    assert after["delivered"] == before["delivered"] + 1
    assert after["receipts"] == before["receipts"] + 2
    assert after["success"] == after["delivered"] / after["receipts"]
