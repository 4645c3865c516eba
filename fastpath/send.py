"""Send a small write at once instead of at the end of the reactor turn.

Twisted's ``transport.write`` buffers, asks epoll for writability and sends on the next turn:
two ``epoll_ctl`` calls and a turn per write. For a request/response protocol on a busy reactor
(an AGI command, a Redis request) that turn is latency: the request waits behind every other
event of the turn before it leaves. ``write_now`` sends straight to the socket when nothing is
buffered; whatever the socket does not take (or any error) is left to Twisted, and so is every
transport whose internals are not the ones checked here (TLS, another Twisted release).

Used by ``ivr.agi`` for AGI commands, by ``ussd.httpport`` for its answers and by
``fastpath.redis`` for Redis requests (``send_first_write_now``: the first request of each
reactor turn). With the ``send`` piece off (``fastpath.enabled``) both are ``transport.write``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import tcp

from fastpath import enabled

_PLAIN_TCP = (tcp.Server, tcp.Client)


def write_now(transport: Any, data: bytes, buffered: Callable[[bytes], Any] | None = None) -> None:
    """``transport.write(data)``, sent at once when possible. ``buffered`` is the write to fall
    back on (default ``transport.write``; pass the original when ``write`` itself is wrapped)."""
    if type(transport) in _PLAIN_TCP and enabled("send") and _idle(transport):
        try:
            sent = transport.socket.send(data)
        except OSError:
            sent = 0  # EAGAIN, or the peer is gone: Twisted's own write path reports it
        data = data[sent:]
    if data:
        (buffered or transport.write)(data)


def send_first_write_now(transport: Any, call_later: Callable[..., Any]) -> None:
    """Make the first ``transport.write`` of each reactor turn go through ``write_now``; later
    writes of the same turn are buffered and leave together, as Twisted sends them.

    For a connection many callers share (Redis): a lone request leaves at once, and a burst
    (several hops handled in one turn) still costs one ``send`` instead of one per request,
    a syscall each on both sides (bench/RESULTS.md). Plain TCP transports only.
    """
    if type(transport) not in _PLAIN_TCP or not enabled("send"):
        return
    buffered = transport.write
    sent_this_turn = [False]

    def next_turn() -> None:
        sent_this_turn[0] = False

    def write(data: bytes) -> None:
        if sent_this_turn[0]:
            buffered(data)
            return
        sent_this_turn[0] = True
        call_later(0, next_turn)  # runs before the next poll, after this turn's events
        write_now(transport, data, buffered)

    transport.write = write


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
