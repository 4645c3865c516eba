"""The service tree: parts stop one at a time in reverse order, a stuck or failing part does not
hold up the rest, a whole server stops listeners first, then SMS, then Redis, and a start
that fails leaves nothing running."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import Factory
from twisted.internet.task import Clock, deferLater
from twisted.internet.tcp import Port
from twisted.logger import formatEvent, globalLogPublisher

from hotline.app import start
from hotline.services import Listener, Ordered, every
from settings.schema import load_settings
from storage.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]


class Part(Service):
    """A part that records its stop in ``ran`` and returns ``result`` (or raises ``error``)."""

    def __init__(self, name: str, ran: list[str], result: Any = None,
                 error: Exception | None = None) -> None:
        self.setName(name)
        self.ran, self.result, self.error = ran, result, error

    def stopService(self) -> Any:
        super().stopService()
        self.ran.append(self.name)
        if self.error is not None:
            raise self.error
        return self.result


def test_parts_stop_newest_first_and_a_failure_does_not_stop_the_rest() -> None:
    ran: list[str] = []
    tree = Ordered("test", clock=Clock())
    tree.add(Part("redis", ran))
    tree.add(Part("sms", ran, error=RuntimeError("unbind failed")))
    tree.add(Part("http", ran, result=defer.succeed(None)))
    tree.startService()
    done = tree.stopService()
    assert done.called
    assert ran == ["http", "sms", "redis"]
    assert not tree.running and not any(part.running for part in tree)


def test_each_part_waits_for_the_one_stopped_before_it() -> None:
    ran: list[str] = []
    unbound: Deferred[None] = Deferred()
    tree = Ordered("test", clock=Clock())
    tree.add(Part("redis", ran))
    tree.add(Part("sms", ran, result=unbound))
    tree.startService()
    done = tree.stopService()
    assert ran == ["sms"] and not done.called  # Redis stays until the unbind is done
    unbound.callback(None)
    assert ran == ["sms", "redis"] and done.called


def test_a_stuck_part_is_given_up_after_its_timeout() -> None:
    clock, ran = Clock(), []
    tree = Ordered("test", clock=clock, step_timeout_s=5)
    tree.add(Part("redis", ran))
    tree.add(Part("stuck", ran, result=Deferred()))
    tree.startService()
    done = tree.stopService()
    clock.advance(4.9)
    assert not done.called and ran == ["stuck"]
    clock.advance(0.2)
    assert done.called and ran == ["stuck", "redis"]


def test_a_listener_that_cannot_bind_fails_its_start_and_is_not_stopped() -> None:
    from twisted.internet import reactor

    taken = reactor.listenTCP(0, Factory(), interface="127.0.0.1")
    port = taken.getHost().port
    ran: list[str] = []
    tree = Ordered("test", clock=Clock())
    tree.add(Part("redis", ran))
    tree.startService()
    listener = Listener("http", lambda: reactor.listenTCP(port, Factory(),
                                                          interface="127.0.0.1"))
    with pytest.raises(CannotListenError):
        tree.add(listener)
    assert not listener.running
    assert tree.stopService().called and ran == ["redis"]
    taken.stopListening()


def test_a_periodic_part_waits_one_interval_and_stops_with_the_tree() -> None:
    clock, calls = Clock(), []
    tree = Ordered("test", clock=clock)
    tree.add(every("tick", 2.0, lambda: calls.append(clock.seconds()), clock))
    tree.startService()
    clock.advance(0)
    assert calls == []  # the first call one interval after the start
    clock.advance(2.0)
    clock.advance(2.0)
    tree.stopService()
    clock.advance(10.0)
    assert calls == [2.0, 4.0]


def test_a_periodic_part_with_last_runs_once_more_and_the_stop_waits_for_it() -> None:
    clock, calls = Clock(), []
    written: Deferred[None] = Deferred()

    def flush() -> Deferred[None]:
        calls.append(clock.seconds())
        return written

    tree = Ordered("test", clock=clock)
    tree.add(every("flush", 1.0, flush, clock, last=True))
    tree.startService()
    clock.advance(1.0)
    stopped = tree.stopService()
    assert calls == [1.0, 1.0]  # the loop's call, then the last one at stop
    assert not stopped.called  # waits until the last batch is written
    written.callback(None)
    assert stopped.called


def _names(service: Any, prefix: str = "") -> list[str]:
    found = []
    for child in service:
        found.append(prefix + child.name)
        if hasattr(child, "namedServices"):
            found += _names(child, prefix + child.name + "/")
    return found


def _record_stops(service: Any, stopped: list[str], prefix: str = "") -> None:
    for child in service:
        path = prefix + child.name
        original = child.stopService

        def recorded(original: Any = original, path: str = path) -> Any:
            stopped.append(path)
            return original()

        child.stopService = recorded
        if hasattr(child, "namedServices"):
            _record_stops(child, stopped, path + "/")


def _refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest_twisted.ensureDeferred
async def test_a_server_stops_listeners_then_sms_then_redis(redis, redis_url, tmp_path):
    from twisted.internet import reactor

    settings = load_settings(ROOT / "config/hotline.yaml", {
        "redis": {"url": redis_url}, "http": {"port": 0}, "ivr": {"fastagi": {"port": 0}},
        "data_dir": str(tmp_path)})
    running = await start(settings, reactor)
    assert _names(running.service) == [
        "storage", "storage/redis",
        "core", "core/sms", "core/sms/smsc", "core/sms/sender", "core/sms/reclaim",
        "core/sms/events", "core/menu-versions", "core/dialogue-rate", "core/menu-reload",
        "core/sweeper",
        "edge", "edge/http", "edge/fastagi"]
    stopped: list[str] = []
    _record_stops(running.service, stopped)
    assert running.smsc_port is not None
    ports = (running.http_port, running.fastagi_port, running.smsc_port)
    await running.stop()
    assert stopped == [
        "edge", "edge/fastagi", "edge/http",
        "core", "core/sweeper", "core/menu-reload", "core/dialogue-rate", "core/menu-versions",
        "core/sms", "core/sms/events", "core/sms/reclaim", "core/sms/sender", "core/sms/smsc",
        "storage", "storage/redis"]
    assert all(_refused(port) for port in ports)
    assert not running.service.running


@pytest_twisted.ensureDeferred
async def test_a_failing_start_leaves_nothing_running(tmp_path):
    """FastAGI's port is taken: the start fails after the HTTP port, the embedded redis-server,
    the SMSC simulator and the SMS sender were started; all of them are stopped again."""
    from twisted.internet import reactor

    taken = reactor.listenTCP(0, Factory(), interface="127.0.0.1")
    http_port = free_port()
    settings = load_settings(ROOT / "config/hotline.yaml", {
        "http": {"port": http_port}, "ivr": {"fastagi": {"port": taken.getHost().port}},
        "data_dir": str(tmp_path)})  # no redis.url: an embedded redis-server
    lines: list[str] = []

    def observe(event: dict[str, Any]) -> None:
        lines.append(formatEvent(event))

    globalLogPublisher.addObserver(observe)
    ports_before = {r for r in reactor.getReaders() if isinstance(r, Port)}
    try:
        with pytest.raises(CannotListenError):
            await start(settings, reactor)
    finally:
        globalLogPublisher.removeObserver(observe)
        await taken.stopListening()
    embedded = [int(m.group(1)) for line in lines
                if (m := re.search(r"redis\.embedded port=(\d+)", line))]
    assert embedded, "the embedded redis-server was started"
    assert _refused(embedded[0])  # and stopped again
    assert _refused(http_port)
    assert {r for r in reactor.getReaders() if isinstance(r, Port)} <= ports_before
    assert not any(isinstance(r, Port) for r in reactor.getWriters())


@pytest_twisted.ensureDeferred
async def test_stopping_redis_while_it_is_awaited_gives_up_the_wait(tmp_path):
    """A Redis that accepts the connection (SELECT) and never answers the write probe: the
    start-up wait hangs. Stopping the service then cancels the wait for good: no retry is
    scheduled, the probe's connection is closed."""
    from twisted.internet import reactor
    from twisted.internet.protocol import Protocol

    from storage.service import RedisService

    accepted: list[Protocol] = []

    class Silent(Protocol):
        def connectionMade(self) -> None:
            accepted.append(self)
            self.answered = False

        def dataReceived(self, data: bytes) -> None:
            if not self.answered:  # SELECT 0: the client is connected
                self.answered = True
                self.transport.write(b"+OK\r\n")

    silent = reactor.listenTCP(0, Factory.forProtocol(Silent), interface="127.0.0.1")
    settings = load_settings(ROOT / "config/hotline.yaml", {
        "redis": {"url": f"redis://127.0.0.1:{silent.getHost().port}/0"},
        "data_dir": str(tmp_path)})
    clock = Clock()
    service = RedisService(settings, clock)
    failures: list[Any] = []
    service.ready.addErrback(failures.append)
    service.startService()
    try:
        for _ in range(200):  # real I/O: the probe is sent
            if accepted and accepted[0].answered:
                break
            await deferLater(reactor, 0.01, lambda: None)
        assert len(accepted) == 1
        await service.stopService()
        assert failures and failures[0].check(defer.CancelledError)
        assert clock.getDelayedCalls() == []  # no retry waits on the clock
        clock.advance(60)
        for _ in range(200):  # real I/O: the close reaches the peer
            if not accepted[0].transport.connected:
                break
            await deferLater(reactor, 0.01, lambda: None)
        assert len(accepted) == 1 and not accepted[0].transport.connected
    finally:
        await silent.stopListening()
