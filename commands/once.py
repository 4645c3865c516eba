"""Run one tool's coroutine under the reactor and exit with its code."""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from typing import Any


def run_once(work: Callable[[Any], Coroutine[Any, Any, int]]) -> int:
    """``work(reactor)``'s exit code; an error it raises is printed and exits 1."""
    from twisted.internet import defer, reactor

    result: list[int] = []

    def start() -> None:
        d = defer.ensureDeferred(work(reactor))
        d.addCallback(result.append)
        d.addErrback(lambda f: print(f"hotline: {f.getErrorMessage()}", file=sys.stderr))
        d.addBoth(lambda _: reactor.stop())  # type: ignore[attr-defined]

    reactor.callWhenRunning(start)  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]
    return result[0] if result else 1
