"""The one way hotline connects to Redis, so every component parses replies the same way.

Either one server (``redis.url``) or a Sentinel-monitored master (``redis.sentinel``): with
Sentinel the address of the master is asked for before every (re)connect, so after a failover the
pool reconnects to the promoted replica by itself.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

import txredisapi
from twisted.internet.defer import Deferred

import fastpath.redis
from fastpath import enabled
from metrics import redis_roundtrip


class _Plain(txredisapi.RedisProtocol):  # type: ignore[misc]
    """Stock txredisapi, with Nagle off and each command's round trip timed."""

    def connectionMade(self) -> Any:
        _no_delay(self.transport)
        return super().connectionMade()

    def execute_command(self, *args: Any, **kwargs: Any) -> Deferred:
        timed = not (self.pipelining or self.inMulti)  # as the fast path times them
        result = super().execute_command(*args, **kwargs)
        if timed and isinstance(result, Deferred):
            result.addBoth(_timed, time.perf_counter())
        return result


class _Fast(fastpath.redis.Protocol):
    """The fast path's protocol (``fastpath.redis``), with Nagle off."""

    roundtrip = staticmethod(redis_roundtrip)

    def connectionMade(self) -> Any:
        _no_delay(self.transport)
        return super().connectionMade()


def _no_delay(transport: Any) -> None:
    # Requests are small and many are in flight: without TCP_NODELAY each one waits for the
    # ACK of the one before (Nagle), as redis-py and hiredis also avoid.
    set_nodelay = getattr(transport, "setTcpNoDelay", None)
    if set_nodelay is not None:
        set_nodelay(True)


def _timed(result: Any, started: float) -> Any:
    redis_roundtrip(time.perf_counter() - started)
    return result


class _PlainFactory(txredisapi.RedisFactory):  # type: ignore[misc]
    protocol = _Plain


class _FastFactory(txredisapi.RedisFactory):  # type: ignore[misc]
    protocol = _Fast


def connect(url: str, *, poolsize: int = 1, reconnect: bool = True) -> Deferred:
    """A txredisapi pool for ``redis://host:port/db``. Replies stay strings (no number guessing).

    One connection already pipelines hundreds of requests in flight; bigger pools measured slower.
    Built like ``txredisapi.ConnectionPool``; with the fast path's ``redis`` piece on, with its
    leaner protocol and handle (``fastpath.redis``).
    """
    from twisted.internet import reactor
    from twisted.internet.endpoints import HostnameEndpoint

    parsed = urlparse(url)
    if parsed.scheme not in ("redis", ""):
        raise ValueError(f"redis.url: unsupported scheme {parsed.scheme!r} (use redis://)")
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    fast = enabled("redis")
    factory = (_FastFactory if fast else _PlainFactory)(
        f"{host}:{port}",
        int((parsed.path or "/0").strip("/") or 0),
        poolsize,
        isLazy=False,
        handler=fastpath.redis.Handler if fast else txredisapi.ConnectionHandler,
        charset="utf-8",
        password=parsed.password,
        replyTimeout=None,
        convertNumbers=False,
    )
    factory.reconnect = reconnect
    factory.startConnecting(HostnameEndpoint(reactor, host, port))
    return factory.deferred


def redacted_url(url: str) -> str:
    """``url`` with its password (``redis://:secret@host``) replaced by ``***``, for logs."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    host = parsed.netloc.rpartition("@")[2]
    return parsed._replace(netloc=f"{parsed.username or ''}:***@{host}").geturl()


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
