"""The SMS server of the fault test, as a process the test can kill: SmppSender + RedisOutbox
(or, with ``cmpp``, CmppSender to tests/sms/ismg_server.py).

    python tests/sms/fault_server.py <redis_url> <smsc_port> [cmpp]

Drains the outbox (recovering what a killed predecessor left in flight) and reconnects fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from twisted.internet import defer, task

from sms.cmpp.client import CmppConfig
from sms.cmpp.service import CmppSender
from sms.redis_outbox import RedisOutbox
from sms.service import LinkSender, SmppSender
from storage.client import connect


async def main(reactor: object, redis_url: str, port: int, protocol: str) -> None:
    redis = await connect(redis_url)
    outbox = RedisOutbox(redis, reactor)
    sender: LinkSender
    if protocol == "cmpp":
        sender = CmppSender("127.0.0.1", port, CmppConfig("901234", "fault-secret", window=16),
                            reactor=reactor, outbox=outbox, retry_policy=lambda n: 0.05)
    else:
        sender = SmppSender("127.0.0.1", port, "fault", "", "12580", reactor=reactor,
                            window=64, outbox=outbox, retry_policy=lambda n: 0.05)
    sender.startService()
    await defer.Deferred()  # until killed


if __name__ == "__main__":
    task.react(lambda r: defer.ensureDeferred(main(r, sys.argv[1], int(sys.argv[2]),
                                                   sys.argv[3] if len(sys.argv) > 3 else "smpp")))
