"""An Asterisk stand-in for FastAGI: the channel side of ``AGI(agi://host:port/<menu>)``.

It follows res_agi.c where it matters to a server: the exact order of the ``agi_*`` block,
Asterisk's tokenizer (space/tab separated, double quotes, backslash escapes, a trailing ``\\r``
stays in the last word), the reply lines, the out-of-band ``HANGUP`` and dead-channel 511s,
and type-ahead DTMF. A media command that is still "running" when the next line arrives is
aborted without a reply, as Asterisk does, and recorded as ``aborted``.

The caller is a script of steps consumed by media commands:
  * ``"123"``            keys typed when the next GET DATA / WAIT FOR DIGIT listens;
  * ``TypeAhead("1")``   keys pressed now: they interrupt the next prompt with those escape digits;
  * ``SILENCE``          the next GET DATA times out with nothing typed;
  * ``HANGUP``           the caller hangs up during the next media command.
No real time passes: a timeout is answered at once with its ``(timeout)`` result.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IDelayedCall, IReactorTCP, IReactorTime
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from ivr.simulator_rules import (
    DEAD_OK,
    MEDIA,
    SAMPLES_PER_PROMPT,
    bad_syntax,
    env_lines,
    find_command,
    tokenize,
    usage_reply,
)


@dataclass(frozen=True, slots=True)
class TypeAhead:
    """Keys pressed at once: they end the next prompt that accepts them and then feed GET DATA."""

    keys: str


@dataclass(frozen=True, slots=True)
class _Marker:
    name: str

    def __repr__(self) -> str:
        return self.name


SILENCE = _Marker("SILENCE")
HANGUP = _Marker("HANGUP")
CallerStep = str | TypeAhead | _Marker


class AsteriskSimulator(LineReceiver):
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
        args: Sequence[str] = (),
        host: str = "127.0.0.1",
        port: int = 4573,
        uniqueid: str = "1764100000.1",
    ) -> None:
        self.reactor = reactor
        self.script: deque[CallerStep] = deque(script)
        self.env = env_lines(
            script=menu,
            host=host,
            port=port,
            callerid=callerid,
            language=language,
            uniqueid=uniqueid,
            args=args,
        )
        self.missing = frozenset(missing_files)
        self.transcript: list[tuple[str, str]] = []
        self.variables: dict[str, str] = {}
        self.dtmf = ""  # keys pressed and not yet consumed
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
        self.transcript.append(("reply", line))
        self.sendLine(line.encode("utf-8"))

    def _caller_hangup(self) -> None:
        self.dead = True
        self.transcript.append(("hangup", "caller"))
        self.sendLine(b"HANGUP")

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
        elif name == "verbose":
            self._reply("200 result=1")
        else:  # noop, exec
            self._reply("200 result=0")

    # ------------------------------------------------------------------ media

    def _run_media(self, name: str, argv: list[str]) -> None:
        self._running = None
        if self.script and self.script[0] == HANGUP:
            self.script.popleft()
            self._reply("200 result=-1" + (" endpos=4000" if name == "stream file" else ""))
            self._caller_hangup()
            return
        if self.script and isinstance(self.script[0], TypeAhead):
            step = self.script.popleft()
            assert isinstance(step, TypeAhead)
            self.dtmf += step.keys
        if name == "get data":
            self._get_data(argv)
        elif name == "wait for digit":
            self._take_typed()
            key = self._pop_key()
            self._reply(f"200 result={ord(key)}" if key else "200 result=0")
        else:
            self._playback(name, argv)

    def _playback(self, name: str, argv: list[str]) -> None:
        """STREAM FILE / SAY DIGITS / SAY ALPHA: play, stop early on an escape digit."""
        if name == "stream file":
            self.transcript.append(("play", argv[2]))
            if argv[2] in self.missing:
                offset = argv[4] if len(argv) > 4 else "0"
                self._reply(f"200 result=-1 endpos={offset}")
                return
        else:
            self.transcript.append((name.replace(" ", "_"), argv[2]))
        escape = argv[3]
        key = ""
        while self.dtmf:  # keys that are not escape digits are swallowed by the playback
            candidate = self._pop_key()
            if candidate in escape:
                key = candidate
                self.transcript.append(("key", key))
                break
        result = str(ord(key)) if key else "0"
        if name == "stream file":
            endpos = SAMPLES_PER_PROMPT // 2 if key else SAMPLES_PER_PROMPT
            self._reply(f"200 result={result} endpos={endpos}")
        else:
            self._reply(f"200 result={result}")

    def _get_data(self, argv: list[str]) -> None:
        self.transcript.append(("play", argv[2]))
        if argv[2] in self.missing:
            self._reply("200 result=-1")
            return
        max_digits = int(argv[4]) if len(argv) > 4 and argv[4].lstrip("-").isdigit() else 0
        max_digits = max_digits if max_digits > 0 else 1024
        if not self.dtmf and self.script and self.script[0] == SILENCE:
            self.script.popleft()
        else:
            self._take_typed()
        digits = ""
        while self.dtmf:
            key = self._pop_key()
            if key == "#":
                self.transcript.append(("key", digits + "#"))
                self._reply(f"200 result={digits}")
                return
            digits += key
            if len(digits) >= max_digits:
                self.transcript.append(("key", digits))
                self._reply(f"200 result={digits}")
                return
        self.transcript.append(("key", digits) if digits else ("timeout", argv[2]))
        self._reply(f"200 result={digits} (timeout)")

    def _take_typed(self) -> None:
        """The caller answers now: the next plain-key step joins the DTMF buffer."""
        if self.script and isinstance(self.script[0], str):
            self.dtmf += str(self.script.popleft())

    def _pop_key(self) -> str:
        key, self.dtmf = self.dtmf[:1], self.dtmf[1:]
        return key


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
