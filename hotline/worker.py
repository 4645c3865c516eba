"""``python -m hotline.worker``: one worker process of a node (``node.workers``).

Not for operators: the main process starts it with the message pipe on stdin, reads its messages
on fd 3 and maps the shared listening sockets into it. The worker boots from the first message
(the main's resolved settings), serves HTTP and FastAGI on the inherited sockets, says ``ready``,
and stops when its stdin closes: when the main process stops it or dies. Ctrl-C in a terminal
reaches the whole process group; a worker ignores SIGINT and lets the main process stop it.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from twisted.internet import defer
from twisted.internet.stdio import StandardIO
from twisted.internet.task import react
from twisted.logger import Logger

from node.link import WORKER_OUT_FD, MainLink, WholeLines

log = Logger()


async def serve(reactor: Any, link: MainLink) -> None:
    """Boot from the main's first message, serve until the link closes."""
    from hotline.app import start
    from hotline.role import Node
    from logs.output import start_logging
    from node.gctune import tune_gc
    from settings.schema import Settings

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the main process stops us
    boot = await link.boot
    start_logging(WholeLines(1), level=str(boot.get("log_level", "info")), clock=reactor,
                  fmt=str((boot["settings"].get("log") or {}).get("format", "text")))
    settings = Settings(Path(str(boot["base_dir"])), boot["settings"])
    fds = {str(name): int(fd) for name, fd in boot["fds"].items()}
    try:
        running = await start(settings, reactor, node=Node.worker(link, fds))
    except Exception:
        log.failure("worker.start_failed pid={pid}", pid=os.getpid())
        raise
    tune_gc(settings.raw["node"]["gc"])  # after start-up: see node/gctune.py
    reactor.addSystemEventTrigger(  # SIGTERM, or the link closing: close listeners, Redis pool
        "before", "shutdown", lambda: defer.ensureDeferred(running.stop())
    )
    terminated: defer.Deferred[None] = defer.Deferred()
    signal.signal(signal.SIGTERM, lambda *_: reactor.callFromThread(_fire, terminated))
    link.send({"op": "ready", "pid": os.getpid(), "http": running.http_port,
               "fastagi": running.fastagi_port})
    await defer.DeferredList([link.closed, terminated], fireOnOneCallback=True)
    why = "SIGTERM" if terminated.called else "the main process closed the link"
    log.info("worker.stopping pid={pid}: {why}", pid=os.getpid(), why=why)


def _fire(d: defer.Deferred[None]) -> None:
    """One way out: returning from ``serve`` stops the reactor once (a second stop raises)."""
    if not d.called:
        d.callback(None)


def main() -> int:
    def run(reactor: Any) -> defer.Deferred[None]:
        link = MainLink()
        StandardIO(link, stdin=0, stdout=WORKER_OUT_FD, reactor=reactor)
        return defer.ensureDeferred(serve(reactor, link))

    react(run)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
