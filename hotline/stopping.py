"""Undo what was started, newest first: one shared loop for the app and its parts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.logger import Logger

log = Logger()


async def stop_all(stoppers: list[Callable[[], Any]], what: str) -> None:
    """Call each stopper in reverse order, awaiting Deferreds/coroutines; a failure is logged
    and the rest still run (a stuck SMPP unbind must not leave Redis running)."""
    for stop in reversed(stoppers):
        try:
            result = stop()
            if hasattr(result, "addBoth") or hasattr(result, "__await__"):
                await result
        except Exception:
            log.failure("{what}.stop_failed", what=what)
    stoppers.clear()
