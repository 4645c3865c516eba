"""``hotline simulate --channel ivr --fastagi``: a terminal call through the real voice channel.

The menu runs behind the real FastAGI server (``ivr.server``) and the call comes from the Asterisk
stand-in (``ivr.simulator``); this module makes that caller interactive: whenever Asterisk would
listen for keys (GET DATA, WAIT FOR DIGIT, EXEC Read) or dial an operator (EXEC Dial), it asks the
terminal. The terminal shows what the menu says (the text behind each prompt file) and the AGI
commands the server sends, so an operator sees the call as Asterisk would run it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from twisted.internet.defer import Deferred

from ivr.simulator import AsteriskSimulator
from ivr.simulator_rules import find_command, tokenize
from ivr.simulator_steps import HANGUP, SILENCE, Dial
from menudesk.render import render
from menus.types import Input, Output, Session

ReadLine = Callable[[str], Awaitable[str | None]]
Write = Callable[[str], None]
_DIAL = {"answered": "ANSWER", "busy": "BUSY", "noanswer": "NOANSWER", "failed": "CONGESTION"}


class SpeakingDialogue:
    """A Dialogue that also writes each output as the call would say it (for the terminal)."""

    def __init__(self, dialogue: Any, write: Write) -> None:
        self._dialogue = dialogue
        self._write = write

    def _show(self, result: tuple[Session, Output]) -> tuple[Session, Output]:
        session, output = result
        self._write(render(output, "ivr", session.lang))
        return result

    async def begin(self, menu: str, **kw: Any) -> tuple[Session, Output]:
        return self._show(await self._dialogue.begin(menu, **kw))

    async def resume(self, session: Session, inp: Input, **kw: Any) -> tuple[Session, Output]:
        return self._show(await self._dialogue.resume(session, inp, **kw))


class InteractiveCaller(AsteriskSimulator):
    """The Asterisk stand-in whose caller is the terminal: keys are asked for when needed."""

    def __init__(self, reactor: Any, read: ReadLine, write: Write, **options: Any) -> None:
        super().__init__(reactor, (), **options)
        self._read_line = read
        self._write = write

    def lineReceived(self, line: bytes) -> None:
        text = line.decode("utf-8", errors="replace")
        argv = tokenize(text)
        name = find_command(argv) or ""
        app = argv[1].lower() if name == "exec" and len(argv) > 1 else ""
        self._write(f"    [agi] {text}\n")
        wants_keys = name in ("get data", "wait for digit") or app == "read"
        if self.dead or self.script or self.dtmf or not (wants_keys or app == "dial"):
            super().lineReceived(line)
            return
        question = "  transfer outcome (answered/busy/noanswer/failed)? " if app == "dial" else "> "
        Deferred.fromCoroutine(self._read_line(question)).addCallback(
            self._answered, line, app == "dial"
        )

    def _answered(self, answer: str | None, line: bytes, dialing: bool) -> None:
        value = (answer or "").strip()
        if answer is None or value.lower() in ("q", "quit", "hangup"):
            self.script.append(HANGUP)
        elif dialing:
            self.script.append(Dial(_DIAL.get(value.lower() or "answered", "CONGESTION")))
        else:
            self.script.append(value if value else SILENCE)
        super().lineReceived(line)


async def call(
    reactor: Any,
    dialogue: Any,
    *,
    menu: str,
    msisdn: str,
    lang: str,
    read: ReadLine,
    write: Write,
) -> AsteriskSimulator:
    """One interactive call through a FastAGI server on a free loopback port."""
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    from ivr.server import FastAGIFactory, listen_fastagi

    factory = FastAGIFactory(
        SpeakingDialogue(dialogue, write),
        clock=reactor,
        default_menu=menu,
        transfer_targets={"operator": "SIP/operator"},
    )
    port = listen_fastagi(reactor, 0, factory, interface="127.0.0.1")
    try:
        number = port.getHost().port
        caller = InteractiveCaller(
            reactor, read, write, menu=menu, callerid=msisdn, language=lang, port=number
        )
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", number), caller)
        await caller.done
        return caller
    finally:
        await port.stopListening()
