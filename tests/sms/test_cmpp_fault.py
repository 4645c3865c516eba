"""The fault test over CMPP: a burst queued in Redis, the ISMG (our simulator, its own process)
killed and restarted twice during it and the SMS server process killed once.  Every message
reaches the ISMG; a message arrives twice only if it was in flight when a process died (its
SUBMIT_RESP was lost); each one's outbox state says submitted or delivered.

2,000 messages by default (a few seconds); HOTLINE_FAULT_COUNT=10000 for the full burst."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest_twisted
from fault_support import check_burst, run_burst
from node_smsc import NodeSmsc
from twisted.internet import reactor

COUNT = int(os.environ.get("HOTLINE_FAULT_COUNT", "2000"))
WINDOW = 16  # fault_server.py's CMPP window; it takes 4 x WINDOW ahead
HERE = Path(__file__).parent


async def start_ismg(port: int = 0) -> tuple[NodeSmsc, int]:
    proto = NodeSmsc()  # reads one JSON object a line, whatever the process
    reactor.spawnProcess(proto, sys.executable, [
        sys.executable, str(HERE / "ismg_server.py"), str(port)], env=dict(os.environ))
    first = await proto.next(reactor)
    return proto, int(first["listening"])


@pytest_twisted.ensureDeferred
async def test_burst_survives_two_ismg_crashes_and_a_server_crash(redis, redis_url) -> None:
    burst, outbox = await run_burst(redis, redis_url, COUNT, start_ismg, "cmpp")
    await check_burst(burst, outbox, COUNT, WINDOW)
