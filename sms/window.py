"""The submit window of one ESME link: which queued submit_sm may go now, and when the rest may.

Three limits hold a submit_sm back: the window (submit_sm sent and not yet answered), the TPS
token bucket, and the pause after an RTHROTTLED/RMSGQFUL answer.  They live here, apart from
``sms.esme.EsmeProtocol``, which owns the link, the sequence numbers and the responses: it hands
this class a ``send`` for one submit_sm and a ``may_send`` (the link is bound), and tells it when
an answer was a throttle.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from sms.esme_config import EsmeConfig
from sms.flow import TokenBucket
from sms.smpp import status as st
from sms.smpp.pdu import Pdu

log = Logger(namespace="sms.esme")  # the link's namespace: its log lines read as before

THROTTLES = frozenset({st.RTHROTTLED, st.RMSGQFUL})

Waiting = tuple[dict[str, Any], defer.Deferred[Pdu], int]  # params, caller, times throttled
# sends one submit; the link calls ``release`` once it is over, then fires the caller
Send = Callable[[dict[str, Any], defer.Deferred[Pdu], int], None]


class SubmitWindow:
    """The queue of submit_sm not sent yet and the limits that pace them onto one link."""

    def __init__(
        self, config: EsmeConfig, clock: IReactorTime, send: Send, may_send: Callable[[], bool]
    ) -> None:
        self.config = config
        self.clock = clock
        self._send = send
        self._may_send = may_send
        self.waiting: deque[Waiting] = deque()
        self.in_flight = 0
        self.streak = 0  # throttle answers in a row; a submit_sm accepted resets it
        self._bucket = TokenBucket(config.tps, now=clock.seconds()) if config.tps else None
        self._paused_until = 0.0
        self._wake: IDelayedCall | None = None

    def add(self, params: dict[str, Any], caller: defer.Deferred[Pdu]) -> None:
        """Queue one submit_sm (``caller`` fires with its response) and send what may go."""
        self.waiting.append((params, caller, 0))
        self.pump()

    def accepted(self) -> None:
        """A submit_sm was accepted: the next throttle starts the pauses from the shortest."""
        self.streak = 0

    def pump(self) -> None:
        """Send waiting submit_sm while the window, the TPS bucket and any throttle pause allow."""
        while self.waiting and self.in_flight < self.config.window and self._may_send():
            now = self.clock.seconds()
            if now < self._paused_until:
                self._wake_at(self._paused_until - now)
                return
            if self._bucket is not None and not self._bucket.take(now):
                self._wake_at(self._bucket.wait(now))
                return
            params, d, throttled = self.waiting.popleft()
            self.in_flight += 1
            self._send(params, d, throttled)

    def requeue(
        self, params: dict[str, Any], caller: defer.Deferred[Pdu], throttled: int, status: int
    ) -> None:
        """A throttle answer: pause the whole window (longer each time in a row) and put this
        submit_sm first in line, to go again with a new seq once the pause is over."""
        self.streak += 1
        pause = self.config.throttle_backoff.delay(self.streak)
        self._paused_until = max(self._paused_until, self.clock.seconds() + pause)
        log.warn("smpp.throttled status=0x{s:02X} pause={p}s", s=status, p=pause)
        self.waiting.appendleft((params, caller, throttled))

    def close(self) -> deque[Waiting]:
        """The link is gone: stop the wake-up timer and hand back the submit_sm never sent."""
        if self._wake is not None and self._wake.active():
            self._wake.cancel()
        self._wake = None
        waiting, self.waiting = self.waiting, deque()
        return waiting

    def release(self) -> None:
        """A sent submit_sm is over (answered, failed or requeued): its slot is free."""
        self.in_flight -= 1
        self.pump()

    def _wake_at(self, delay: float) -> None:
        if self._wake is None or not self._wake.active():
            self._wake = self.clock.callLater(max(delay, 0.0), self._woken)

    def _woken(self) -> None:
        self._wake = None
        self.pump()
