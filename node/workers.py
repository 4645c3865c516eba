"""The main process's side of ``node.workers``: spawn the workers, restart them, stop them.

Each worker is the command the wiring names (``python -m hotline.worker``), started with
``reactor.spawnProcess``: its stdin is the main's message pipe (``node.link``), its
stdout/stderr are the main's own (log lines of every process go to the same place, through the
same masking setup), fd 3 carries its messages back, and the shared listening sockets are mapped
to fds 4 and up. A worker that exits is started again after a backoff (0.5 s, doubling to 30 s
while it keeps dying young; logged); ``stop()`` closes every worker's stdin (a worker stops when
its stdin closes), kills the ones still there after ``stop_timeout_s`` and returns once all have
exited.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from twisted.internet import defer
from twisted.internet.error import ProcessDone, ProcessExitedAlready
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from metrics import process_ended
from node.link import WORKER_OUT_FD, LineBuffer, Message, encode, sms_from

log = Logger()

FIRST_FD = WORKER_OUT_FD + 1  # listening sockets are mapped from here on


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before restarting a worker that died ``failures`` times in a row, young."""

    first_s: float = 0.5
    max_s: float = 30.0
    stable_s: float = 10.0  # a worker that ran this long starts the count again

    def delay(self, failures: int) -> float:
        return float(min(self.max_s, self.first_s * 2 ** max(failures - 1, 0)))


class WorkerProcess(ProcessProtocol):
    """One worker as the main process sees it."""

    def __init__(self, supervisor: Supervisor, slot: int) -> None:
        self.supervisor = supervisor
        self.slot = slot
        self.pid: int | None = None
        self.ready = False
        self.started_at = time.monotonic()
        self.ended: defer.Deferred[None] = defer.Deferred()
        self._lines = LineBuffer(lambda message: supervisor.received(self, message))

    def connectionMade(self) -> None:
        self.pid = self.transport.pid  # type: ignore[union-attr]
        self.send(self.supervisor.boot)

    def send(self, message: Message) -> None:
        if self.transport is not None and not self.ended.called:
            self.transport.write(encode(message))

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        if childFD == WORKER_OUT_FD:
            self._lines.feed(data)

    def processEnded(self, reason: Failure) -> None:
        self.supervisor.ended(self, reason)
        self.ended.callback(None)


class Supervisor:
    """Keeps ``count`` workers running until ``stop()``."""

    def __init__(
        self,
        reactor: Any,
        count: int,
        boot: Message,
        fds: Mapping[str, int],
        *,
        sender: Any = None,
        backoff: Backoff | None = None,
        argv: list[str],
        stop_timeout_s: float = 10.0,
    ) -> None:
        self.reactor = reactor
        self.count = count
        self.sender = sender
        self.backoff = backoff or Backoff()
        self.argv = argv
        self.stop_timeout_s = stop_timeout_s
        self.child_fds: dict[int, int | str] = {0: "w", 1: 1, 2: 2, WORKER_OUT_FD: "r"}
        names: dict[str, int] = {}
        for n, (name, fd) in enumerate(sorted(fds.items())):
            self.child_fds[FIRST_FD + n] = fd
            names[name] = FIRST_FD + n
        self.boot: Message = {**boot, "op": "boot", "fds": names}
        self.workers: dict[int, WorkerProcess] = {}
        self.failures: dict[int, int] = {}
        self.restarts: dict[int, Any] = {}  # slot -> pending DelayedCall
        self.ready: defer.Deferred[list[int]] = defer.Deferred()  # every slot was ready once
        self.stopping = False
        self._bound: bool | None = None
        self._watch = LoopingCall(self._tick)
        self._watch.clock = reactor

    def start(self) -> None:
        for slot in range(1, self.count + 1):
            self._spawn(slot)
        if self.sender is not None:
            self._watch.start(1.0, now=False)

    def pids(self) -> list[int]:
        return [w.pid for w in self.workers.values() if w.pid is not None]

    def broadcast(self, message: Message) -> None:
        for worker in self.workers.values():
            worker.send(message)

    def _spawn(self, slot: int) -> None:
        self.restarts.pop(slot, None)
        if self.stopping:
            return
        worker = WorkerProcess(self, slot)
        self.workers[slot] = worker
        try:
            self.reactor.spawnProcess(
                worker, self.argv[0], self.argv, env=dict(os.environ), childFDs=self.child_fds
            )
        except OSError as err:  # out of processes or descriptors: try again later
            del self.workers[slot]
            failures = self.failures[slot] = self.failures.get(slot, 0) + 1
            delay = self.backoff.delay(failures)
            log.error("workers.spawn_failed slot={slot} ({err}); again in {delay:.1f}s",
                      slot=slot, err=err, delay=delay)
            self.restarts[slot] = self.reactor.callLater(delay, self._spawn, slot)
            return
        log.info("workers.spawned slot={slot} pid={pid}", slot=slot, pid=worker.pid)

    def received(self, worker: WorkerProcess, message: Message) -> None:
        op = message.get("op")
        if op == "ready":
            worker.ready = True
            log.info("workers.ready slot={slot} pid={pid}", slot=worker.slot, pid=worker.pid)
            if self.sender is not None:
                worker.send({"op": "sms_bound", "value": bool(self.sender.bound)})
            if not self.ready.called and all(w.ready for w in self.workers.values()) \
                    and len(self.workers) == self.count:
                self.ready.callback(self.pids())
        elif op == "sms" and self.sender is not None:
            try:
                self.sender.send(sms_from(message))
            except (KeyError, TypeError, ValueError):
                log.error("workers.bad_sms slot={slot}", slot=worker.slot)
        else:
            log.warn("workers.unknown_op slot={slot} op={op}", slot=worker.slot,
                     op=str(op)[:40])

    def ended(self, worker: WorkerProcess, reason: Failure) -> None:
        if self.workers.get(worker.slot) is worker:
            del self.workers[worker.slot]
        if worker.pid is not None:  # its live gauges leave the node's sums (metrics)
            process_ended(worker.pid)
        how = "exited 0" if reason.check(ProcessDone) else reason.getErrorMessage()
        if self.stopping:
            log.info("workers.stopped slot={slot} pid={pid}", slot=worker.slot, pid=worker.pid)
            return
        lived = time.monotonic() - worker.started_at
        failures = 1 if lived >= self.backoff.stable_s else self.failures.get(worker.slot, 0) + 1
        self.failures[worker.slot] = failures
        delay = self.backoff.delay(failures)
        log.warn(
            "workers.died slot={slot} pid={pid} ({how}) after {lived:.1f}s;"
            " restarting in {delay:.1f}s",
            slot=worker.slot, pid=worker.pid, how=how, lived=lived, delay=delay,
        )
        self.restarts[worker.slot] = self.reactor.callLater(delay, self._spawn, worker.slot)

    async def stop(self) -> None:
        """Stop every worker: close its stdin, kill it after ``stop_timeout_s``; wait for all."""
        self.stopping = True
        if self._watch.running:
            self._watch.stop()
        for call in self.restarts.values():
            if call.active():
                call.cancel()
        self.restarts.clear()
        live = list(self.workers.values())
        for worker in live:
            if worker.transport is not None:
                worker.transport.closeStdin()
        killer = self.reactor.callLater(self.stop_timeout_s, self._kill, live)
        await defer.DeferredList([w.ended for w in live])
        if killer.active():
            killer.cancel()

    def _kill(self, live: list[WorkerProcess]) -> None:
        for worker in live:
            if not worker.ended.called and worker.transport is not None:
                log.warn("workers.kill slot={slot} pid={pid}: did not stop in time",
                         slot=worker.slot, pid=worker.pid)
                with contextlib.suppress(ProcessExitedAlready):
                    worker.transport.signalProcess("KILL")

    def _tick(self) -> None:
        if self.sender is not None:
            bound = bool(self.sender.bound)
            if bound != self._bound:
                self._bound = bound
                self.broadcast({"op": "sms_bound", "value": bound})


def worker_count(value: object, cpus: Callable[[], int | None] = os.cpu_count) -> int:
    """``node.workers``: a whole number ≥ 1, or ``auto`` (one process per CPU)."""
    if value == "auto":
        return max(1, cpus() or 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"node.workers must be a whole number >= 1 or 'auto', got {value!r}")
    return value
