"""``fastpath.send``: a small write sent at once on plain TCP; Twisted's own write otherwise."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import StringTransport

import fastpath
from fastpath.send import write_now

pytestmark = pytest.mark.usefixtures("fast_path_on")


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


def test_write_now_falls_back_to_transport_write() -> None:
    transport = StringTransport()
    write_now(transport, b"ANSWER\n")
    assert transport.value() == b"ANSWER\n"


class _Collect(Protocol):
    def __init__(self, done: defer.Deferred[bytes], size: int) -> None:
        self.data, self.done, self.size = b"", done, size

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        if len(self.data) >= self.size and not self.done.called:
            self.done.callback(self.data)


@pytest_twisted.ensureDeferred
async def test_write_now_sends_at_once_and_keeps_order_behind_a_buffer() -> None:
    """Over real TCP: nothing buffered → sent before returning; something buffered → queued
    behind it, so the peer reads every byte in order."""
    reactor = _reactor()
    seen: list[tuple[int, int]] = []

    class Writer(Protocol):
        def connectionMade(self) -> None:
            t = self.transport
            write_now(t, b"one\n")
            seen.append((len(t._tempDataBuffer), len(t.dataBuffer) - t.offset))  # type: ignore
            t.write(b"two\n")  # Twisted buffers this until the next turn
            write_now(t, b"three\n")  # must not overtake "two"
            seen.append((len(t._tempDataBuffer), 0))  # type: ignore
            t.loseConnection()

    port = reactor.listenTCP(0, Factory.forProtocol(Writer), interface="127.0.0.1")
    got: defer.Deferred[bytes] = defer.Deferred()
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
    await connectProtocol(endpoint, _Collect(got, len(b"one\ntwo\nthree\n")))
    data = await got.addTimeout(5, reactor)
    await port.stopListening()
    assert data == b"one\ntwo\nthree\n"
    assert seen == [(0, 0), (2, 0)]  # "one" left at once; "two" and "three" waited together




def test_a_transport_without_twisteds_write_state_takes_the_public_path() -> None:
    from types import SimpleNamespace

    from fastpath.send import _idle

    assert _idle(SimpleNamespace(connected=True, disconnecting=False)) is False  # no buffers
    idle = SimpleNamespace(connected=True, disconnecting=False, _writeDisconnected=False,
                           TLS=False, _tempDataBuffer=[], offset=0, dataBuffer=b"")
    assert _idle(idle) is True
    assert _idle(SimpleNamespace(**{**vars(idle), "_tempDataBuffer": [b"x"]})) is False


@pytest_twisted.ensureDeferred
async def test_with_the_piece_off_a_write_waits_for_twisted(monkeypatch) -> None:
    """Off, ``write_now`` is ``transport.write``: the bytes sit in Twisted's buffer until the
    reactor sends them, and still arrive."""
    monkeypatch.setattr(fastpath, "_on", frozenset())
    reactor = _reactor()
    seen: list[int] = []

    class Writer(Protocol):
        def connectionMade(self) -> None:
            t = self.transport
            write_now(t, b"one\n")
            seen.append(len(t._tempDataBuffer))  # type: ignore[attr-defined]
            t.loseConnection()

    port = reactor.listenTCP(0, Factory.forProtocol(Writer), interface="127.0.0.1")
    got: defer.Deferred[bytes] = defer.Deferred()
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
    await connectProtocol(endpoint, _Collect(got, len(b"one\n")))
    data = await got.addTimeout(5, reactor)
    await port.stopListening()
    assert data == b"one\n"
    assert seen == [1]
