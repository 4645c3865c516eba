"""A gateway's HTTP request and our answer, apart from any HTTP server.

The adapters (``ussd.at``, ``ussd.hubtel``) turn a ``GatewayRequest`` into a
``GatewayResponse``. Two servers carry them: hotline's lean gateway protocol
(``hotline.httpport``, the deployed path) and twisted.web (``ussd.httpbase.Adapter.render``, for a
connection that also asks for the kiosk or admin API). So the adapters never touch a
``twisted.web`` request and both servers answer byte-for-byte the same body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred
from twisted.web.http import parse_qs

FORM = b"application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class GatewayRequest:
    """One request as a gateway sent it. ``headers``: lower-case names, the last value of each."""

    method: bytes
    path: bytes  # the request target without its query string, as sent (not percent-decoded)
    query: bytes = b""
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: bytes) -> bytes:
        return self.headers.get(name, b"")

    def form_fields(self) -> dict[bytes, list[bytes]]:
        """Query string plus an url-encoded body (the AT convention sends either).

        Parsed here, not by Twisted: hotline's Site turns Twisted's POST form parsing off, since
        it runs every request's Content-Type through ``email.message``, a fifth of a hop's CPU.
        """
        fields: dict[bytes, list[bytes]] = {}
        ctype = self.header(b"content-type").split(b";", 1)[0].strip().lower()
        body = self.body if ctype == FORM else b""
        for part in (self.query, body):
            if part:
                for key, values in parse_qs(part, 1).items():
                    fields.setdefault(key, []).extend(values)
        return fields


@dataclass(frozen=True, slots=True)
class GatewayResponse:
    """Status, content type and body; every gateway answer is also ``cache-control: no-store``."""

    status: int
    content_type: bytes
    body: bytes


PLAIN = b"text/plain; charset=utf-8"
JSON = b"application/json; charset=utf-8"

Answer = GatewayResponse | Deferred[GatewayResponse]
Handler = Callable[[GatewayRequest], Answer]  # an adapter's ``handle``: what a route runs


def plain(status: int, body: str) -> GatewayResponse:
    return GatewayResponse(status, PLAIN, body.encode("utf-8"))


def json_response(status: int, body: dict[str, Any]) -> GatewayResponse:
    return GatewayResponse(status, JSON, json.dumps(body, ensure_ascii=False).encode("utf-8"))
