"""hotline's Redis connection against a real server: the lean encoder, the direct command path,
and a password in ``redis.url`` (used, never logged)."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import defer, reactor
from twisted.logger import formatEvent, globalLogPublisher
from txredisapi import ResponseError

from hotline.app import start
from settings.schema import load_settings
from storage.embedded import RedisProcess, free_port


@pytest_twisted.ensureDeferred
async def test_arguments_of_every_type_reach_redis_unchanged(redis) -> None:
    await redis.set("hl:t:text", "挂号 ✓ \r\n *3 $5")  # RESP framing characters inside a value
    await redis.set("hl:t:bytes", b"\x00\xff raw")
    await redis.set("hl:t:int", 42)
    await redis.set("hl:t:float", 1.5)
    assert await redis.get("hl:t:text") == "挂号 ✓ \r\n *3 $5"
    assert await redis.get("hl:t:int") == "42"
    assert float(await redis.get("hl:t:float")) == 1.5
    assert await redis.execute_command("STRLEN", "hl:t:bytes") == 6


@pytest_twisted.ensureDeferred
async def test_scripts_get_their_keys_and_arguments_in_order(redis) -> None:
    script = "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #ARGV}"
    got = await redis.eval(script, keys=["hl:a", "hl:{x}b"], args=["", "三"])
    assert got == ["hl:a", "hl:{x}b", "", "三", 2]


@pytest_twisted.ensureDeferred
async def test_many_commands_in_flight_answer_in_order(redis) -> None:
    replies = await defer.gatherResults(
        [redis.incr("hl:t:counter") for _ in range(500)] + [redis.get("hl:t:counter")]
    )
    assert replies[:500] == list(range(1, 501))
    assert replies[500] == "500"


@pytest_twisted.ensureDeferred
async def test_errors_come_back_as_failures_and_the_connection_stays_usable(redis) -> None:
    await redis.set("hl:t:s", "x")
    with pytest.raises(ResponseError):
        await redis.incr("hl:t:s")
    assert await redis.get("hl:t:s") == "x"


@pytest_twisted.ensureDeferred
async def test_transactions_still_reserve_their_connection(redis) -> None:
    tx = await redis.multi()
    await tx.set("hl:t:a", "1")
    await tx.incr("hl:t:b")
    assert await tx.commit() == ["OK", 1]
    assert await redis.mget(["hl:t:a", "hl:t:b"]) == ["1", "1"]



def test_connections_send_without_nagle_delay(redis) -> None:
    import socket

    connection = redis._factory.pool[0]
    handle = connection.transport.getHandle()
    assert handle.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


@pytest_twisted.ensureDeferred
async def test_a_password_in_the_url_authenticates_and_never_reaches_the_log(tmp_path) -> None:
    secret = "s3cret-pw"
    server = RedisProcess(data_dir=tmp_path / "redis", port=free_port(), durable=False,
                          extra_args=["--requirepass", secret]).start()
    url = f"redis://:{secret}@127.0.0.1:{server.port}/0"
    logged: list[dict] = []
    globalLogPublisher.addObserver(logged.append)
    try:
        settings = load_settings(Path(__file__).parents[2] / "config/hotline.yaml", {
            "redis": {"url": url}, "http": {"port": 0}, "ivr": {"fastagi": {"port": 0}},
            "data_dir": str(tmp_path / "data")})
        running = await start(settings, reactor)
        try:
            assert await running.booking.redis.ping() == "PONG"  # authenticated with it
        finally:
            await running.stop()
    finally:
        globalLogPublisher.removeObserver(logged.append)
        server.stop()
    lines = [formatEvent(e) for e in logged]
    assert not [line for line in lines if secret in line]
    started = [line for line in lines if line.startswith("hotline.started")]
    assert started and f"redis=redis://:***@127.0.0.1:{server.port}/0" in started[0]
