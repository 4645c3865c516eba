"""Which Redis hotline talks to: Sentinel-monitored, a URL, or an embedded redis-server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.logger import Logger

from hotline import redis_client
from hotline.redis_server import RedisProcess
from hotline.settings import Settings

log = Logger()


async def open_redis(settings: Settings, stoppers: list[Callable[[], Any]]) -> tuple[Any, str]:
    """Connect as configured; append what must be undone at stop. Returns (pool, description)."""
    sentinel = redis_client.sentinel_settings(settings.redis_sentinel)
    if sentinel is not None:
        pool, manager = redis_client.connect_sentinel(
            str(sentinel["service"]),
            [str(a) for a in sentinel["addresses"]],
            db=int(sentinel.get("db", 0)),
            password=sentinel.get("password"),
        )
        stoppers.append(manager.disconnect)
        stoppers.append(pool.disconnect)
        await pool.ping()  # fail the start now, not on the first patient's hop
        return pool, f"sentinel:{sentinel['service']}"
    url = settings.redis_url
    if url is None:
        embedded = RedisProcess(data_dir=settings.data_dir / "redis", durable=True).start()
        stoppers.append(embedded.stop)
        url = embedded.url
        log.info("redis.embedded port={port} dir={dir}", port=embedded.port, dir=embedded.data_dir)
    pool = await redis_client.connect(url)
    stoppers.append(pool.disconnect)
    return pool, url
