"""Where messages wait until the SMSC has them.  In memory for now; the seam for a durable one.

``Outbox`` is the contract a Redis-backed outbox (persist before send, survive restarts) will
implement; ``SmppSender`` only talks to this protocol.  Ordering: oldest first, and a message
put back after a failed attempt keeps its original place.
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict
from typing import Protocol

from sms.api import OutgoingSms


class Outbox(Protocol):
    def put(self, message: OutgoingSms) -> bool:
        """Add ``message`` unless its key was seen before; True when added."""
        ...

    def take(self) -> OutgoingSms | None:
        """The oldest waiting message, now counted as in flight (None when empty)."""
        ...

    def retry(self, message: OutgoingSms) -> None:
        """An in-flight message goes back to waiting, at its original place."""
        ...

    def done(self, message: OutgoingSms) -> None:
        """The SMSC accepted every part."""
        ...

    def dead(self, message: OutgoingSms, reason: str) -> None:
        """Given up on (permanent SMSC error or too many attempts)."""
        ...

    def __len__(self) -> int:
        """Messages waiting (not in flight)."""
        ...


class MemoryOutbox:
    """Lost on restart.  Remembers the last ``seen_limit`` keys for deduplication."""

    def __init__(self, seen_limit: int = 100_000) -> None:
        self._counter = itertools.count()
        self._order: dict[str, int] = {}
        self._heap: list[tuple[int, OutgoingSms]] = []
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._seen_limit = seen_limit
        self.dead_letters: list[tuple[OutgoingSms, str]] = []

    def put(self, message: OutgoingSms) -> bool:
        if message.key in self._seen:
            return False
        self._seen[message.key] = None
        while len(self._seen) > self._seen_limit:
            self._seen.popitem(last=False)
        self._order[message.key] = n = next(self._counter)
        heapq.heappush(self._heap, (n, message))
        return True

    def take(self) -> OutgoingSms | None:
        return heapq.heappop(self._heap)[1] if self._heap else None

    def retry(self, message: OutgoingSms) -> None:
        heapq.heappush(self._heap, (self._order[message.key], message))

    def done(self, message: OutgoingSms) -> None:
        self._order.pop(message.key, None)

    def dead(self, message: OutgoingSms, reason: str) -> None:
        self._order.pop(message.key, None)
        self.dead_letters.append((message, reason))

    def __len__(self) -> int:
        return len(self._heap)
