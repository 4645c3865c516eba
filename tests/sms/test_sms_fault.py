"""The fault test over SMPP: 10,000 queued messages, the SMSC (npm smpp) killed and restarted
twice during the burst and the SMS server process killed once.  Every message reaches the SMSC;
a message arrives twice only if it was in flight when a process died (its resp was lost); each
one's outbox state says submitted or delivered (``fault_support``).  ~10-20 s."""

from __future__ import annotations

import pytest
import pytest_twisted
from fault_support import check_burst, run_burst
from node_smsc import NodeSmsc, require_peer, start_node_smsc
from twisted.internet import reactor

pytestmark = pytest.mark.peer
COUNT = 10_000
WINDOW = 64  # fault_server.py's SMPP window


@pytest_twisted.ensureDeferred
async def test_burst_survives_two_smsc_crashes_and_a_server_crash(redis, redis_url) -> None:
    node = require_peer()

    async def smsc(port: int) -> tuple[NodeSmsc, int]:
        return await start_node_smsc(reactor, node, port)

    burst, outbox = await run_burst(redis, redis_url, COUNT, smsc)
    await check_burst(burst, outbox, COUNT, WINDOW)
