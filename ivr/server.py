"""The FastAGI listener: one AgiProtocol + Call per TCP connection from Asterisk."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort, IReactorTCP, IReactorTime
from twisted.internet.protocol import Factory

from ivr.agi import AgiEnv, AgiProtocol
from ivr.call import Call
from ivr.compose import Lexicon, Live
from ivr.states import CallRecord, Deadlines
from menus.driver import DialogueLike

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
        deadlines: Deadlines | None = None,
        transfer_targets: Mapping[str, str] | None = None,
        dial_timeout_s: int = 30,
        on_record: Callable[[CallRecord], None] | None = None,
        on_latency: Callable[[float], None] | None = None,
        batch_prompts: bool = True,
        lexicons: Mapping[str, Lexicon] | None = None,
        live: Live | None = None,
        numbers: Mapping[str, str] | None = None,
    ) -> None:
        """``lexicons``: per language, the names values carry (``ivr.prompt_texts.lexicons``
        from the catalog), so a name that holds a date word or a digit is said whole; ``live``:
        ``LiveSpeech.url`` when free text is said on demand (``ivr.live``); ``numbers``: the
        hospital each dialed number stands for (``ivr.numbers``)."""
        self.numbers = dict(numbers or {})
        self.batch_prompts = batch_prompts
        self.lexicons = dict(lexicons or {})
        self.live = live  # free text said on demand (ivr.live), off when None
        self.dialogue = dialogue
        self.clock = clock
        self.default_menu = default_menu
        self.deadlines = deadlines or Deadlines()
        self.transfer_targets = dict(transfer_targets or {})
        self.dial_timeout_s = dial_timeout_s
        self.on_record = on_record
        self.on_latency = on_latency
        self.active: set[Deferred[None]] = set()
        self.on_command: Callable[[str, str, float], None] | None = None  # see AgiProtocol
        self._idle_waiters: list[Deferred[None]] = []

    def buildProtocol(self, addr: Any) -> AgiProtocol:
        proto = AgiProtocol(self.clock, on_latency=self.on_latency)
        proto.factory = self
        proto.on_command = self.on_command
        proto.on_env = lambda env: self._start(proto, env)
        return proto

    def _start(self, proto: AgiProtocol, env: AgiEnv) -> None:
        call = Call(
            proto,
            env,
            self.dialogue,
            default_menu=self.default_menu,
            deadlines=self.deadlines,
            transfer_targets=self.transfer_targets,
            dial_timeout_s=self.dial_timeout_s,
            on_record=self.on_record,
            batch_prompts=self.batch_prompts,
            lexicons=self.lexicons,
            live=self.live,
            numbers=self.numbers,
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
