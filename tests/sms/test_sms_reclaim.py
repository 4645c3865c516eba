"""Several nodes share one outbox: a message a dead node left in flight is sent by another
node's sender once the lease has passed, to an SMSC we did not write (npm `smpp`)."""

from __future__ import annotations

import pytest
import pytest_twisted
from node_smsc import require_peer, start_node_smsc
from sms_support import sender_for
from twisted.internet import reactor
from twisted.internet.task import Clock

from sms.api import OutgoingSms
from sms.redis_outbox import RedisOutbox

pytestmark = pytest.mark.peer


@pytest_twisted.ensureDeferred
async def test_a_message_left_in_flight_by_a_dead_node_is_sent_by_another(redis) -> None:
    peer, port = await start_node_smsc(reactor, require_peer())
    clock = Clock()
    clock.advance(1_000_000)
    dead_node = RedisOutbox(redis, clock, scheduler=reactor, owner="a:8080", lease_s=60)
    await dead_node.put(OutgoingSms("8613800138000", "您的取号码 1234567890", "bk-1"))
    await dead_node.take(1)  # node a took it, then died before submitting
    outbox = RedisOutbox(redis, clock, scheduler=reactor, owner="b:8080", lease_s=60)
    sender = sender_for(port, outbox=outbox)
    try:
        assert await sender.reclaim() == 0  # within a's lease: not b's to send
        clock.advance(61)
        assert await sender.reclaim() == 1
        line = await peer.next(reactor)
        assert line["text"] == "您的取号码 1234567890"
        assert (await outbox.state("bk-1"))["owner"] == "b:8080"
    finally:
        await sender.stopService()
        await peer.stop()
