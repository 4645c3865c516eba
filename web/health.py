"""``GET /healthz``: whether this process can reach Redis (load balancers and operators ask)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

from twisted.internet.defer import Deferred
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from web.jsonapi import write_json


class Health(Resource):
    """``GET /healthz``: 200 when Redis answers a PING, 503 otherwise; ``pid`` says which
    process of the node answered (``node.workers``)."""

    isLeaf = True

    def __init__(self, ping: Callable[[], Awaitable[object]]) -> None:
        super().__init__()
        self.ping = ping

    def render_GET(self, request: Request) -> object:
        async def run() -> None:
            try:
                await self.ping()
                write_json(request, 200, {"status": "ok", "redis": "ok", "pid": os.getpid()})
            except Exception as exc:
                body = {"status": "degraded", "redis": str(exc)[:200], "pid": os.getpid()}
                write_json(request, 503, body)

        Deferred.fromCoroutine(run())
        return NOT_DONE_YET
