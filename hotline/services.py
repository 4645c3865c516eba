"""The building blocks of the service tree (``hotline.app``): ordered shutdown, a listening
port, a periodic call.

``Ordered`` is a ``MultiService`` whose stop waits for each child in turn, newest first
(Twisted's own stops every child at once: the SMPP unbind would race the Redis pool closing
under it). A step that fails is logged and the rest still stop; a step still running after
``step_timeout_s`` is given up on, so one stuck part (a Redis pool whose server is gone)
cannot keep the process from exiting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, TimeoutError, maybeDeferred
from twisted.internet.interfaces import IListeningPort
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

log = Logger()

STEP_TIMEOUT_S = 10.0


class Ordered(MultiService):
    """Children start in the order added and stop one at a time in reverse order."""

    def __init__(self, name: str, *, clock: Any = None,
                 step_timeout_s: float = STEP_TIMEOUT_S) -> None:
        super().__init__()
        self.setName(name)
        self.clock = clock
        self.step_timeout_s = step_timeout_s

    def add(self, child: Any) -> Any:
        """Add ``child`` (started at once when this is running); returns it."""
        child.setServiceParent(self)
        return child

    def stopService(self) -> Deferred[None]:
        Service.stopService(self)
        return Deferred.fromCoroutine(self._stop_children())

    async def _stop_children(self) -> None:
        clock = self.clock
        if clock is None:
            from twisted.internet import reactor as clock
        for child in reversed(list(self)):
            if not child.running:
                continue  # never started (a failed start) or already stopped
            try:
                await maybeDeferred(child.stopService).addTimeout(self.step_timeout_s, clock)
            except TimeoutError:
                log.warn("{what}.stop_step_timed_out step={step} after={s}s", what=self.name,
                         step=child.name, s=self.step_timeout_s)
            except Exception:
                log.failure("{what}.stop_failed step={step}", what=self.name, step=child.name)


class Listener(Service):
    """A listening port: bound at start (a bind error raises there, failing the start), closed
    at stop. ``listen`` binds; it goes through the node's listeners (``node.sharedport``:
    one socket shared by the node's processes), which is why this is not Twisted's
    ``StreamServerEndpointService`` (that one logs a bind error instead of raising it)."""

    def __init__(self, name: str, listen: Callable[[], IListeningPort]) -> None:
        self.setName(name)
        self._listen = listen
        self.port: IListeningPort | None = None

    def bind(self) -> IListeningPort:
        """Bind now, before the start (a sibling needs the address); the start keeps it."""
        if self.port is None:
            self.port = self._listen()
        return self.port

    def startService(self) -> None:
        self.bind()
        super().startService()

    def stopService(self) -> Any:
        super().stopService()
        port, self.port = self.port, None
        return port.stopListening() if port is not None else None


class Looping(Service):
    """A ``LoopingCall`` that ``begin`` starts at start; stopped at stop (then ``at_stop``, if
    given, runs once more and the stop waits for it). Unlike Twisted's ``TimerService`` the first
    call may wait one interval (``every(..., now=False)``)."""

    def __init__(self, name: str, begin: Callable[[], LoopingCall],
                 at_stop: Callable[[], Any] | None = None) -> None:
        self.setName(name)
        self._begin = begin
        self._at_stop = at_stop
        self.loop: LoopingCall | None = None

    def startService(self) -> None:
        super().startService()
        self.loop = self._begin()

    def stopService(self) -> Any:
        super().stopService()
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        self.loop = None
        return self._at_stop() if self._at_stop is not None else None


def every(name: str, step_s: float, call: Callable[[], Any], clock: Any, *,
          now: bool = False, last: bool = False) -> Looping:
    """``call`` every ``step_s`` seconds on ``clock``; a failed loop is logged. ``last``: once
    more at stop (what is batched in memory is written out before the process ends)."""

    def begin() -> LoopingCall:
        loop = LoopingCall(call)
        loop.clock = clock
        loop.start(step_s, now=now).addErrback(
            lambda f: log.failure("{name}.loop_failed", f, name=name))
        return loop

    return Looping(name, begin, call if last else None)
