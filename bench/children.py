"""The processes a benchmark starts (servers, peers, redis-server), stopped whenever it exits.

A ``finally`` alone is not enough: a check that fails with ``sys.exit`` before the ``try``, a
``SIGTERM``, or a bench run under ``task.react`` (when the reactor stops, a suspended coroutine's
``finally`` never runs) each left a redis-server or a peer running. Every child is registered
here the moment it is started; an ``atexit`` hook stops whatever is still running, and
``SIGTERM``/``SIGHUP`` become a normal exit so that hook runs. A runner that has to kill a bench
(``tests/bench_runner.py`` on a timeout) kills its whole process group.
"""

from __future__ import annotations

import atexit
import signal
import subprocess
import sys
from typing import Any, TypeVar

Child = TypeVar("Child")
_running: list[Any] = []


def started(child: Child) -> Child:
    """Register a ``subprocess.Popen`` or a ``RedisProcess`` (anything with ``stop()``) to be
    stopped at exit; returns it, so ``proc = started(Popen(...))``."""
    if not _running:
        atexit.register(stop_all)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    _running.append(child)
    return child


def stop(child: Any, timeout: float = 10.0) -> None:
    """Stop one child now (SIGTERM, then SIGKILL after ``timeout``); a no-op if it has ended."""
    if child in _running:
        _running.remove(child)
    if not isinstance(child, subprocess.Popen):
        child.stop()
        return
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def stop_all() -> None:
    """Stop every registered child, the last started first."""
    while _running:
        stop(_running[-1])
