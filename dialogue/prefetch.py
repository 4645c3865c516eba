"""Reads started when a caller's dialogue begins, so the step that needs them does not wait.

The shipped menu asks "book, my bookings, register?" first; "book" then looks up the IDs bound
to the caller's phone (effect ``registered_ids``). The caller takes at least a few hundred
milliseconds to press a key (a voice caller hears the whole welcome first), so the lookup can
run meanwhile: ``CallerPrefetch.begin`` (``Dialogue``'s ``on_begin``) starts it, and the effect
takes its result instead of a round trip to Redis in front of the next prompt.

A prefetched answer is used once, only by the node that read it and only within ``keep_s``; a
registration through this node's effects drops it first. A registration made elsewhere in
those seconds is not seen by that one lookup: the caller is asked to key the ID, as before it.
"""

from __future__ import annotations

from collections import OrderedDict

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from booking.api import BookingService
from menus.types import Session

log = Logger()


class CallerPrefetch:
    """Per-node lookups of ``booking.registered_ids``, started at a dialogue's beginning."""

    def __init__(self, booking: BookingService, clock: IReactorTime, keep_s: float = 30.0) -> None:
        self._booking = booking
        self._clock = clock
        self.keep_s = keep_s
        # msisdn -> (started at, the read: the IDs, or None if it failed), oldest first
        self._reads: OrderedDict[str, tuple[float, Deferred[list[str] | None]]] = OrderedDict()

    def begin(self, session: Session) -> None:
        """Start reading the caller's IDs (a no-op for a withheld number)."""
        msisdn = session.msisdn
        now = self._clock.seconds()
        self._expire(now)
        if not msisdn or msisdn in self._reads:
            return
        read = ensureDeferred(self._booking.registered_ids(msisdn))
        read.addErrback(self._failed)  # the effect then reads again; nothing is left unhandled
        self._reads[msisdn] = (now, read)

    async def registered_ids(self, msisdn: str) -> list[str]:
        """The prefetched IDs if a fresh read was started for ``msisdn``, else read now."""
        entry = self._reads.pop(msisdn, None)
        if entry is not None and self._clock.seconds() - entry[0] <= self.keep_s:
            found = await entry[1]
            if found is not None:
                return list(found)
        return await self._booking.registered_ids(msisdn)

    def forget(self, msisdn: str) -> None:
        """The caller's IDs are changing: the next lookup reads them afresh."""
        self._reads.pop(msisdn, None)

    def _expire(self, now: float) -> None:
        while self._reads:
            started, _ = next(iter(self._reads.values()))
            if now - started <= self.keep_s:
                break
            self._reads.popitem(last=False)

    @staticmethod
    def _failed(failure: Failure) -> None:
        """The read's result becomes None, which ``registered_ids`` takes as "read again"."""
        log.warn("prefetch.registered_ids_failed why={why}", why=failure.getErrorMessage())
