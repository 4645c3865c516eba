"""Spawn the independent USSD centre (npm `smpp`, tests/peers/ussd_smsc.js) and talk to it."""

from __future__ import annotations

import json
import os
from typing import Any

from node_smsc import PEERS, require_peer
from twisted.internet import defer, protocol


class NodeUssdc(protocol.ProcessProtocol):
    """``listening`` fires with the port; ``next(kind)`` with the next event of that kind."""

    def __init__(self) -> None:
        self.listening: defer.Deferred[int] = defer.Deferred()
        self.ended: defer.Deferred[None] = defer.Deferred()
        self.events: dict[str, list[Any]] = {}
        self._waiters: dict[str, list[defer.Deferred[Any]]] = {}
        self._taken: dict[str, int] = {}
        self._buffer = b""

    def outReceived(self, data: bytes) -> None:
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            message = json.loads(line)
            if "listening" in message:
                self.listening.callback(int(message["listening"]))
                continue
            for kind, value in message.items():
                self.events.setdefault(kind, []).append(value)
                waiters = self._waiters.get(kind) or []
                if waiters:  # count it as taken before the waiter's code runs on
                    self._taken[kind] = self._taken.get(kind, 0) + 1
                    waiters.pop(0).callback(value)

    def next(self, kind: str, reactor: Any, timeout: float = 10.0) -> defer.Deferred[Any]:
        taken = self._taken.get(kind, 0)
        seen = self.events.get(kind, [])
        if taken < len(seen):
            self._taken[kind] = taken + 1
            return defer.succeed(seen[taken])
        d: defer.Deferred[Any] = defer.Deferred()
        self._waiters.setdefault(kind, []).append(d)
        return d.addTimeout(timeout, reactor)

    def mo(self, **fields: Any) -> None:
        self.transport.write(json.dumps({"mo": fields}).encode() + b"\n")

    def processEnded(self, reason: Any) -> None:
        if not self.listening.called:
            self.listening.errback(RuntimeError("node USSDC exited before listening"))
        self.ended.callback(None)

    def stop(self) -> defer.Deferred[None]:
        if not self.ended.called:
            self.transport.signalProcess("KILL")
        return self.ended


async def start_node_ussdc(reactor: Any, *args: str) -> NodeUssdc:
    node = require_peer()
    peer = NodeUssdc()
    reactor.spawnProcess(peer, node, [node, str(PEERS / "ussd_smsc.js"), "0", *args],
                         env=os.environ.copy())
    await peer.listening
    return peer
