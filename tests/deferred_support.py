"""Shared by engine-level tests: run a coroutine that must finish without the reactor."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred


def finished_value(coro: Any) -> Any:
    """The value of a coroutine that finished synchronously (fails if it is still waiting)."""
    d = Deferred.fromCoroutine(coro)
    out: list[Any] = []
    d.addBoth(out.append)
    assert out, "the coroutine is still waiting"
    if hasattr(out[0], "raiseException"):
        out[0].raiseException()
    return out[0]
