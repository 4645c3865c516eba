"""FastAGI line protocol (the pure parsers live in ``ivr.agi_wire`` and are re-exported here).

``AgiProtocol`` is the thin Twisted shell: it reads the environment, then keeps exactly one
command in flight (Asterisk silently aborts a running media command when another line
arrives), tracks the out-of-band ``HANGUP`` line and closes the socket when anything unexpected
arrives. See docs/ivr.md.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog
from twisted.internet.defer import Deferred, TimeoutError
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from fastpath.send import write_now
from ivr.agi_wire import (
    HANGUP_LINE,
    USAGE_END,
    AgiEnv,
    AgiError,
    AgiReply,
    Quoted,
    _excerpt,
    format_command,
    parse_env,
    parse_reply,
    quote,
)

log = structlog.get_logger("ivr.agi")


class CallEnded(Exception):
    """The socket closed before the command got its reply."""


class _Pending:
    """One command: its line, its reply timeout (seconds) and its Deferred."""

    __slots__ = ("deferred", "line", "sent", "timeout", "usage")

    def __init__(self, line: str, timeout: float, deferred: Deferred[AgiReply]) -> None:
        self.line = line
        self.timeout = timeout
        self.deferred = deferred
        self.usage: list[str] | None = None  # the lines of a multi-line 520 so far
        self.sent = 0.0  # time.monotonic() when it went on the wire


def _nothing(*_: object) -> None:
    """The callback of an owner that has not set one (or of a closed call)."""


class AgiProtocol(LineReceiver):
    """One FastAGI connection. Subclasses/owners set ``on_env`` and ``on_hangup``.

    ``command()`` queues; only the head of the queue is on the wire. A reply fires its Deferred
    with the AgiReply (any code). The out-of-band ``HANGUP`` sets ``hung_up`` and calls
    ``on_hangup`` but does not consume a reply; Asterisk still answers the running command.
    """

    delimiter = b"\n"
    MAX_LENGTH = 8192
    # (command word, outcome, seconds) for each command settled: ok, failed (result -1),
    # error (5xx), timeout or hangup; the metrics (metrics)
    on_command: Callable[[str, str, float], None] | None = None

    def __init__(
        self,
        clock: IReactorTime,
        *,
        env_timeout: float = 10.0,
        on_latency: Callable[[float], None] | None = None,
    ) -> None:
        self.clock = clock
        self.on_latency = on_latency  # seconds from a peer line to our next command (bench)
        self._heard: float | None = None
        self.env_timeout = env_timeout
        # One timer per connection serves the environment deadline and every command's reply
        # deadline: it is moved, not re-created, per command (see _arm).
        self._timer: IDelayedCall | None = None
        self._deadline = 0.0  # when the thing we wait for (env or in-flight reply) is late
        self.env: AgiEnv | None = None
        self.hung_up = False
        self.closed = False
        self.close_reason = ""  # set when we close because the peer broke the protocol
        self.on_env: Callable[[AgiEnv], None] = _nothing
        self.on_hangup: Callable[[], None] = _nothing
        self.on_closed: Callable[[], None] = _nothing
        self._env_lines: list[str] = []
        self._queue: deque[_Pending] = deque()
        self._in_flight: _Pending | None = None
        self._log: Any = None

    @property
    def log(self) -> Any:
        """This call's logger (call id and menu bound), built on first use: most calls log only
        their record, and binding a structlog proxy per call cost more than that line."""
        if self._log is None:
            env = self.env
            self._log = log if env is None else log.bind(call=env.uniqueid[-12:], menu=env.script)
        return self._log

    def connectionMade(self) -> None:
        self._arm(self.env_timeout)

    # ------------------------------------------------------------------ deadlines

    def _arm(self, timeout: float) -> None:
        """Be woken at now + ``timeout``. A timer due earlier is kept (on waking it re-arms for
        the deadline then current); only a timer due later is replaced: a command costs no
        timer of its own, as a ``callLater`` and a ``cancel`` per command did."""
        now = self.clock.seconds()
        self._deadline = now + timeout
        timer = self._timer
        if timer is not None:
            if timer.getTime() <= self._deadline:
                return
            timer.cancel()
        self._timer = self.clock.callLater(timeout, self._wake)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _wake(self) -> None:
        self._timer = None
        if self.closed:
            return
        waiting = self.env is None or self._in_flight is not None
        if not waiting:
            return  # nothing outstanding: the next command arms afresh
        late = self._deadline - self.clock.seconds()
        if late > 0:
            self._timer = self.clock.callLater(late, self._wake)
        elif self.env is None:
            self._no_env()
        else:
            self._timed_out()

    def _no_env(self) -> None:
        """A peer that connects but sends no environment (a scanner, a stuck proxy) is dropped."""
        self.log.warning("agi.no_environment", after_s=self.env_timeout)
        self.close()

    def _timed_out(self) -> None:
        """No reply in time: replies are now out of step, so close (as a cancel does)."""
        pending = self._in_flight
        assert pending is not None
        self.log.warning("agi.command_timeout", command=pending.line.split(" ")[0])
        self._in_flight = None
        self.close()
        if not pending.deferred.called:
            pending.deferred.errback(TimeoutError(pending.timeout, "Deferred"))

    # ------------------------------------------------------------------ commands

    def command(self, *words: str, timeout: float = 30.0) -> Deferred[AgiReply]:
        """Queue one command; its Deferred fires with the reply or fails with CallEnded."""
        pending = _Pending(format_command(*words), timeout, Deferred(self._cancelled))
        if self.closed:
            pending.deferred.errback(CallEnded(pending.line))
            return pending.deferred
        self._queue.append(pending)
        self._send_next()
        return pending.deferred

    def _send_next(self) -> None:
        if self._in_flight is not None or not self._queue or self.closed:
            return
        pending = self._in_flight = self._queue.popleft()
        self._arm(pending.timeout)
        pending.sent = time.monotonic()
        write_now(self.transport, pending.line.encode("utf-8") + b"\n")
        if self._heard is not None and self.on_latency is not None:
            self.on_latency(time.perf_counter() - self._heard)
        self._heard = None

    def _cancelled(self, d: Deferred[AgiReply]) -> None:
        """A command timed out (or was cancelled): replies are now out of step, so close."""
        if self._in_flight is not None and self._in_flight.deferred is d:
            self.log.warning("agi.command_timeout", command=self._in_flight.line.split(" ")[0])
            self._settled(self._in_flight, "timeout")
            self._in_flight = None
        self.close()

    def _complete(self, reply: AgiReply) -> None:
        pending, self._in_flight = self._in_flight, None
        assert pending is not None
        if self.on_command is not None:
            self._settled(pending, "error" if reply.code != 200 else
                          "failed" if reply.result == "-1" else "ok")
        pending.deferred.callback(reply)
        self._send_next()

    def _settled(self, pending: _Pending, outcome: str) -> None:
        if self.on_command is not None and pending.sent:
            self.on_command(pending.line.split(" ", 1)[0], outcome,
                            time.monotonic() - pending.sent)
            pending.sent = 0.0  # reported once

    # ------------------------------------------------------------------ input

    def lineReceived(self, line: bytes) -> None:
        if self.closed:
            return
        if self.on_latency is not None:
            self._heard = time.perf_counter()
        try:
            self._line(line.decode("utf-8"))
        except (AgiError, UnicodeDecodeError) as err:
            self.log.warning("agi.garbage", error=str(err))
            self.close_reason = "protocol error"
            self.close()

    def _line(self, text: str) -> None:
        if self.env is None:
            if text:
                if len(self._env_lines) >= 256:
                    raise AgiError("environment too long")
                self._env_lines.append(text)
                return
            self.env = parse_env(self._env_lines)
            self._log = None  # bind the call id on first use
            self.on_env(self.env)
            if self._in_flight is None:  # no command yet: nothing to wait for
                self._disarm()
            return
        if text == HANGUP_LINE:
            if not self.hung_up:
                self.hung_up = True
                self.log.info("agi.hangup")
                self.on_hangup()
            return
        pending = self._in_flight
        if pending is None:
            raise AgiError(f"reply without a command {_excerpt(text)}")
        if pending.usage is not None:  # inside a multi-line 520
            pending.usage.append(text)
            if text == USAGE_END:
                self._complete(AgiReply(520, text="\n".join(pending.usage)))
            elif len(pending.usage) > 200:
                raise AgiError("520 usage text too long")
            return
        if text.startswith("520-"):
            pending.usage = [text]
            return
        self._complete(parse_reply(text))

    def lineLengthExceeded(self, line: bytes) -> None:
        self.log.warning("agi.line_too_long", length=len(line))
        self.close_reason = "protocol error"
        self.close()

    # ------------------------------------------------------------------ teardown

    def close(self) -> None:
        """Close the socket; Asterisk ends AGI only when we do."""
        if self.transport is not None and not self.closed:
            self.transport.loseConnection()
        self._fail_all()

    def connectionLost(self, reason: Failure | None = None) -> None:
        self._fail_all()

    def _fail_all(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._disarm()
        waiting = ([self._in_flight] if self._in_flight else []) + list(self._queue)
        self._in_flight = None
        self._queue.clear()
        for pending in waiting:
            self._settled(pending, "hangup")
            if not pending.deferred.called:
                pending.deferred.errback(CallEnded(pending.line))
        on_closed = self.on_closed
        # The owners' callbacks refer back to this protocol (a cycle): dropping them lets the
        # call's objects go by reference counting instead of waiting for the cyclic collector.
        self.on_env = self.on_hangup = self.on_closed = _nothing
        on_closed()


__all__ = [
    "AgiEnv",
    "AgiError",
    "AgiProtocol",
    "AgiReply",
    "CallEnded",
    "Quoted",
    "format_command",
    "parse_env",
    "parse_reply",
    "quote",
]
