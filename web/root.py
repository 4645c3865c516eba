"""The HTTP tree every surface hangs from: ``/api/kiosk``, ``/healthz`` and ``/ussd/at``.

The wiring adds the rest (``/api/admin``, ``/api/payments``, ``/metrics``, ``/voice/live``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from twisted.web.resource import Resource

from booking.api import BookingService
from web.health import Health
from web.kiosk import CountBooking, KioskAccess, kiosk_resource, no_count


def build_root(
    booking: BookingService,
    ping: Callable[[], Awaitable[object]],
    ussd_at: Resource | None = None,
    kiosk_access: KioskAccess | None = None,
    count: CountBooking = no_count,
) -> Resource:
    root = Resource()
    api = Resource()
    root.putChild(b"api", api)
    api.putChild(b"kiosk", kiosk_resource(booking, kiosk_access, count))
    root.putChild(b"healthz", Health(ping))
    if ussd_at is not None:
        ussd = Resource()
        ussd.putChild(b"at", ussd_at)
        root.putChild(b"ussd", ussd)
    return root
