"""The burst of the SMS fault tests, whatever the protocol: messages queued in the outbox, the
gateway killed and restarted twice and the sender process (``fault_server.py``) killed once
during the burst; every message must reach the gateway, and a message may arrive twice only if
it was in flight when a process died.

The gateway prints one JSON line per message it took; the test reads those lines behind the
gateway, so where a crash fell in the gateway's order is known only once the gateway has gone
quiet (``settle``), not at the line the reader had reached when it pulled the trigger.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from node_smsc import NodeSmsc
from twisted.internet import defer, reactor, task
from twisted.internet.protocol import ProcessProtocol

from sms.api import OutgoingSms
from sms.redis_outbox import RedisOutbox

SERVER = Path(__file__).with_name("fault_server.py")
StartGateway = Callable[[int], Awaitable[tuple[NodeSmsc, int]]]  # port (0: any) -> peer, port


class Server(ProcessProtocol):
    def __init__(self) -> None:
        self.ended: defer.Deferred[None] = defer.Deferred()

    def processEnded(self, reason: object) -> None:
        self.ended.callback(None)


def spawn_server(redis_url: str, port: int, *extra: str) -> Server:
    proto = Server()
    reactor.spawnProcess(proto, sys.executable, [sys.executable, str(SERVER), redis_url,
                                                 str(port), *extra], env=dict(os.environ))
    return proto


async def kill(proto: Any) -> None:
    proto.transport.signalProcess("KILL")
    await proto.ended


class Burst:
    """What the gateway received, in its order, and where each crash fell in it."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.crashes: dict[str, list[tuple[int, int]]] = {"gateway": [], "server": []}

    async def read_until(self, peer: NodeSmsc, n: int) -> None:
        while len(self.seen) < n:
            self.seen.append((await peer.next(reactor, timeout=20))["text"])

    def drain(self, peer: NodeSmsc) -> None:
        """Take the lines the gateway printed but the test has not read yet."""
        self.seen.extend(line["text"] for line in peer.lines[peer._read:] if "text" in line)
        peer._read = len(peer.lines)

    async def settle(self, peer: NodeSmsc) -> None:
        """Read until the gateway has printed nothing for half a second (its sender is dead)."""
        last = -1
        while len(peer.lines) != last:
            last = len(peer.lines)
            await task.deferLater(reactor, 0.5, lambda: None)
        self.drain(peer)


async def run_burst(redis: Any, redis_url: str, count: int, start_gateway: StartGateway,
                    *server_args: str) -> tuple[Burst, RedisOutbox]:
    """Queue ``count`` messages, send them with crashes at 20 %, 50 % (the sender) and 75 %."""
    outbox = RedisOutbox(redis, reactor)
    added = await defer.gatherResults(
        [outbox.put(OutgoingSms("13800138000", f"m{i}", f"f{i}")) for i in range(count)])
    assert all(added)
    peer, port = await start_gateway(0)
    server = spawn_server(redis_url, port, *server_args)
    burst = Burst()
    try:
        for share, what in ((0.2, "gateway"), (0.5, "server"), (0.75, "gateway")):
            await burst.read_until(peer, int(count * share))
            start = len(burst.seen)
            if what == "gateway":
                await kill(peer)
                burst.drain(peer)  # printed before it died, read only now
                burst.crashes[what].append((start, len(burst.seen)))
                peer, _ = await start_gateway(port)
            else:
                await kill(server)
                await burst.settle(peer)
                burst.crashes[what].append((start, len(burst.seen)))
                server = spawn_server(redis_url, port, *server_args)
        while len(set(burst.seen)) < count:
            try:
                burst.seen.append((await peer.next(reactor, timeout=20))["text"])
            except defer.TimeoutError:  # say where the rest are: queued, sending, dead
                missing = sorted(set(range(count)) - {int(t[1:]) for t in burst.seen})
                raise AssertionError(
                    f"{len(missing)} messages never reached the gateway (e.g. m{missing[0]}); "
                    f"outbox {await outbox.counts()}, crashes {burst.crashes}") from None
        for _ in range(400):  # the server's last done batch lands after the last answer
            counts = await outbox.counts()
            if counts["queued"] == counts["sending"] == 0:
                break
            await task.deferLater(reactor, 0.05, lambda: None)
    finally:
        server.transport.signalProcess("TERM")
        await server.ended
        await peer.stop()
    return burst, outbox


async def check_burst(burst: Burst, outbox: RedisOutbox, count: int, window: int) -> None:
    """Every message arrived; a duplicate only where something died with it in flight: the
    window before a gateway crash; before the sender's crash also what it had taken ahead
    (prefetch 8 x window) and the done batch not yet written, then its successor's first sends.
    """
    seen = burst.seen
    assert set(seen) == {f"m{i}" for i in range(count)}
    first: dict[str, int] = {}
    for i, text in enumerate(seen):
        first.setdefault(text, i)
    duplicates = {t for t, n in Counter(seen).items() if n > 1}
    allowed: set[int] = set()
    for start, end in burst.crashes["gateway"]:
        allowed |= set(range(start - 2 * window, end + 1))
    for _, end in burst.crashes["server"]:
        allowed |= set(range(end - 8 * window, end + 1))
    stray = sorted(first[t] for t in duplicates if first[t] not in allowed)
    assert not stray, f"duplicates not explained by a crash, first seen at {stray[:10]}; " \
        f"crashes {burst.crashes}"
    assert len(seen) - count <= 2 * 2 * window + 16 * window, (len(seen), burst.crashes)
    counts = await outbox.counts()
    assert counts == {"queued": 0, "sending": 0, "dead": 0}, counts
    states = await defer.gatherResults([outbox.state(f"f{i}") for i in range(count)])
    assert {s["state"] for s in states} <= {"submitted", "delivered"}
    twice = [s for s, i in zip(states, range(count), strict=True) if f"m{i}" in duplicates]
    assert all(int(s["attempts"]) >= 2 for s in twice)
