"""Spawn the independent SMSC (npm `smpp`, tests/peers/smsc.js) and read what it received.

The peer prints ``{"listening": port}`` once bound, then one JSON line per submit_sm. Without
``tests/peers/node_modules`` the tests that need it skip, unless HOTLINE_REQUIRE_PEERS=1 (CI),
where a missing peer is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import defer, protocol

PEERS = Path(__file__).resolve().parent / "peers"


def require_peer() -> str:
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "node is not installed"
    elif not (PEERS / "node_modules" / "smpp").is_dir():
        missing = "tests/peers/node_modules missing: run ./install.sh"
    if missing:
        if os.environ.get("HOTLINE_REQUIRE_PEERS") == "1":
            pytest.fail(f"independent SMSC peer required: {missing}")
        pytest.skip(f"independent SMSC peer unavailable: {missing}")
    assert node is not None
    return node


class NodeSmsc(protocol.ProcessProtocol):
    """The peer process; ``listening`` fires with its port, ``next_submit()`` with each message."""

    def __init__(self) -> None:
        self.listening: defer.Deferred[int] = defer.Deferred()
        self.ended: defer.Deferred[None] = defer.Deferred()
        self.received: list[dict[str, Any]] = []
        self._waiters: list[defer.Deferred[dict[str, Any]]] = []
        self._buffer = b""
        self.port = 0

    def outReceived(self, data: bytes) -> None:
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            message = json.loads(line)
            if "listening" in message:
                self.port = int(message["listening"])
                self.listening.callback(self.port)
                continue
            self.received.append(message)
            if self._waiters:
                self._waiters.pop(0).callback(message)

    def next_submit(self, reactor: Any, timeout: float) -> defer.Deferred[dict[str, Any]]:
        """The next submit_sm not yet taken (already received ones come first)."""
        taken = getattr(self, "_taken", 0)
        self._taken = taken + 1
        if taken < len(self.received):
            return defer.succeed(self.received[taken])
        d: defer.Deferred[dict[str, Any]] = defer.Deferred()
        self._waiters.append(d)
        return d.addTimeout(timeout, reactor)

    def processEnded(self, reason: Any) -> None:
        if not self.listening.called:
            self.listening.errback(RuntimeError("node SMSC exited before listening"))
        self.ended.callback(None)

    def stop(self) -> defer.Deferred[None]:
        if not self.ended.called:
            self.transport.signalProcess("KILL")
        return self.ended


async def start_node_smsc(reactor: Any) -> NodeSmsc:
    node = require_peer()
    peer = NodeSmsc()
    reactor.spawnProcess(peer, node, [node, str(PEERS / "smsc.js"), "0"], env=os.environ.copy())
    await peer.listening
    return peer
