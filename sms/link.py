"""Keeps one SMPP link connected and bound, reconnecting with a growing backoff.

Twisted's ``ClientService`` cannot be told that a connection died while its
``prepareConnection`` (our bind) was still running: the lost-connection notice then arrives in
a state that has no transition for it and is logged as a critical ``NoTransition``. An SMSC
closes the socket during a bind whenever it refuses one, and SIGTERM can land mid-bind, so this
keeper does the same job with the bind inside its own states:

    stopped -> connecting -> binding -> up --lost--> waiting --timer--> connecting ...

The backoff counts consecutive failures (refused connection, failed bind, a lost link) and
resets only after a successful bind, so an SMSC that refuses our password is retried at 1, 2,
4 ... 60 s, not every second. The protocol reports its own end by calling ``lost(protocol)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

log = Logger(namespace="sms.link")
P = TypeVar("P")


class LinkKeeper(Generic[P]):
    """``start()`` it once; ``stop()`` fires when no connection or timer is left."""

    def __init__(
        self,
        endpoint: IStreamClientEndpoint,
        factory: Factory,
        bind: Callable[[P], defer.Deferred[Any]],
        retry_policy: Callable[[int], float],
        clock: IReactorTime,
        name: str = "smpp",
    ) -> None:
        self._endpoint, self._factory, self._bind = endpoint, factory, bind
        self._policy, self._clock, self._name = retry_policy, clock, name
        self._running = False
        self.failures = 0  # consecutive; reset by a successful bind
        self._connecting: defer.Deferred[Any] | None = None
        self._link: Any = None  # the connected protocol, binding or bound
        self._timer: IDelayedCall | None = None
        self._closing = False
        self._stopped: list[defer.Deferred[None]] = []  # stop() calls waiting for the close

    @property
    def state(self) -> str:
        if self._link is not None:
            return "connected"
        if self._connecting is not None:
            return "connecting"
        return "waiting" if self._timer is not None and self._timer.active() else "stopped"

    def start(self) -> None:
        if not self._running:
            self._running = True
            self._connect()

    def stop(self) -> defer.Deferred[None]:
        """Cancel any retry or connection attempt and close the link (after the caller's
        polite unbind, if any); fires once the connection is gone."""
        self._running = False
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if self._connecting is not None:
            self._connecting.cancel()
        if self._link is None:
            return defer.succeed(None)
        self._close()
        waiter: defer.Deferred[None] = defer.Deferred()
        self._stopped.append(waiter)
        return waiter

    def lost(self, link: P) -> None:
        """The protocol's ``connectionLost`` hook: retry later, or finish a ``stop()``."""
        if link is not self._link:
            return
        self._link, self._closing = None, False
        waiters, self._stopped = self._stopped, []
        for waiter in waiters:
            waiter.callback(None)
        self._retry_later("link lost")

    # -- internals ----------------------------------------------------------------------
    def _connect(self) -> None:
        d = self._connecting = self._endpoint.connect(self._factory)
        d.addCallbacks(self._connected, self._connect_failed)

    def _connected(self, link: P) -> None:
        self._connecting = None
        self._link = link
        if not self._running:  # stop() came while connecting and the cancel was too late
            self._close()
            return
        defer.maybeDeferred(self._bind, link).addCallbacks(
            self._bound, self._bind_failed, errbackArgs=(link,))

    def _close(self) -> None:
        if not self._closing:
            self._closing = True
            self._link.transport.loseConnection()

    def _bound(self, _: object) -> None:
        self.failures = 0

    def _bind_failed(self, failure: Failure, link: Any) -> None:
        """The protocol logged why; make sure the link closes so ``lost`` schedules a retry."""
        if link is self._link:
            self._close()

    def _connect_failed(self, failure: Failure) -> None:
        self._connecting = None
        if failure.check(defer.CancelledError) and not self._running:
            return
        self._retry_later(failure.getErrorMessage())

    def _retry_later(self, why: str) -> None:
        if not self._running:
            return
        self.failures += 1
        delay = self._policy(self.failures)
        log.info("{name}.reconnect_in seconds={delay:.1f} attempt={n} why={why}",
                 name=self._name, delay=delay, n=self.failures, why=why)
        self._timer = self._clock.callLater(delay, self._connect)
