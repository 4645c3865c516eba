"""The one way hotline connects to Redis, so every component parses replies the same way.

Either one server (``redis.url``) or a Sentinel-monitored master (``redis.sentinel``): with
Sentinel the address of the master is asked for before every (re)connect, so after a failover the
pool reconnects to the promoted replica by itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
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


def parse_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"redis.sentinel.addresses: expected host:port, got {address!r}")
    return host, int(port)


def connect_sentinel(
    service: str, addresses: Sequence[str], *, db: int = 0, password: str | None = None,
    poolsize: int = 1, discovery_timeout: float = 1.0,
) -> tuple[Any, Any]:
    """(pool to the current master of ``service``, the Sentinel manager to disconnect later).

    While a failover is under way Sentinel knows no healthy master; txredisapi then waits
    ``discovery_timeout`` before trying again (its default of 10 s would stall every hop that long).
    """
    manager = txredisapi.Sentinel([parse_address(a) for a in addresses])
    manager.discovery_timeout = discovery_timeout
    pool = manager.master_for(
        service, dbid=db, poolsize=poolsize, password=password, convertNumbers=False
    )
    return pool, manager


def sentinel_settings(raw: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """Validated ``redis.sentinel`` section, or None when Sentinel is not configured."""
    if not raw:
        return None
    service, addresses = raw.get("service"), raw.get("addresses")
    if not isinstance(service, str) or not isinstance(addresses, list) or not addresses:
        raise ValueError("redis.sentinel needs 'service' (a name) and 'addresses' (host:port list)")
    for address in addresses:
        parse_address(str(address))
    return raw
