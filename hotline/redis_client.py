"""The one way hotline connects to Redis, so every component parses replies the same way."""

from __future__ import annotations

from urllib.parse import urlparse

import txredisapi
from twisted.internet.defer import Deferred


def connect(url: str, *, poolsize: int = 1, reconnect: bool = True) -> Deferred:
    """A txredisapi pool for ``redis://host:port/db``. Replies stay strings (no number guessing).

    One connection already pipelines hundreds of requests in flight; bigger pools measured slower.
    """
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", ""):
        raise ValueError(f"redis.url: unsupported scheme {parsed.scheme!r} (use redis://)")
    return txredisapi.ConnectionPool(
        parsed.hostname or "127.0.0.1",
        parsed.port or 6379,
        dbid=int((parsed.path or "/0").strip("/") or 0),
        poolsize=poolsize,
        reconnect=reconnect,
        password=parsed.password,
        convertNumbers=False,
    )
