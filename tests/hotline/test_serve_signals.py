"""``hotline serve`` stops cleanly however many SIGTERMs arrive (a process-group kill, or a
supervisor passing one on, sends more than one)."""

from __future__ import annotations

from pathlib import Path

import pytest_twisted
from workers_support import NodeProcess, reactor, write_config


@pytest_twisted.ensureDeferred
async def test_two_sigterms_stop_serve_once_without_a_traceback(
    tmp_path: Path, redis_url: str
) -> None:
    node = NodeProcess.start(write_config(tmp_path, redis_url, workers=1))
    try:
        await node.line(r"hotline\.started role=main")
        node.transport.signalProcess("TERM")  # type: ignore[union-attr]
        await node.line(r"Received SIGTERM")  # the first is being handled: send another
        node.transport.signalProcess("TERM")  # type: ignore[union-attr]
        await node.exited().addTimeout(20, reactor())
    finally:
        if not node.ended.called:
            node.transport.signalProcess("KILL")  # type: ignore[union-attr]
    code = node.ended.result
    out = node.output()
    assert code == 0, out[-3000:]
    assert "Traceback" not in out and "[critical]" not in out, out[-3000:]
    assert out.count("Received SIGTERM, shutting down.") == 1
