"""Start-up against a Redis that is not ready yet, and the HTTP port while it waits.

A node often starts together with its Redis, or while that Redis cannot take writes yet: it is
still loading its data (``LOADING``), a replica is syncing and ``min-replicas-to-write`` refuses
writes (``NOREPLICAS``), it is a replica or a master being demoted (``READONLY``), Sentinel is
in the middle of a failover (no master known, ``MASTERDOWN``), or it is not listening yet.
``until_ready`` tries a write probe again with exponential backoff and jitter, logging why each
time, instead of exiting with a traceback.  Meanwhile the HTTP port is already bound and
answers 503 (``ReadyGate``): ``/healthz`` says the node is starting and why it waits, so a load
balancer or an orchestrator sees "not ready" rather than "connection refused".
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet import defer, task
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

log = Logger(namespace="hotline.redis")

PROBE_KEY = "hl:ready:probe"  # written (and left to expire) by each start-up probe


@dataclass(frozen=True)
class Backoff:
    """Delay before retry ``attempt`` (1, 2, ...): ``initial_s`` doubling up to ``max_s``, each
    drawn from its upper half so nodes started together do not retry in step."""

    initial_s: float = 0.5
    max_s: float = 30.0

    def delay(self, attempt: int, draw: Callable[[], float] = random.random) -> float:
        top = min(self.max_s, self.initial_s * 2 ** min(attempt - 1, 30))
        return top * (0.5 + 0.5 * draw())


def why_not_ready(exc: BaseException) -> str:
    """A short reason for the log and ``/healthz``: Redis's own error word where it has one."""
    text = str(exc).strip() or type(exc).__name__
    for word in ("LOADING", "NOREPLICAS", "READONLY", "MASTERDOWN", "BUSY", "NOAUTH",
                 "refused", "timed out", "TimeoutError"):
        if word in text:
            return f"{word}: {text[:160]}"
    return text[:200]


async def probe(redis: Any) -> None:
    """A write Redis must accept: the node's first booking would be one."""
    await redis.execute_command("SET", PROBE_KEY, str(os.getpid()), "PX", "60000")


async def until_ready(attempt: Callable[[], Awaitable[Any]], clock: Any, *,
                      backoff: Backoff = Backoff(), note: Callable[[str], None] | None = None,
                      attempt_timeout_s: float = 10.0) -> Any:
    """``attempt()`` (connect and probe; it cleans up after itself when it fails) until it
    succeeds; its result.  Each failure is logged with its reason and the delay; ``note``
    hears the reason (what ``/healthz`` shows meanwhile)."""
    tries = 0
    while True:
        tries += 1
        try:
            d = defer.ensureDeferred(attempt())
            d.addTimeout(attempt_timeout_s, clock)
            result = await d
        except defer.CancelledError:
            raise  # the start was given up (the service stopped): not a Redis problem
        except Exception as exc:
            why = why_not_ready(exc)
            delay = backoff.delay(tries)
            log.warn("redis.not_ready attempt={n} retry_in_s={delay:.1f} why={why}",
                     n=tries, delay=delay, why=why)
            if note is not None:
                note(why)
            await task.deferLater(clock, delay, lambda: None)
            continue
        if tries > 1:
            log.info("redis.ready after_attempts={n}", n=tries)
        return result


class _Starting(Resource):
    """Every path: 503; ``/healthz`` with the reason the node waits."""

    isLeaf = True

    def __init__(self, gate: ReadyGate) -> None:
        super().__init__()
        self.gate = gate

    def render(self, request: Request) -> bytes:
        request.setResponseCode(503)
        request.setHeader(b"retry-after", b"5")
        # close after the answer: a kept-alive connection would stay on this site once ready
        request.setHeader(b"connection", b"close")
        request.channel.persistent = False
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        body = {"status": "starting", "redis": self.gate.why, "pid": os.getpid()}
        if request.path != b"/healthz":
            body = {"error": {"code": "starting", "message": "the server is starting"}}
        return json.dumps(body).encode("utf-8")


class ReadyGate(Factory):
    """The HTTP port's factory from the moment the port is bound: a 503 site until ``open``,
    then the real factory for every new connection."""

    noisy = False

    def __init__(self) -> None:
        self.why = "starting"
        self.waiting = Site(_Starting(self))
        self.waiting.noisy = False
        self.delegate: Factory | None = None

    def note(self, why: str) -> None:
        self.why = why

    def open(self, factory: Factory) -> None:
        factory.doStart()
        self.delegate = factory

    def startFactory(self) -> None:
        self.waiting.doStart()

    def stopFactory(self) -> None:
        self.waiting.doStop()
        if self.delegate is not None:
            self.delegate.doStop()

    def buildProtocol(self, addr: Any) -> Any:
        return (self.delegate or self.waiting).buildProtocol(addr)
