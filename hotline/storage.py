"""Which Redis hotline talks to: Sentinel-monitored, a URL, or an embedded redis-server."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

from hotline import redis_client
from hotline.readiness import Backoff, probe, until_ready
from hotline.redis_server import RedisProcess
from hotline.settings import Settings

log = Logger()


def start_backoff(settings: Settings) -> Backoff:
    raw = settings.raw["redis"]
    return Backoff(float(raw.get("start_backoff_initial_s", 0.5)),
                   float(raw.get("start_backoff_max_s", 30.0)))


async def _quietly(call: Callable[[], Any]) -> None:
    with contextlib.suppress(Exception):  # already gone: nothing to undo
        await defer.maybeDeferred(call)


async def open_redis(settings: Settings, stoppers: list[Callable[[], Any]], *,
                     clock: Any = None, note: Callable[[str], None] | None = None,
                     ) -> tuple[Any, str]:
    """Connect as configured once Redis takes writes (``hotline.readiness``: retried with
    backoff, each wait logged and told to ``note``); append what must be undone at stop.
    Returns (pool, description)."""
    if clock is None:
        from twisted.internet import reactor as clock
    backoff = start_backoff(settings)
    sentinel = redis_client.sentinel_settings(settings.redis_sentinel)
    if sentinel is not None:

        async def via_sentinel() -> tuple[Any, Any]:
            pool, manager = redis_client.connect_sentinel(
                str(sentinel["service"]),
                [str(a) for a in sentinel["addresses"]],
                db=int(sentinel.get("db", 0)),
                password=sentinel.get("password"),
            )
            try:
                await probe(pool)  # fail now, not on the first patient's hop
            except BaseException:
                await _quietly(pool.disconnect)
                await _quietly(manager.disconnect)
                raise
            return pool, manager

        pool, manager = await until_ready(via_sentinel, clock, backoff=backoff, note=note)
        stoppers.append(manager.disconnect)
        stoppers.append(pool.disconnect)
        return pool, f"sentinel:{sentinel['service']}"
    url = settings.redis_url
    if url is None:
        embedded = RedisProcess(data_dir=settings.data_dir / "redis", durable=True).start()
        stoppers.append(embedded.stop)
        url = embedded.url
        log.info("redis.embedded port={port} dir={dir}", port=embedded.port, dir=embedded.data_dir)

    async def direct() -> None:
        connection = await redis_client.connect(url, reconnect=False)
        try:
            await probe(connection)
        finally:
            await _quietly(connection.disconnect)

    await until_ready(direct, clock, backoff=backoff, note=note)
    pool = await redis_client.connect(url)
    stoppers.append(pool.disconnect)
    return pool, url
