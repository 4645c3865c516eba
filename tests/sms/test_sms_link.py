"""LinkKeeper over real TCP: an SMSC that drops the socket mid-bind, or never answers the bind,
must cost a retry with a growing backoff, never an error in the log (Twisted's ClientService
logged a critical NoTransition in both cases)."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from twisted.internet import defer, protocol, reactor
from twisted.internet.task import Clock

from sms.api import OutgoingSms
from sms.service import SmppSender
from sms.smsc import start_smsc


class _Peer(protocol.Protocol):
    """An SMSC that drops every connection as soon as the bind arrives, or says nothing."""

    def dataReceived(self, data: bytes) -> None:
        self.factory.binds.append(data)  # type: ignore[attr-defined]
        waiter = self.factory.waiter  # type: ignore[attr-defined]
        if waiter is not None and not waiter.called:
            waiter.callback(None)
        if self.factory.drop:  # type: ignore[attr-defined]
            self.transport.loseConnection()  # type: ignore[union-attr]


def _peer(*, drop: bool) -> tuple[Any, protocol.Factory]:
    factory = protocol.Factory.forProtocol(_Peer)
    factory.binds, factory.drop, factory.waiter = [], drop, None  # type: ignore[attr-defined]
    return reactor.listenTCP(0, factory, interface="127.0.0.1"), factory


def _next_bind(factory: Any) -> defer.Deferred[None]:
    factory.waiter = defer.Deferred()
    return factory.waiter.addTimeout(10, reactor)


class _Policy:
    """Records each attempt number it is asked about; always 1 s on the test's Clock."""

    def __init__(self) -> None:
        self.attempts: list[int] = []
        self.planned: defer.Deferred[None] | None = None

    def __call__(self, attempt: int) -> float:
        self.attempts.append(attempt)
        if self.planned is not None and not self.planned.called:
            reactor.callLater(0, self.planned.callback, None)  # after the keeper's own step
        return 1.0

    def wait(self) -> defer.Deferred[None]:
        self.planned = defer.Deferred()
        return self.planned.addTimeout(10, reactor)


@pytest_twisted.ensureDeferred
async def test_smsc_dropping_the_socket_mid_bind_backs_off_without_errors(
    logged_errors: list[Any],
) -> None:
    listening, peer = _peer(drop=True)
    clock, policy = Clock(), _Policy()
    sender = SmppSender("127.0.0.1", listening.getHost().port, "hotline", "secret", "12580",
                        reactor=reactor, clock=clock, retry_policy=policy)
    sender.startService()
    try:
        for attempt in (1, 2, 3):
            planned = policy.wait()
            await planned
            assert policy.attempts == list(range(1, attempt + 1))  # each failure counts
            assert len(peer.binds) == attempt and not sender.bound
            clock.advance(1.0)
        await _next_bind(peer)  # the fourth attempt connects and binds again
    finally:
        await sender.stopService()
        await listening.stopListening()
    assert logged_errors == []
    assert not [c for c in clock.getDelayedCalls() if c.active()]


@pytest_twisted.ensureDeferred
async def test_backoff_resets_after_a_successful_bind(logged_errors: list[Any]) -> None:
    dropping, _ = _peer(drop=True)
    port = dropping.getHost().port
    clock, policy = Clock(), _Policy()
    sender = SmppSender("127.0.0.1", port, "hotline", "secret", "12580", reactor=reactor,
                        clock=clock, retry_policy=policy)
    sender.startService()
    smsc = None
    try:
        await policy.wait()
        second = policy.wait()
        clock.advance(1.0)
        await second
        assert policy.attempts == [1, 2]
        await dropping.stopListening()
        delivered: defer.Deferred[None] = defer.Deferred()
        smsc = start_smsc(reactor, port, lambda *message: delivered.callback(None))
        sender.send(OutgoingSms("8613800138000", "hi", "k1"))
        clock.advance(1.0)
        await delivered.addTimeout(10, reactor)  # bound: the message went through
        lost = policy.wait()
        for connection in list(smsc.factory.connections):
            connection.transport.loseConnection()
        await lost
        assert policy.attempts == [1, 2, 1]  # the successful bind reset the count
    finally:
        await sender.stopService()
        if smsc is not None:
            await smsc.stopListening()
    assert logged_errors == []


@pytest_twisted.ensureDeferred
async def test_stop_during_an_unanswered_bind_closes_the_link_quietly(
    logged_errors: list[Any],
) -> None:
    listening, peer = _peer(drop=False)
    clock = Clock()
    sender = SmppSender("127.0.0.1", listening.getHost().port, "hotline", "secret", "12580",
                        reactor=reactor, clock=clock, retry_policy=_Policy())
    bound = _next_bind(peer)
    sender.startService()
    try:
        await bound
        assert not sender.bound
    finally:
        await sender.stopService()  # the bind is still waiting for its response
        await listening.stopListening()
    assert sender._keeper.state == "stopped"
    assert logged_errors == []
    assert not [c for c in clock.getDelayedCalls() if c.active()]


@pytest_twisted.ensureDeferred
async def test_a_bind_that_raises_closes_the_link_and_retries(logged_errors: list[Any]) -> None:
    """A prepare step that raises instead of failing its Deferred still counts as a failed
    bind: the link is closed and a retry is planned (it used to escape as an unhandled error)."""
    from twisted.internet.endpoints import TCP4ClientEndpoint

    from sms.link import LinkKeeper

    listening, _ = _peer(drop=False)
    closed: defer.Deferred[None] = defer.Deferred()
    keeper: LinkKeeper[Any]

    class Link(protocol.Protocol):
        def connectionLost(self, reason: Any = None) -> None:
            keeper.lost(self)
            closed.callback(None)

    def bind(link: Any) -> defer.Deferred[None]:
        raise RuntimeError("cannot bind")

    clock, policy = Clock(), _Policy()
    planned = policy.wait()
    keeper = LinkKeeper(TCP4ClientEndpoint(reactor, "127.0.0.1", listening.getHost().port),
                        protocol.Factory.forProtocol(Link), bind, policy, clock)
    keeper.start()
    try:
        await closed.addTimeout(10, reactor)
        await planned
        assert policy.attempts == [1] and keeper.state == "waiting"
    finally:
        await keeper.stop()
        await listening.stopListening()
    assert not [c for c in clock.getDelayedCalls() if c.active()]
