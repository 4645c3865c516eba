"""The one way hotline connects to Redis, so every component parses replies the same way.

Either one server (``redis.url``) or a Sentinel-monitored master (``redis.sentinel``): with
Sentinel the address of the master is asked for before every (re)connect, so after a failover the
pool reconnects to the promoted replica by itself.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

import txredisapi
from twisted.internet import defer
from twisted.internet.defer import Deferred

from hotline.metrics import redis_roundtrip
from ivr.sendnow import send_first_write_now


class _Protocol(txredisapi.RedisProtocol):  # type: ignore[misc]
    """txredisapi's protocol (hiredis reader) with a leaner request encoder.

    The stock encoder type-checks and re-encodes every argument several times; for booking's
    scripts (a dozen keys and arguments) that was a visible share of a USSD hop's CPU.
    """

    def connectionMade(self) -> Any:
        # Requests are small and many are in flight: without TCP_NODELAY each one waits for the
        # ACK of the one before (Nagle), as redis-py and hiredis also avoid.
        set_nodelay = getattr(self.transport, "setTcpNoDelay", None)
        if set_nodelay is not None:
            set_nodelay(True)
        # The first request of a reactor turn leaves at once instead of at the end of the turn:
        # on a busy node a booking's EVALSHA otherwise waits behind every other event of that
        # turn. The rest of a burst still leaves together, in one send.
        send_first_write_now(self.transport, self.callLater)
        return super().connectionMade()

    def execute_command(self, *args: Any, **kwargs: Any) -> Deferred:
        """One Deferred per command, handed the reply directly. The stock path makes three
        (the reply queue's, the result, and one chaining them) for every command; it still runs
        for anything unusual: pipelines, MULTI, reply timeouts, post-processing, and replies
        that arrived with nobody waiting."""
        queue = self.replyQueue
        if kwargs or self.pipelining or self.inMulti or self.replyTimeout or queue.pending:
            return super().execute_command(*args, **kwargs)
        if not self.connected:
            raise txredisapi.ConnectionError("Not connected")
        command = self._build_command(*args)
        result: Deferred = Deferred()
        result.addCallback(self.handle_reply)  # an error reply arrives as an exception value
        result.addBoth(_timed, time.perf_counter())  # hotline_redis_roundtrip_seconds
        # waiting before the write, which may send at once: no reply can come before its waiter
        queue.waiting.append(result)  # replyReceived -> queue.put fires the oldest waiter
        try:
            self.transport.write(command)
        except BaseException:
            queue.waiting.remove(result)
            raise
        return result

    def _build_command(self, *args: Any, **_kwargs: Any) -> bytes:
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            if isinstance(arg, str):
                data = arg.encode(self.charset, self.errors)
            elif isinstance(arg, bytes):
                data = arg
            else:  # numbers, bytearray: the library's own rules
                data = self._encode_value(arg)
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        return b"".join(parts)


def _timed(result: Any, started: float) -> Any:
    redis_roundtrip(time.perf_counter() - started)
    return result


class _Handler(txredisapi.ConnectionHandler):  # type: ignore[misc]
    """txredisapi's pool handle, with a direct path for commands that do not hold a connection.

    The stock handle waits on a Deferred for a connection (an inlineCallbacks generator and two
    Deferreds per command) even when one is connected and idle. Here a connected one is used at
    once; only while none is connected, and for the commands that reserve a connection
    (MULTI/WATCH, blocking pops), does the stock path run. Wrappers are built once per name.
    """

    def __getattr__(self, method: str) -> Callable[..., Deferred]:
        protocol_method = getattr(self._factory.protocol, method)
        stock = super().__getattr__(method)
        if getattr(protocol_method, "_blocking", False):
            return stock
        queue = self._factory.connectionQueue

        def call(*args: Any, **kwargs: Any) -> Deferred:
            pending = queue.pending
            if pending:
                connection = pending[0] if len(pending) == 1 else random.choice(pending)
                if connection.connected:
                    try:
                        return protocol_method(connection, *args, **kwargs)
                    except Exception:
                        return defer.fail()
            return stock(*args, **kwargs)

        self.__dict__[method] = call
        return call


class _Factory(txredisapi.RedisFactory):  # type: ignore[misc]
    protocol = _Protocol


def connect(url: str, *, poolsize: int = 1, reconnect: bool = True) -> Deferred:
    """A txredisapi pool for ``redis://host:port/db``. Replies stay strings (no number guessing).

    One connection already pipelines hundreds of requests in flight; bigger pools measured slower.
    Built like ``txredisapi.ConnectionPool`` but with the leaner protocol and handle above.
    """
    from twisted.internet import reactor
    from twisted.internet.endpoints import HostnameEndpoint

    parsed = urlparse(url)
    if parsed.scheme not in ("redis", ""):
        raise ValueError(f"redis.url: unsupported scheme {parsed.scheme!r} (use redis://)")
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    factory = _Factory(
        f"{host}:{port}",
        int((parsed.path or "/0").strip("/") or 0),
        poolsize,
        isLazy=False,
        handler=_Handler,
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
