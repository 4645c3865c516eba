"""Send a small write at once instead of at the end of the reactor turn.

Twisted's ``transport.write`` buffers, asks epoll for writability and sends on the next turn:
two ``epoll_ctl`` calls and a turn per write. For a request/response protocol on a busy reactor
(an AGI command, a Redis request) that turn is latency: the request waits behind every other
event of the turn before it leaves. ``write_now`` sends straight to the socket when nothing is
buffered; whatever the socket does not take (or any error) is left to Twisted, and so is every
transport whose internals are not the ones checked here (TLS, another Twisted release).

Used by ``ivr.agi`` for AGI commands and by ``hotline.redis_client`` for Redis requests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import tcp

_PLAIN_TCP = (tcp.Server, tcp.Client)


def write_now(transport: Any, data: bytes, buffered: Callable[[bytes], Any] | None = None) -> None:
    """``transport.write(data)``, sent at once when possible. ``buffered`` is the write to fall
    back on (default ``transport.write``; pass the original when ``write`` itself is wrapped)."""
    if type(transport) in _PLAIN_TCP and _idle(transport):
        try:
            sent = transport.socket.send(data)
        except OSError:
            sent = 0  # EAGAIN, or the peer is gone: Twisted's own write path reports it
        data = data[sent:]
    if data:
        (buffered or transport.write)(data)


def send_writes_now(transport: Any) -> None:
    """Make every ``transport.write`` go through ``write_now`` (plain TCP transports only)."""
    if type(transport) in _PLAIN_TCP:
        buffered = transport.write
        transport.write = lambda data: write_now(transport, data, buffered)


def _idle(transport: Any) -> bool:
    """Connected, not closing, not TLS, and nothing waiting in Twisted's write buffers."""
    try:
        return bool(
            transport.connected
            and not transport.disconnecting
            and not transport._writeDisconnected
            and not transport.TLS
            and not transport._tempDataBuffer
            and transport.offset == len(transport.dataBuffer)
        )
    except AttributeError:  # Twisted's private write state changed: use the public path
        return False
