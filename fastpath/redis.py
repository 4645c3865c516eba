"""txredisapi's protocol and pool handle, leaner on the hot path (the ``redis`` piece).

Both override txredisapi internals (``execute_command``, ``replyQueue``, ``_build_command``,
``ConnectionHandler.__getattr__``); ``storage.client`` uses them only while
``fastpath.enabled("redis")``, and stock txredisapi otherwise.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, ClassVar

import txredisapi
from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from fastpath.send import send_first_write_now


class Protocol(txredisapi.RedisProtocol):  # type: ignore[misc]
    """txredisapi's protocol (hiredis reader) with a leaner request encoder.

    The stock encoder type-checks and re-encodes every argument several times; for booking's
    scripts (a dozen keys and arguments) that was a visible share of a USSD hop's CPU.
    ``roundtrip(seconds)`` is told the time of each command answered on the lean path.
    """

    roundtrip: ClassVar[Callable[[float], Any]] = staticmethod(lambda seconds: None)

    def connectionMade(self) -> Any:
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
        # one callback times the reply and turns an error reply (an exception value) into a
        # failure: a second callback per command was a visible share of a hop's Deferred work
        result.addBoth(_answered, self.roundtrip, self.handle_reply, time.perf_counter())
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


def _answered(result: Any, roundtrip: Callable[[float], Any],
              handle_reply: Callable[[Any], Any], started: float) -> Any:
    """A command's reply (or the failure of the connection): timed, then ``handle_reply``
    (raises an error reply) unless it is already a failure."""
    roundtrip(time.perf_counter() - started)
    if isinstance(result, Failure):
        return result
    return handle_reply(result)


class Handler(txredisapi.ConnectionHandler):  # type: ignore[misc]
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
