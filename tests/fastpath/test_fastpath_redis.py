"""``fastpath.redis`` against a real server, and ``storage.client`` choosing it or stock
txredisapi by the switch. (What the Redis connection does on both paths: test_redis_client.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_twisted
import txredisapi
from twisted.internet import defer, reactor
from twisted.internet.task import deferLater

import fastpath
import fastpath.redis
from metrics import REGISTRY
from storage.client import connect


@pytest_twisted.async_yield_fixture
async def fast_redis(fast_path_on: None, redis_url: str) -> AsyncIterator[Any]:
    conn = await connect(redis_url, reconnect=False)
    await conn.flushdb()
    yield conn
    await conn.disconnect()


@pytest_twisted.ensureDeferred
async def test_a_request_leaves_before_the_reactor_turn_ends(fast_redis: Any) -> None:
    """The first request of a reactor turn is on the socket when the command returns; the rest
    of that turn's burst waits in Twisted's buffer and leaves in one send. A burst bigger than
    the socket takes still arrives whole and in order."""
    redis = fast_redis
    transport = redis._factory.pool[0].transport
    await deferLater(reactor, 0, lambda: None)  # a fresh reactor turn
    answer = redis.set("k", "v")
    assert transport.dataBuffer == b"" and not transport._tempDataBuffer
    second = redis.get("k")  # the same turn: buffered, to leave with the rest of the burst
    assert transport._tempDataBuffer
    assert await answer == "OK" and await second == "v"
    burst = [redis.set(f"big{i}", "x" * 200_000) for i in range(20)]
    reads = [redis.execute_command("STRLEN", f"big{i}") for i in range(20)]
    assert await defer.gatherResults(burst) == ["OK"] * 20
    assert await defer.gatherResults(reads) == [200_000] * 20




@pytest_twisted.ensureDeferred
async def test_a_lean_command_times_and_raises_in_one_callback(fast_redis: Any) -> None:
    """Per command one callback on the reply's Deferred times it and raises an error reply;
    the reply and the error still reach the caller as before."""
    redis = fast_redis
    await redis.set("hl:t:one", "v")
    before = _roundtrips()
    answer = redis.get("hl:t:one")
    assert len(answer.callbacks) == 1
    assert await answer == "v"
    wrong = redis.execute_command("LPUSH", "hl:t:one", "x")  # a string key: WRONGTYPE
    with pytest.raises(txredisapi.ResponseError, match="WRONGTYPE"):
        await wrong
    assert _roundtrips() == before + 2  # the error reply is timed too


@pytest.mark.parametrize("on", [True, False])
@pytest_twisted.ensureDeferred
async def test_the_switch_picks_the_lean_client_or_stock_txredisapi(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, on: bool
) -> None:
    monkeypatch.setattr(fastpath, "_on", fastpath.PIECES if on else frozenset({"send", "http"}))
    conn = await connect(redis_url, reconnect=False)
    try:
        protocol = conn._factory.pool[0]
        assert isinstance(protocol, fastpath.redis.Protocol) is on
        assert isinstance(protocol, txredisapi.RedisProtocol)
        assert isinstance(conn, fastpath.redis.Handler) is on
        before = _roundtrips()
        assert await conn.set("hl:t:switch", "1") == "OK"
        assert _roundtrips() == before + 1  # timed on both paths (hotline_redis_roundtrip)
    finally:
        await conn.disconnect()


def _roundtrips() -> float:
    value = REGISTRY.get_sample_value("hotline_redis_roundtrip_seconds_count")
    return value or 0.0
