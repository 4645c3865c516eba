"""The kiosk API: a hospital kiosk verifies a T-code and checks the patient in.

Kiosk contract (docs/architecture.md): ``POST /api/kiosk/verify`` and ``POST /api/kiosk/check-in``
with JSON ``{"tcode": "...", "kiosk_id": "..."}`` → ``{"booking": {...}}`` with the ID and phone
masked, or ``{"error": {"code", "message"}}``. A forged and a mistyped code get the same answer.
Wrong codes are limited per kiosk, per client address (``web.clientaddr``) and per hospital
(booking's ``kiosk_lookup``): over a limit, 429 with ``Retry-After``. When kiosks are registered
(``kiosk.ids``, ``kiosk.secrets``, or a hospital file's ``kiosks``) any other kiosk, or a wrong
secret, gets 403. A kiosk listed by a hospital belongs to it: a T-code of another hospital is
answered ``wrong_hospital`` (409) naming the hospital the code belongs to, nothing personal.
A kiosk no hospital lists (the demo: no registry at all) accepts every hospital's codes.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from twisted.web.resource import Resource
from twisted.web.server import Request

from booking.api import Booking, BookingError, BookingService
from pii import mask_tail
from web.clientaddr import Network, client_address, parse_networks
from web.jsonapi import JsonEndpoint

CountBooking = Callable[[str, str], None]  # (outcome, channel): the wiring's metrics counter


def no_count(outcome: str, channel: str) -> None:
    """The default counter: counts nothing (tests, tools without metrics)."""


def booking_json(booking: Booking) -> dict[str, Any]:
    """What a kiosk may print: no full ID or phone number."""
    return {
        "tcode": booking.tcode,
        "hospital": booking.hospital_id,
        "hospital_name": dict(booking.hospital_name),
        "department": dict(booking.dept_name),
        "day": booking.day.isoformat(),
        "session": booking.session,
        "session_name": dict(booking.session_label),
        "id_number": mask_tail(booking.id_number),
        "phone": mask_tail(booking.msisdn),
        "status": booking.status.value,
        "channel": booking.channel,
        "checked_in_at": booking.checked_in_at,
        "queue_no": booking.extra.get("queue_no"),  # given at check-in, for the slip
    }


def _kiosk_fields(body: dict[str, Any]) -> tuple[str, str]:
    tcode, kiosk_id = body.get("tcode"), body.get("kiosk_id")
    if not isinstance(tcode, str) or not isinstance(kiosk_id, str) or not kiosk_id.strip():
        raise BookingError("bad_request", "fields 'tcode' and 'kiosk_id' (strings) are required")
    return tcode.strip(), kiosk_id.strip()[:64]


def _no_owners() -> Mapping[str, str]:
    return {}


@dataclass(frozen=True, slots=True)
class KioskAccess:
    """Which kiosks may ask (``kiosk.ids``, ``kiosk.secrets`` and the hospitals' ``kiosks``;
    none of them: any ``kiosk_id``), which hospital a kiosk belongs to (``owners``: {kiosk id:
    hospital id} of the running platform, asked each time so a reload counts), and which
    peers' ``X-Forwarded-For`` is believed (``http.trusted_proxies``)."""

    ids: frozenset[str] | None = None
    secrets: Mapping[str, bytes] = field(default_factory=dict)
    trusted_proxies: Sequence[Network] = ()
    owners: Callable[[], Mapping[str, str]] = _no_owners

    @classmethod
    def from_settings(cls, raw: Mapping[str, Any]) -> KioskAccess:
        """From the merged settings; ValueError naming the key when one is malformed."""
        kiosk = raw.get("kiosk") or {}
        ids, secrets = kiosk.get("ids"), kiosk.get("secrets")
        if ids is not None and not (isinstance(ids, list)
                                    and all(isinstance(i, str) and i.strip() for i in ids)):
            raise ValueError(f"kiosk.ids must be a list of kiosk ids (strings), got {ids!r}")
        if secrets is not None and not (
            isinstance(secrets, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) and v for k, v in secrets.items())
        ):
            raise ValueError("kiosk.secrets must map each kiosk id to a non-empty secret string")
        registered = {i.strip() for i in ids or ()} | {k.strip() for k in secrets or {}}
        return cls(
            ids=frozenset(registered) if registered else None,
            secrets={k.strip(): v.encode("utf-8") for k, v in (secrets or {}).items()},
            trusted_proxies=parse_networks(raw.get("http", {}).get("trusted_proxies")),
        )

    def admits(self, kiosk_id: str, secret: bytes | None,
               owned: Mapping[str, str] | None = None) -> bool:  # fmt: skip
        """A registered kiosk with its secret, if it has one (compared in constant time).
        ``owned``: the hospitals' kiosks (default: asked of ``owners``)."""
        owned = self.owners() if owned is None else owned
        if self.ids is None and not owned:
            return True
        if kiosk_id not in (self.ids or ()) and kiosk_id not in owned:
            return False
        expected = self.secrets.get(kiosk_id)
        return expected is None or hmac.compare_digest(expected, secret or b"")

    def client(self, request: Request) -> str:
        peer = request.getClientAddress()
        forwarded = request.requestHeaders.getRawHeaders(b"x-forwarded-for") or []
        return client_address(str(getattr(peer, "host", peer)), forwarded, self.trusted_proxies)


def platform_owners(current: Callable[[], Any]) -> Callable[[], Mapping[str, str]]:
    """{kiosk id: hospital id} of the platform ``current()`` returns (a hospital file's
    ``kiosks``), worked out again only when the platform changes (a reload)."""
    cache: list[Any] = [None, {}]

    def owners() -> Mapping[str, str]:
        platform = current()
        if platform is not cache[0]:
            cache[:] = [platform, {k: h.id for h in platform.hospitals for k in h.kiosks}]
        return cache[1]

    return owners


def owner_arg(hospital: str | None) -> dict[str, str]:
    """``hospital_id`` for booking when the kiosk belongs to a hospital (else: any hospital)."""
    return {"hospital_id": hospital} if hospital else {}


KIOSK_SECRET_HEADER = b"x-kiosk-secret"
FORBIDDEN = "Unknown kiosk or wrong kiosk secret."


def admit(
    access: KioskAccess, body: dict[str, Any], request: Request
) -> tuple[str, str, str, str | None]:
    """(tcode, kiosk id, client address, the kiosk's hospital or None: any hospital) of a kiosk
    request; BookingError when refused."""
    tcode, kiosk = _kiosk_fields(body)
    owned = access.owners()
    if not access.admits(kiosk, request.getHeader(KIOSK_SECRET_HEADER), owned):
        raise BookingError("forbidden", FORBIDDEN)
    return tcode, kiosk, access.client(request), owned.get(kiosk)


def kiosk_resource(booking: BookingService, access: KioskAccess | None = None,
                   count: CountBooking = no_count) -> Resource:
    """``verify`` and ``check-in``; ``count("checked_in", "kiosk")`` after each check-in."""
    access = access or KioskAccess()

    def admitted(body: dict[str, Any], request: Request) -> tuple[str, str, str, str | None]:
        return admit(access, body, request)

    async def verify(body: dict[str, Any], request: Request) -> dict[str, Any]:
        tcode, kiosk, client, hospital = admitted(body, request)
        found = await booking.verify(tcode, kiosk, client, **owner_arg(hospital))
        return {"booking": booking_json(found)}

    async def check_in(body: dict[str, Any], request: Request) -> dict[str, Any]:
        tcode, kiosk, client, hospital = admitted(body, request)
        checked = await booking.check_in(tcode, kiosk, client, **owner_arg(hospital))
        count("checked_in", "kiosk")
        return {"booking": booking_json(checked)}

    kiosk = Resource()
    kiosk.putChild(b"verify", JsonEndpoint(verify))
    kiosk.putChild(b"check-in", JsonEndpoint(check_in))
    return kiosk
