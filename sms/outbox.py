"""Where messages wait until the SMSC has them: the ``Outbox`` seam and its in-memory twin.

``SmppSender`` talks only to this protocol.  Every method may answer at once or with a
``Deferred`` (the durable ``sms.redis_outbox.RedisOutbox`` does): the sender submits a message
only after ``put`` has answered, so a durable outbox has it on disk before the SMSC sees it.
Ordering: oldest first, and a message put back after a failed attempt keeps its original place.

States a message goes through (``State``; docs/sms.md draws them)::

    queued -> sending -> submitted -> delivered | undelivered
       ^         |
       +-retry---+--> dead (permanent error, retries exhausted, unsendable) | expired
"""

from __future__ import annotations

import enum
import heapq
import itertools
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

from sms.api import OutgoingSms


class State(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SUBMITTED = "submitted"  # every part has a submit_sm_resp OK
    DELIVERED = "delivered"  # every part has a DELIVRD receipt
    UNDELIVERED = "undelivered"  # every part has a final receipt, one of them not DELIVRD
    DEAD = "dead"  # given up: permanent SMSC error, retries exhausted, unsendable
    EXPIRED = "expired"  # its validity passed before it could be sent


class Outbox(Protocol):
    """Each method returns its value directly or as a ``Deferred`` of it.

    A shared durable outbox may also have ``start``/``stop`` (keep this sender's claims alive),
    ``recover`` (at start: this sender's leftovers back to waiting) and ``reclaim`` (lapsed
    claims of other senders back to waiting); ``SmppSender`` calls them when present."""

    def put(self, message: OutgoingSms) -> Any:
        """Add ``message`` unless its key was seen before; True when added."""
        ...

    def take(self, limit: int) -> Any:
        """Up to ``limit`` oldest waiting messages, now in flight (expired ones are dropped)."""
        ...

    def retry(self, message: OutgoingSms) -> Any:
        """An in-flight message goes back to waiting, at its original place."""
        ...

    def done(self, message: OutgoingSms, message_ids: Sequence[str]) -> Any:
        """The SMSC accepted every part; ``message_ids`` (normalised) one per part."""
        ...

    def dead(self, message: OutgoingSms, reason: str) -> Any:
        """Given up on (permanent SMSC error or too many attempts)."""
        ...

    def receipt(self, key: str, message_id: str, stat: str) -> Any:
        """A delivery receipt for one part; returns the message's state after it."""
        ...


class MemoryOutbox:
    """Lost on restart.  Remembers the last ``seen_limit`` keys for deduplication."""

    def __init__(self, seen_limit: int = 100_000, clock: Any = None) -> None:
        self._counter = itertools.count()
        self._order: dict[str, int] = {}
        self._heap: list[tuple[int, OutgoingSms]] = []
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._seen_limit = seen_limit
        self._clock = clock
        self.dead_letters: list[tuple[OutgoingSms, str]] = []
        self.states: dict[str, State] = {}

    def put(self, message: OutgoingSms) -> bool:
        if message.key in self._seen:
            return False
        self._seen[message.key] = None
        while len(self._seen) > self._seen_limit:
            self._seen.popitem(last=False)
        self._order[message.key] = n = next(self._counter)
        heapq.heappush(self._heap, (n, message))
        self.states[message.key] = State.QUEUED
        return True

    def take(self, limit: int = 1) -> list[OutgoingSms]:
        out: list[OutgoingSms] = []
        now = self._clock.seconds() if self._clock is not None else None
        while self._heap and len(out) < limit:
            message = heapq.heappop(self._heap)[1]
            if now is not None and message.valid_until is not None and message.valid_until < now:
                self._finish(message, State.EXPIRED)
                self.dead_letters.append((message, "expired"))
                continue
            self.states[message.key] = State.SENDING
            out.append(message)
        return out

    def retry(self, message: OutgoingSms) -> None:
        heapq.heappush(self._heap, (self._order[message.key], message))
        self.states[message.key] = State.QUEUED

    def done(self, message: OutgoingSms, message_ids: Sequence[str] = ()) -> None:
        self._finish(message, State.SUBMITTED)

    def dead(self, message: OutgoingSms, reason: str) -> None:
        self._finish(message, State.DEAD)
        self.dead_letters.append((message, reason))

    def receipt(self, key: str, message_id: str, stat: str) -> str:
        return str(self.states.get(key, ""))

    def _finish(self, message: OutgoingSms, state: State) -> None:
        self._order.pop(message.key, None)
        self.states[message.key] = state
        while len(self.states) > self._seen_limit:
            self.states.pop(next(iter(self.states)))

    def __len__(self) -> int:
        return len(self._heap)
