"""The listeners part: who hears of each confirmed booking (the SMS notifier, in-process)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from booking.api import Booking, BookingListener

log = Logger()


class Listeners:
    """Taking a place and confirming a payment both tell the same listeners."""

    def __init__(self) -> None:
        self._listeners: list[BookingListener] = []

    def subscribe(self, listener: BookingListener) -> None:
        self._listeners.append(listener)

    def notify(self, booking: Booking) -> None:
        """Tell every listener; a failing or slow listener never affects the booking."""
        for listener in list(self._listeners):
            try:
                result = listener(booking)
            except Exception:
                log.failure("booking.listener_failed tcode=...{tail}", tail=booking.tcode[-4:])
                continue
            if inspect.isawaitable(result):
                d = Deferred.fromCoroutine(_await(result))
                d.addErrback(
                    lambda f, t=booking.tcode[-4:]: log.failure(
                        "booking.listener_failed tcode=...{tail}", f, tail=t
                    )
                )


async def _await(awaitable: Awaitable[None]) -> None:
    await awaitable
