"""Log output for ``hotline serve``/``demo``: one line per event, phone and ID numbers masked.

Most packages log through ``twisted.logger``; ``ivr/`` logs through structlog. Both end in the
same ``MaskingObserver``: one line shape, masking (``pii.mask_text``), and one flush per reactor
turn for both. Two shapes (``log.format``):

- ``text`` (the default, for a terminal): ``<local time> [<level>] <event> key=value ...``.
- ``json``: one object per line for a log collector, ``{"ts", "level", "event", <fields>,
  "msg"}``: ``ts`` in UTC (ISO 8601, ms), ``event`` the line's stable dotted name
  (``booking.taken``, ``ussd.hop``; a line without one, such as Twisted's own, is named by its
  logger's namespace), the line's ``key=value`` pairs as fields, ``msg`` the whole text line.
  structlog events (``ivr``) keep their own keys, rendered by structlog's JSONRenderer.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import time
from typing import IO, Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import LogLevel, formatEvent, globalLogBeginner

from pii import mask_text

FORMATS = ("text", "json")
_NAME = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+(?=\s|$)")
_FIELD = re.compile(r"(?<!\S)([A-Za-z_]\w*)=(\S+)")
_RESERVED = frozenset({"ts", "level", "event", "msg"})


def check_format(value: object) -> str:
    """``log.format``: ``text`` or ``json``."""
    if value not in FORMATS:
        raise ValueError(f"settings: log.format must be one of {', '.join(FORMATS)}, "
                         f"got {value!r}")
    return str(value)


def utc_stamp(log_time: float) -> str:
    """``2026-12-04T02:15:02.153Z``."""
    stamp = dt.datetime.fromtimestamp(log_time, dt.UTC).isoformat(timespec="milliseconds")
    return stamp[:-6] + "Z"  # "+00:00"


def json_fields(text: str, namespace: str) -> dict[str, Any]:
    """The ``json`` shape of a (masked) text line: its event name and its key=value pairs."""
    head = text.split("\n", 1)[0]
    name = _NAME.match(head)
    record: dict[str, Any] = {"event": name.group(0) if name else namespace or "log"}
    for key, value in _FIELD.findall(head):
        if key not in _RESERVED:
            record.setdefault(key, value)
    record["msg"] = text
    return record


class MaskingObserver:
    """Writes each event as one masked line.

    With a ``clock`` the lines written during one reactor turn are flushed together at the end
    of that turn (a busy server logs a line per USSD hop; a flush, i.e. a write(2), per line was
    costly). A process killed mid-turn loses at most that turn's lines. Without a clock
    every line is flushed at once.
    """

    def __init__(
        self, stream: IO[str], clock: IReactorTime | None = None, level: str = "debug",
        fmt: str = "text",
    ) -> None:
        self.stream = stream
        self.json = check_format(fmt) == "json"
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
        if self.json:
            record = {"ts": utc_stamp(event.get("log_time", 0)), "level": level,
                      **json_fields(mask_text(text), event.get("log_namespace", ""))}
            self.write_raw(_render_json(None, level, record))
            return
        self.write_line(level, mask_text(text), event.get("log_time", 0))

    def write_line(self, level: str, text: str, log_time: float) -> None:
        """One line whose text is already masked (structlog's, or the event's above)."""
        self.write_raw(f"{self._stamp_of(log_time)} [{level}] {text}")

    def write_raw(self, line: str) -> None:
        """One whole line, already masked and shaped."""
        self.stream.write(line + "\n")
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
    stream: IO[str] = sys.stdout, level: str = "info", clock: IReactorTime | None = None,
    fmt: str = "text",
) -> None:
    """Send every event to ``stream`` at ``level`` and above (``clock``: see MaskingObserver)
    in the ``fmt`` shape (``log.format``)."""
    observer = MaskingObserver(stream, clock, level, fmt)
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    configure_structlog("warning" if level == "warn" else level, observer)


def configure_structlog(level: str = "info", observer: MaskingObserver | None = None) -> None:
    """structlog events (ivr/) get the same masking and line shape as Twisted's, written by
    ``observer`` (default: a MaskingObserver on stdout). Rendered here as ``event key=value
    ...`` in the order given: structlog's ConsoleRenderer and TimeStamper (padded columns, a
    strftime per line) were a visible share of a FastAGI call's CPU."""
    import logging

    import structlog

    from pii import mask_pii

    observer = observer or MaskingObserver(sys.stdout)
    sink = _LineSink(observer)
    shape: list[Any] = [_one_line]
    if observer.json:  # the same keys as the Twisted lines' (ts, level, event), then its own
        shape = [_json_head, _render_json]
    structlog.configure(
        processors=[mask_pii, structlog.processors.format_exc_info, *shape],
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


def _json_head(_logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    level = {"warn": "warn", "warning": "warn", "exception": "error", "msg": "info"}
    return {"ts": utc_stamp(time.time()), "level": level.get(method, method),
            "event": event.pop("event", ""), **event}


def _render_json(logger: Any, method: str, record: Any) -> str:
    """structlog's JSONRenderer (UTF-8 text, not escapes), then the masking once more over the
    whole line: values mask_pii could not see (numbers inside lists, say)."""
    import structlog

    global _JSON
    if _JSON is None:
        _JSON = structlog.processors.JSONRenderer(ensure_ascii=False)
    return mask_text(str(_JSON(logger, method, record)))


_JSON: Any = None


def _writer(level: str) -> Any:
    def write(self: _LineSink, text: str) -> None:
        if self._observer.json:
            self._observer.write_raw(text)
        else:
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
