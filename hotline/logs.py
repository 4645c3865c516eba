"""Log output for ``hotline serve``/``demo``: one line per event, phone and ID numbers masked.

Every package logs through ``twisted.logger``; this observer is the single place where events
become text, so masking here covers Twisted's own events too.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from twisted.logger import (
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    formatEvent,
    globalLogBeginner,
)

from hotline.pii import mask_text


class MaskingObserver:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, event: dict[str, Any]) -> None:
        text = formatEvent(event)
        failure = event.get("log_failure")
        if failure is not None:
            text = f"{text}\n{failure.getTraceback()}"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(event.get("log_time", 0)))
        level = getattr(event.get("log_level"), "name", "info")
        self.stream.write(f"{stamp} [{level}] {mask_text(text)}\n")
        self.stream.flush()


def start_logging(stream: IO[str] = sys.stdout, level: str = "info") -> None:
    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(level))
    observer = FilteringLogObserver(MaskingObserver(stream), [predicate])
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    configure_structlog("warning" if level == "warn" else level)


def configure_structlog(level: str = "info") -> None:
    """structlog events (ivr/) get the same masking and one-line format as Twisted's."""
    import logging

    import structlog

    from hotline.pii import mask_pii

    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="%Y-%m-%dT%H:%M:%S", utc=False),
            mask_pii,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
    )
