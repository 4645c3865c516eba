"""Undo what was started, newest first: one shared loop for the app and its parts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, TimeoutError
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

log = Logger()

STEP_TIMEOUT_S = 10.0


async def stop_all(
    stoppers: list[Callable[[], Any]],
    what: str,
    *,
    clock: IReactorTime | None = None,
    step_timeout_s: float = STEP_TIMEOUT_S,
) -> None:
    """Call each stopper in reverse order, awaiting Deferreds/coroutines; a failure is logged
    and the rest still run (a stuck SMPP unbind must not leave Redis running).

    A step that has not finished after ``step_timeout_s`` is given up on, so one stuck part
    (e.g. a Redis pool whose server is already gone) cannot keep the process from exiting.
    """
    if clock is None:
        from twisted.internet import reactor

        clock = reactor  # type: ignore[assignment]
    for stop in reversed(stoppers):
        try:
            result = stop()
            if hasattr(result, "__await__") and not isinstance(result, Deferred):
                result = Deferred.fromCoroutine(result)
            if isinstance(result, Deferred):
                await result.addTimeout(step_timeout_s, clock)
        except TimeoutError:
            log.warn("{what}.stop_step_timed_out step={step} after={s}s", what=what,
                     step=getattr(stop, "__qualname__", repr(stop)), s=step_timeout_s)
        except Exception:
            log.failure("{what}.stop_failed", what=what)
    stoppers.clear()
