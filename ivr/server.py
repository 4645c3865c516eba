"""The FastAGI listener: one AgiProtocol + Call per TCP connection from Asterisk."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort, IReactorTCP, IReactorTime
from twisted.internet.protocol import Factory

from ivr.agi import AgiEnv, AgiProtocol
from ivr.call import Call, DialogueLike

# Twisted's default listen backlog is 50: a burst of calls then waits on 1 s SYN retries.
BACKLOG = 1024


class FastAGIFactory(Factory):
    """Builds one protocol per call; each call runs ``dialogue`` for the menu in the AGI URL."""

    def __init__(
        self,
        dialogue: DialogueLike,
        *,
        clock: IReactorTime,
        default_menu: str | None = None,
        command_timeout: float = 60.0,
    ) -> None:
        self.dialogue = dialogue
        self.clock = clock
        self.default_menu = default_menu
        self.command_timeout = command_timeout
        self.active: set[Deferred[None]] = set()
        self._idle_waiters: list[Deferred[None]] = []

    def buildProtocol(self, addr: Any) -> AgiProtocol:
        proto = AgiProtocol(self.clock)
        proto.factory = self
        proto.on_env = lambda env: self._start(proto, env)
        return proto

    def _start(self, proto: AgiProtocol, env: AgiEnv) -> None:
        call = Call(
            proto,
            env,
            self.dialogue,
            default_menu=self.default_menu,
            command_timeout=self.command_timeout,
        )
        d = Deferred.fromCoroutine(call.run())
        self.active.add(d)
        d.addBoth(self._finished, d)

    def _finished(self, result: object, d: Deferred[None]) -> None:
        self.active.discard(d)
        if not self.active:
            waiters, self._idle_waiters = self._idle_waiters, []
            for waiter in waiters:
                waiter.callback(None)

    def when_idle(self) -> Deferred[None]:
        """Fires once no call is running (tests; graceful shutdown)."""
        d: Deferred[None] = Deferred()
        if self.active:
            self._idle_waiters.append(d)
        else:
            d.callback(None)
        return d


def listen_fastagi(
    reactor: IReactorTCP, port: int, factory: FastAGIFactory, interface: str = "127.0.0.1"
) -> IListeningPort:
    """Listen for Asterisk (default port 4573) with a backlog that absorbs call bursts."""
    return reactor.listenTCP(port, factory, backlog=BACKLOG, interface=interface)
