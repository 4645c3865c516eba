"""Which Redis hotline talks to: Sentinel-monitored, a URL, or an embedded redis-server.

``RedisService`` is the storage part of the service tree (``hotline.app``): at start it runs
the embedded redis-server when no Redis is configured, then connects once Redis takes writes
(``storage.readiness``: retried with backoff, each wait logged and told to ``note``); ``ready``
fires with the pool. At stop it closes the pool and stops the embedded server.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet import defer
from twisted.logger import Logger

from settings.schema import Settings
from storage import client as redis_client
from storage.embedded import RedisProcess
from storage.readiness import Backoff, probe, until_ready

log = Logger()


def start_backoff(settings: Settings) -> Backoff:
    raw = settings.raw["redis"]
    return Backoff(float(raw.get("start_backoff_initial_s", 0.5)),
                   float(raw.get("start_backoff_max_s", 30.0)))


async def _quietly(call: Callable[[], Any]) -> None:
    with contextlib.suppress(Exception):  # already gone: nothing to undo
        await defer.maybeDeferred(call)


class RedisService(Service):
    """Redis as configured; ``ready`` fires with the pool once it takes writes. ``url``
    describes it (an embedded server's URL is known only once it runs)."""

    name = "redis"

    def __init__(self, settings: Settings, clock: Any,
                 note: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.note = note
        self.url = ""
        self.pool: Any = None
        self.ready: defer.Deferred[Any] = defer.Deferred()
        self._embedded: RedisProcess | None = None
        self._manager: Any = None  # Sentinel's
        self._connecting: defer.Deferred[Any] | None = None

    def startService(self) -> None:
        super().startService()
        self._connecting = defer.Deferred.fromCoroutine(self._connect())
        self._connecting.chainDeferred(self.ready)

    async def _connect(self) -> Any:
        settings = self.settings
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

            self.pool, self._manager = await until_ready(via_sentinel, self.clock,
                                                         backoff=backoff, note=self.note)
            self.url = f"sentinel:{sentinel['service']}"
            return self.pool
        url = settings.redis_url
        if url is None:
            self._embedded = RedisProcess(data_dir=settings.data_dir / "redis", durable=True)
            self._embedded.start()
            url = self._embedded.url
            log.info("redis.embedded port={port} dir={dir}", port=self._embedded.port,
                     dir=self._embedded.data_dir)
        self.url = url

        async def direct() -> None:
            connection = await redis_client.connect(url, reconnect=False)
            try:
                await probe(connection)
            finally:
                await _quietly(connection.disconnect)

        await until_ready(direct, self.clock, backoff=backoff, note=self.note)
        self.pool = await redis_client.connect(url)
        return self.pool

    def stopService(self) -> defer.Deferred[None]:
        super().stopService()
        return defer.Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        if self._connecting is not None and not self._connecting.called:
            self._connecting.cancel()  # still waiting for Redis: give up the wait
            with contextlib.suppress(Exception):
                await self._connecting  # its probe connection closed
        pool, self.pool = self.pool, None
        if pool is not None:
            await _quietly(pool.disconnect)
        manager, self._manager = self._manager, None
        if manager is not None:
            await _quietly(manager.disconnect)
        embedded, self._embedded = self._embedded, None
        if embedded is not None:
            embedded.stop()
