"""Listening sockets one node's processes share (``node.workers`` > 1, docs/operations.md).

The main process binds each port once and hands the same listening socket to every worker as an
inherited file descriptor; each process wraps it with ``reactor.adoptStreamPort``. One socket
means one accept queue: port 0 works as is (the kernel picks the port once), a second node
started on a busy port fails with "address in use", and connections waiting in the queue are never
lost when a worker dies (with ``SO_REUSEPORT`` each process has its own queue, reset when its owner
exits). Every process waits on the socket and the first free one accepts, so a busy process takes
fewer new connections. To keep one process from taking a whole burst, a shared port accepts at
most ``ACCEPTS_PER_WAKEUP`` connections per reactor turn (Twisted would grow to 100+).

``workers: 1`` keeps ``reactor.listenTCP`` exactly as before (``OwnListeners``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort

ACCEPTS_PER_WAKEUP = 4


class OwnListeners:
    """One process: bind with ``listenTCP`` (the behaviour of ``workers: 1``)."""

    shared = False

    def listen(
        self, reactor: Any, name: str, port: int, factory: Any, interface: str, backlog: int
    ) -> IListeningPort:
        return reactor.listenTCP(port, factory, backlog=backlog, interface=interface)


@dataclass
class SharingListeners:
    """The main process of several: bind each socket itself and keep it for the workers."""

    sockets: dict[str, socket.socket] = field(default_factory=dict)
    shared = True

    def listen(
        self, reactor: Any, name: str, port: int, factory: Any, interface: str, backlog: int
    ) -> IListeningPort:
        sock = bind(interface, port, backlog)
        self.sockets[name] = sock
        return adopt(reactor, sock.fileno(), factory)

    def fds(self) -> dict[str, int]:
        """name → descriptor, to map into each worker."""
        return {name: sock.fileno() for name, sock in self.sockets.items()}

    def close(self) -> None:
        """Drop the main's copies once the workers are gone (a socket lives while one holds it)."""
        for sock in self.sockets.values():
            sock.close()
        self.sockets.clear()


@dataclass
class InheritedListeners:
    """A worker: adopt the sockets the main process mapped into it (name → fd)."""

    fds: Mapping[str, int]
    shared = True

    def listen(
        self, reactor: Any, name: str, port: int, factory: Any, interface: str, backlog: int
    ) -> IListeningPort:
        fd = self.fds[name]
        listening = adopt(reactor, fd, factory)
        os.close(fd)  # adoptStreamPort works on its own duplicate
        return listening


def bind(interface: str, port: int, backlog: int) -> socket.socket:
    """A non-blocking listening TCP socket, set up as Twisted's ``listenTCP`` would."""
    family = socket.AF_INET6 if ":" in interface else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart while in TIME_WAIT
        sock.bind((interface, port))
        sock.listen(backlog)
    except OSError as err:
        sock.close()
        raise CannotListenError(interface, port, err) from err
    sock.setblocking(False)
    return sock


def adopt(reactor: Any, fd: int, factory: Any) -> IListeningPort:
    """Serve ``factory`` on the listening socket ``fd``, taking a few connections per wakeup."""
    probe = socket.socket(fileno=os.dup(fd))  # learns the family; its own fd, closed at once
    family = probe.family
    probe.close()
    listening = reactor.adoptStreamPort(fd, family, factory)
    _cap_accepts(listening)
    return listening


def _cap_accepts(listening: Any) -> None:
    """Twisted grows a port's accept loop with the traffic; on a shared socket that lets the
    first process awake take a whole burst. Reset the bound before every read."""
    if not hasattr(listening, "numberAccepts"):
        return
    read = listening.doRead

    def do_read() -> Any:
        listening.numberAccepts = min(listening.numberAccepts, ACCEPTS_PER_WAKEUP)
        return read()

    listening.doRead = do_read
