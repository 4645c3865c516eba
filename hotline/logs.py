"""Log output for ``hotline serve``/``demo``: one line per event, phone and ID numbers masked.

Most packages log through ``twisted.logger``; ``ivr/`` logs through structlog. Both end in the
same ``MaskingObserver``: one line shape (``<local time> [<level>] <text>``), masking, and one
flush per reactor turn for both.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import LogLevel, formatEvent, globalLogBeginner

from hotline.pii import mask_text


class MaskingObserver:
    """Writes each event as one masked line.

    With a ``clock`` the lines written during one reactor turn are flushed together at the end
    of that turn (a busy server logs a line per USSD hop; a flush, i.e. a write(2), per line was
    costly). A process killed mid-turn loses at most that turn's lines. Without a clock
    every line is flushed at once.
    """

    def __init__(
        self, stream: IO[str], clock: IReactorTime | None = None, level: str = "debug"
    ) -> None:
        self.stream = stream
        self.clock = clock
        # events below ``level`` are dropped here: one comparison instead of Twisted's
        # FilteringLogObserver with a per-namespace predicate (we only use one level)
        self._levels = frozenset(lv for lv in LogLevel.iterconstants()
                                 if lv >= LogLevel.levelWithName(level))
        self._flush_pending = False
        self._second = -1
        self._stamp = ""

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("log_level") not in self._levels:
            return
        text = event_text(event)
        failure = event.get("log_failure")
        if failure is not None:
            text = f"{text}\n{failure.getTraceback()}"
        level = getattr(event.get("log_level"), "name", "info")
        self.write_line(level, mask_text(text), event.get("log_time", 0))

    def write_line(self, level: str, text: str, log_time: float) -> None:
        """One line whose text is already masked (structlog's, or the event's above)."""
        self.stream.write(f"{self._stamp_of(log_time)} [{level}] {text}\n")
        if self.clock is None:
            self.stream.flush()
        elif not self._flush_pending:
            self._flush_pending = True
            self.clock.callLater(0, self._flush)

    def _stamp_of(self, log_time: float) -> str:
        """Local time to the second, formatted once per second rather than once per line."""
        second = int(log_time)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(second))
        return self._stamp

    def _flush(self) -> None:
        self._flush_pending = False
        self.stream.flush()


def event_text(event: dict[str, Any]) -> str:
    """``formatEvent``'s text, through ``str.format_map`` when the format is plain.

    Twisted formats with ``string.Formatter`` in Python (its ``{f()}`` call syntax needs that);
    that was much of the cost of a log line. A format without a call, and events Twisted flattened,
    take Twisted's own path, as does any format ``format_map`` cannot fill.
    """
    fmt = event.get("log_format")
    if type(fmt) is str and "()" not in fmt and "log_flattened" not in event:
        try:
            return fmt.format_map(event)
        except Exception:  # Twisted's path below describes what went wrong
            pass
    return formatEvent(event)


def start_logging(
    stream: IO[str] = sys.stdout, level: str = "info", clock: IReactorTime | None = None
) -> None:
    """Send every event to ``stream`` at ``level`` and above (``clock``: see MaskingObserver)."""
    observer = MaskingObserver(stream, clock, level)
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    configure_structlog("warning" if level == "warn" else level, observer)


def configure_structlog(level: str = "info", observer: MaskingObserver | None = None) -> None:
    """structlog events (ivr/) get the same masking and line shape as Twisted's, written by
    ``observer`` (default: a MaskingObserver on stdout). Rendered here as ``event key=value
    ...`` in the order given: structlog's ConsoleRenderer and TimeStamper (padded columns, a
    strftime per line) were a visible share of a FastAGI call's CPU."""
    import logging

    import structlog

    from hotline.pii import mask_pii

    sink = _LineSink(observer or MaskingObserver(sys.stdout))
    structlog.configure(
        processors=[mask_pii, structlog.processors.format_exc_info, _one_line],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=lambda *_: sink,
    )


def _one_line(_logger: Any, _method: str, event: dict[str, Any]) -> str:
    text = str(event.pop("event", ""))
    trace = event.pop("exception", None)
    if event:
        text += " " + " ".join(f"{key}={value}" for key, value in event.items())
    if trace:
        text += "\n" + str(trace)
    return mask_text(text)  # values mask_pii could not see (numbers inside lists, say)


def _writer(level: str) -> Any:
    def write(self: _LineSink, text: str) -> None:
        self._observer.write_line(level, text, time.time())

    return write


class _LineSink:
    """structlog's logger: each method writes the rendered line at its level."""

    def __init__(self, observer: MaskingObserver) -> None:
        self._observer = observer

    debug = _writer("debug")
    info = msg = _writer("info")
    warning = warn = _writer("warn")
    error = exception = _writer("error")
    critical = fatal = _writer("critical")
