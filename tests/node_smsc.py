"""Run tests/peers/smsc.js (npm smpp, not our code) as a child process of the reactor."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import defer
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

PEERS = Path(__file__).resolve().parent / "peers"


def require_peer() -> str:
    """Path to node; skips (or fails under HOTLINE_REQUIRE_PEERS=1) when the peer is missing."""
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "node is not installed"
    elif not (PEERS / "node_modules" / "smpp").is_dir():
        missing = "tests/peers/node_modules missing: run `npm install --prefix tests/peers`"
    if missing:
        if os.environ.get("HOTLINE_REQUIRE_PEERS") == "1":
            pytest.fail(f"independent SMSC peer required: {missing}")
        pytest.skip(missing)
    assert node is not None
    return node


class NodeSmsc(ProcessProtocol):
    """One JSON object per stdout line; ``next()`` waits for the next one."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []
        self._read = 0
        self._buffer = b""
        self._waiter: defer.Deferred[None] | None = None
        self.ended: defer.Deferred[None] = defer.Deferred()
        self.stderr = b""

    def outReceived(self, data: bytes) -> None:
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            self.lines.append(json.loads(line))
            self._wake()

    def errReceived(self, data: bytes) -> None:
        self.stderr += data

    def processEnded(self, reason: Failure) -> None:
        self._wake()
        self.ended.callback(None)

    def _wake(self) -> None:
        if self._waiter is not None:
            waiter, self._waiter = self._waiter, None
            waiter.callback(None)

    async def next(self, reactor: Any, timeout: float = 10) -> dict[str, Any]:
        while self._read >= len(self.lines):
            if self.ended.called:
                raise RuntimeError(f"peer exited: {self.stderr.decode(errors='replace')}")
            self._waiter = defer.Deferred()
            await self._waiter.addTimeout(timeout, reactor)
        self._read += 1
        return self.lines[self._read - 1]

    def command(self, **command: Any) -> None:
        """One stdin command: ``deliver={...}`` (a deliver_sm to every session), ``drop=True``."""
        self.transport.write(json.dumps(command).encode() + b"\n")

    async def next_matching(self, reactor: Any, key: str, timeout: float = 10) -> dict[str, Any]:
        """The next line that has ``key`` (skipping others)."""
        while True:
            line = await self.next(reactor, timeout)
            if key in line:
                return line

    async def stop(self) -> None:
        if not self.ended.called:
            self.transport.signalProcess("TERM")
        await self.ended


async def start_node_smsc(reactor: Any, node: str, port: int = 0, *,
                          args: Sequence[str] = ()) -> tuple[NodeSmsc, int]:
    """Spawn the peer; ``args`` are smsc.js options (``--throttle 2``, ``--events``, ...)."""
    proto = NodeSmsc()
    reactor.spawnProcess(proto, node, [node, str(PEERS / "smsc.js"), str(port), *args],
                         env=dict(os.environ), path=str(PEERS))
    try:
        first = await proto.next(reactor)
    except BaseException:
        await proto.stop()
        raise
    return proto, int(first["listening"])
