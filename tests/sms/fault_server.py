"""The SMS server of the fault test, as a process the test can kill: SmppSender + RedisOutbox.

    python tests/sms/fault_server.py <redis_url> <smsc_port>

Drains the outbox (recovering what a killed predecessor left in flight) and reconnects fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from twisted.internet import defer, task

from hotline.redis_client import connect
from sms.redis_outbox import RedisOutbox
from sms.service import SmppSender


async def main(reactor: object, redis_url: str, port: int) -> None:
    redis = await connect(redis_url)
    sender = SmppSender("127.0.0.1", port, "fault", "", "12580", reactor=reactor, window=64,
                        outbox=RedisOutbox(redis, reactor), retry_policy=lambda n: 0.05)
    sender.startService()
    await defer.Deferred()  # until killed


if __name__ == "__main__":
    task.react(lambda r: defer.ensureDeferred(main(r, sys.argv[1], int(sys.argv[2]))))
