"""An Asterisk stand-in for FastAGI: the channel side of ``AGI(agi://host:port/<menu>)``.

It follows res_agi.c where it matters to a server: the exact order of the ``agi_*`` block,
Asterisk's tokenizer (space/tab separated, double quotes, backslash escapes, a trailing ``\\r``
stays in the last word), the reply lines, the out-of-band ``HANGUP`` and dead-channel 511s,
and type-ahead DTMF. A media command that is still "running" when the next line arrives is
aborted without a reply, as Asterisk does, and recorded as ``aborted``.

The caller is a script of steps consumed by media commands:
  * ``"123"``            keys typed at once when the next GET DATA / WAIT FOR DIGIT listens;
  * ``Keys("123", after=1.0, gap=0.4)``  the same with timing: the first key ``after`` s, then one
                         every ``gap`` s; a pause longer than GET DATA's timeout ends the entry
                         with ``(timeout)`` and the later keys land in the next command;
  * ``TypeAhead("1")``   keys pressed now: they interrupt the next prompt with those escape digits;
  * ``SILENCE``          the next GET DATA times out with nothing typed;
  * ``HANGUP``           the caller hangs up during the next media command (or during Dial);
  * ``Dial("BUSY")``     the outcome of the next ``EXEC Dial`` (DIALSTATUS);
  * ``Garbage("x")``     a line that is not AGI is sent before the next reply.
Sounds: given ``sounds`` (the built set, ``{lang: names}``, e.g. from
``ivr.prompts.available_prompts``), a file that is not in it for the channel's language
(``agi_language``, then ``SET VARIABLE CHANNEL(language)``) is a fault: stricter than Asterisk,
which plays nothing (``-1`` for STREAM FILE / GET DATA, a log line inside Read and Playback), the
simulator records it in ``faults`` and the caller, having heard silence, hangs up.
``lenient=True`` keeps Asterisk's behaviour; without ``sounds`` every file exists except
``missing_files``. No real time passes. Media take virtual time (a prompt 2 s, a digit 0.5 s,
GET DATA the keying and its timeouts); with ``clock=`` a ``task.Clock`` is advanced by it before
each reply, so the server's reply deadlines on that Clock fire exactly as they would on a real
call.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IDelayedCall, IReactorTCP, IReactorTime
from twisted.internet.task import Clock
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from ivr.simulator_apps import AppsMixin
from ivr.simulator_rules import (
    DEAD_OK,
    MEDIA,
    Press,
    bad_syntax,
    env_lines,
    expand,
    find_command,
    tokenize,
    usage_reply,
)
from ivr.simulator_steps import (
    HANGUP,
    SILENCE,
    CallerStep,
    Dial,
    Garbage,
    Keys,
    TypeAhead,
)

__all__ = [
    "HANGUP",
    "SILENCE",
    "AsteriskSimulator",
    "CallerStep",
    "Dial",
    "Garbage",
    "Keys",
    "TypeAhead",
    "place_call",
]


class AsteriskSimulator(AppsMixin, LineReceiver):
    """One simulated call. ``transcript`` is a list of ``(kind, value)`` events; ``done`` fires
    with the simulator when the server closes the socket."""

    delimiter = b"\n"
    MAX_LENGTH = 8192

    def __init__(
        self,
        reactor: IReactorTime,
        script: Iterable[CallerStep] = (),
        *,
        menu: str = "booking",
        callerid: str | None = "13800138000",
        language: str = "zh",
        missing_files: Iterable[str] = (),
        broken_media: bool = False,
        missing_apps: Iterable[str] = (),
        args: Sequence[str] = (),
        host: str = "127.0.0.1",
        port: int = 4573,
        uniqueid: str = "1764100000.1",
        clock: Clock | None = None,
        sounds: Mapping[str, Collection[str]] | None = None,
        lenient: bool = False,
        dnid: str = "12580",
    ) -> None:
        self.reactor = reactor
        self.clock = clock
        self.elapsed = 0.0  # virtual seconds of media so far
        self.script: deque[CallerStep] = deque(script)
        self.env = env_lines(
            script=menu,
            host=host,
            port=port,
            callerid=callerid,
            language=language,
            uniqueid=uniqueid,
            args=args,
            dnid=dnid,
        )
        self.missing = frozenset(missing_files)
        self.language = language
        self.sounds = sounds
        self.lenient = lenient
        self.faults: list[str] = []  # files played that the built sound set does not have
        self.broken_media = broken_media  # every file fails to play (a codec/media fault)
        self.missing_apps = {app.lower() for app in missing_apps}  # EXEC gives result=-2
        self.transcript: list[tuple[str, str]] = []
        self.variables: dict[str, str] = {}
        self.dtmf: list[Press] = []  # keys pressed (or about to be) and not yet consumed
        self.dead = False
        self.done: Deferred[AsteriskSimulator] = Deferred()
        self._running: tuple[IDelayedCall, str] | None = None

    # ------------------------------------------------------------------ views for tests

    def events(self, kind: str) -> list[str]:
        return [value for k, value in self.transcript if k == kind]

    @property
    def commands(self) -> list[str]:
        return self.events("cmd")

    @property
    def played(self) -> list[str]:
        return self.events("play")

    @property
    def said_digits(self) -> list[str]:
        return self.events("say_digits")

    def format_transcript(self) -> str:
        """The call as readable lines (for ``hotline simulate --channel ivr`` and failing tests)."""
        arrows = {"cmd": ">>", "reply": "<<"}
        return "\n".join(
            f"{arrows.get(kind, '--')} {value}" if kind in arrows else f"-- {kind} {value}".rstrip()
            for kind, value in self.transcript
        )

    # ------------------------------------------------------------------ connection

    def connectionMade(self) -> None:
        for line in self.env:
            self.sendLine(line.encode("utf-8"))

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self._running is not None:
            self._running[0].cancel()
            self._running = None
        self.transcript.append(("closed", ""))
        if not self.done.called:
            self.done.callback(self)

    def hang_up_now(self) -> None:
        """The caller hangs up while Asterisk is idle: only the ``HANGUP`` line is sent."""
        if not self.dead:
            self._caller_hangup()

    def _reply(self, line: str) -> None:
        if self.script and isinstance(self.script[0], Garbage):
            garbage = self.script.popleft()
            assert isinstance(garbage, Garbage)
            self.transcript.append(("garbage", garbage.line))
            self.sendLine(garbage.line.encode("utf-8"))
        self.transcript.append(("reply", line))
        self.sendLine(line.encode("utf-8"))

    def _caller_hangup(self) -> None:
        self.dead = True
        self.transcript.append(("hangup", "caller"))
        self.sendLine(b"HANGUP")

    def _spend(self, seconds: float) -> None:
        """Media take time: on the virtual timeline and, if given, on the shared Clock."""
        self.elapsed += seconds
        if self.clock is not None and seconds > 0:
            self.clock.advance(seconds)

    # ------------------------------------------------------------------ commands

    def lineReceived(self, line: bytes) -> None:
        text = line.decode("utf-8", errors="replace")
        self.transcript.append(("cmd", text))
        if self._running is not None:  # Asterisk drops the running command's result
            call, previous = self._running
            call.cancel()
            self._running = None
            self.transcript.append(("aborted", previous))
        argv = tokenize(text)
        name = find_command(argv)
        if name is None:
            self._reply("510 Invalid or unknown command")
            return
        if self.dead and name not in DEAD_OK:
            self._reply("511 Command Not Permitted on a dead channel or intercept routine")
            return
        if bad_syntax(name, argv):
            for reply_line in usage_reply(name):
                self._reply(reply_line)
            return
        if name in MEDIA:
            call = self.reactor.callLater(0, self._run_media, name, argv)
            self._running = (call, text)
            return
        self._run_plain(name, argv)

    def lineLengthExceeded(self, line: bytes) -> None:
        self.transcript.append(("too_long", str(len(line))))
        self.transport.loseConnection()

    def _run_plain(self, name: str, argv: list[str]) -> None:
        if name == "answer":
            self._reply("200 result=0")
        elif name == "hangup":
            self.transcript.append(("hangup", "server"))
            self._reply("200 result=1")
            self.dead = True
            self.sendLine(b"HANGUP")
        elif name == "set variable":
            self.variables[argv[2]] = argv[3]
            self._reply("200 result=1")
        elif name == "get variable":
            value = self.variables.get(argv[2])
            self._reply("200 result=0" if value is None else f"200 result=1 ({value})")
        elif name == "get full variable":
            self._reply(f"200 result=1 ({expand(argv[3], self.variables)})")
        elif name == "channel status":
            self._reply("200 result=6")  # Up (a dead channel got 511 above)
        elif name == "verbose":
            self._reply("200 result=1")
        elif name == "exec" and argv[1].lower() in self.missing_apps:
            self._reply("200 result=-2")
        elif name == "exec" and argv[1].lower() == "dial":
            self._dial(argv)
        elif name == "exec" and argv[1].lower() == "read":
            self._read(argv[2] if len(argv) > 2 else "")
        elif name == "exec" and argv[1].lower() == "playback":
            self._playback_app(argv[2] if len(argv) > 2 else "")
        else:  # noop, other apps
            self._reply("200 result=0")


def place_call(
    reactor: Any,
    port: int,
    script: Iterable[CallerStep] = (),
    *,
    host: str = "127.0.0.1",
    **options: Any,
) -> Deferred[AsteriskSimulator]:
    """Connect a simulated call to a FastAGI server; fires with the simulator when it ends."""
    tcp: IReactorTCP = reactor
    sim = AsteriskSimulator(reactor, script, host=host, port=port, **options)
    connected = connectProtocol(TCP4ClientEndpoint(tcp, host, port), sim)
    connected.addCallback(lambda _: sim.done)
    return connected
