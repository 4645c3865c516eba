"""A gateway's HTTP request and our answer, apart from any HTTP server.

The adapters (``ussd.at``, ``ussd.hubtel``) turn a ``GatewayRequest`` into a
``GatewayResponse``. Two servers carry them: hotline's lean gateway protocol
(``ussd.httpport``, the deployed path) and twisted.web (``ussd.httpbase.Adapter.render``, for a
connection that also asks for the kiosk or admin API). So the adapters never touch a
``twisted.web`` request and both servers answer byte-for-byte the same body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

from twisted.internet.defer import Deferred

FORM = b"application/x-www-form-urlencoded"
_ESCAPED_SEPARATOR = re.compile(rb"%(?:26|3[dD])")  # an escaped "&" or "="


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
        it runs every request's Content-Type through ``email.message``, costly on every hop.
        """
        fields: dict[bytes, list[bytes]] = {}
        ctype = self.header(b"content-type").split(b";", 1)[0].strip().lower()
        for part in (self.query, self.body if ctype == FORM else b""):
            if part:
                add_form_pairs(part, fields)
        return fields


def add_form_pairs(encoded: bytes, into: dict[bytes, list[bytes]]) -> None:
    """``application/x-www-form-urlencoded`` as the WHATWG URL standard reads it: pairs split on
    ``&`` only (Twisted's ``parse_qs`` also split on ``;``, cutting a text that held one), ``+``
    a space, ``%XX`` an escaped byte, a name without ``=`` an empty value.

    When no ``&`` or ``=`` is escaped, the whole body is unquoted at once and then split: the
    same pairs, for less than unquoting name by name and value by value costs (a USSD
    form escapes most of its fields: ``*``, ``#``, ``+``).
    """
    if b"+" in encoded:
        encoded = encoded.replace(b"+", b" ")
    whole = b"%" in encoded and not _ESCAPED_SEPARATOR.search(encoded)
    for item in (unquote_to_bytes(encoded) if whole else encoded).split(b"&"):
        if not item:
            continue
        name, _, value = item.partition(b"=")
        if not whole and b"%" in item:
            name, value = unquote_to_bytes(name), unquote_to_bytes(value)
        values = into.get(name)
        if values is None:
            into[name] = [value]
        else:
            values.append(value)


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
