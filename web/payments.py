"""``POST /api/payments/callback``: the payment provider tells us a hold was paid.

The body is JSON ``{"txn_id", "tcode", "amount"}`` (amount in fen), signed with HMAC-SHA256 over
the raw body bytes in the ``X-Hotline-Signature`` header (lower-case hex), using the shared secret
``payments.secret``. The answer is ``{"outcome": "booked" | "refund" | "unknown"}``; a replay of the
same ``txn_id`` gets the same answer and changes nothing. A payment that arrives after the hold
lapsed never makes a booking: booking appends a ``refund`` event instead. An amount other than
the booking's fee (``fee`` in the catalog) is refused with 409 ``amount_mismatch`` and changes
nothing (logged; the same request is refused again).

``sign`` and ``simulate_payment`` are the payment simulator used by the demo and the tests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from booking.api import BookingError
from web.jsonapi import MAX_BODY, error_body, write_json

log = Logger()
SIGNATURE_HEADER = b"x-hotline-signature"


def sign(secret: str, body: bytes) -> str:
    """Lower-case hex HMAC-SHA256 of ``body`` under ``secret``."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class PaymentCallback(Resource):
    """Verifies the signature on the raw body, then lets booking apply the payment atomically."""

    isLeaf = True

    def __init__(self, booking: Any, secret: str | None) -> None:
        super().__init__()
        self.booking = booking
        self.secret = secret

    def render_POST(self, request: Request) -> object:
        raw = request.content.read(MAX_BODY + 1) if request.content else b""
        if not self.secret:
            return self._now(request, 503, "not_configured", "payments.secret is not set")
        if len(raw) > MAX_BODY:
            return self._now(request, 413, "bad_request", f"body larger than {MAX_BODY} bytes")
        given = (request.getHeader(SIGNATURE_HEADER) or b"").strip().lower()
        if not hmac.compare_digest(given, sign(self.secret, raw).encode()):
            log.warn("payments.bad_signature")
            return self._now(request, 401, "bad_signature", "signature does not match the body")
        try:
            body = json.loads(raw.decode("utf-8"))
            txn_id, tcode, amount = body["txn_id"], body["tcode"], body["amount"]
            if not isinstance(txn_id, str) or not isinstance(tcode, str):
                raise TypeError("txn_id and tcode must be strings")
            if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
                raise TypeError("amount must be a whole number of fen >= 0")
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            return self._now(request, 400, "bad_request",
                             f"body must be JSON txn_id/tcode/amount: {exc}")

        async def run() -> None:
            try:
                outcome = await self.booking.confirm_payment(tcode, txn_id, amount)
                write_json(request, 200, {"outcome": outcome, "txn_id": txn_id})
            except BookingError as exc:
                status = 409 if exc.code == "amount_mismatch" else 400
                write_json(request, status, error_body(exc.code, exc.message))
            except Exception:
                log.failure("payments.unhandled")
                write_json(request, 500, error_body("internal", "try again later"))

        Deferred.fromCoroutine(run())
        return NOT_DONE_YET

    def _now(self, request: Request, status: int, code: str, message: str) -> bytes:
        request.setResponseCode(status)
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        return json.dumps(error_body(code, message)).encode("utf-8")


async def simulate_payment(
    port: int, secret: str, tcode: str, txn_id: str, amount: int = 500, *, reactor: Any = None
) -> tuple[int, dict[str, Any]]:
    """The payment simulator: POST a signed callback to a local server, return (status, JSON).

    Twisted's own ``Agent``: the simulator ships with the server, so it uses only what the
    server depends on at run time."""
    from io import BytesIO

    from twisted.internet.protocol import Protocol
    from twisted.web.client import Agent, FileBodyProducer, ResponseDone
    from twisted.web.http_headers import Headers

    if reactor is None:
        from twisted.internet import reactor
    body = json.dumps({"txn_id": txn_id, "tcode": tcode, "amount": amount}).encode("utf-8")
    headers = Headers({b"content-type": [b"application/json"],
                       b"x-hotline-signature": [sign(secret, body).encode("ascii")]})  # fmt: skip
    response = await Agent(reactor).request(
        b"POST", f"http://127.0.0.1:{port}/api/payments/callback".encode("ascii"), headers,
        FileBodyProducer(BytesIO(body)),
    )
    received: Deferred[bytes] = Deferred()
    parts: list[bytes] = []

    class Collect(Protocol):  # readBody warns about the transport Agent hands a whole body to
        def dataReceived(self, data: bytes) -> None:
            parts.append(data)

        def connectionLost(self, reason: Any = None) -> None:
            if reason is None or reason.check(ResponseDone):
                received.callback(b"".join(parts))
            else:
                received.errback(reason)

    response.deliverBody(Collect())
    return response.code, json.loads((await received).decode("utf-8"))
