"""Every Redis key booking uses, in one place (documented in docs/booking.md).

Keys a session's booking touches share the hash tag ``{<dept>:<day>:<session>}`` so a hot session
lives on one shard; the per-ID-per-day key is tagged ``{<dept>:<day>}``. Catalog ids cannot contain
braces or colons, so tags never collide.
"""

from __future__ import annotations

import datetime as dt
import hashlib

PREFIX = "hl:"
MAX_PLAIN_REQUEST_KEY = 100


def session_tag(dept: str, day: dt.date, session: str) -> str:
    return f"{{{dept}:{day.isoformat()}:{session}}}"


def remote_count(dept: str, day: dt.date, session: str) -> str:
    """Remote bookings that count against the session's quota (confirmed + checked in)."""
    return f"{PREFIX}{session_tag(dept, day, session)}:n"


def session_codes(dept: str, day: dt.date, session: str) -> str:
    """Set of the T-codes booked for the session (for reconciliation and reports)."""
    return f"{PREFIX}{session_tag(dept, day, session)}:codes"


def ids_of_day(dept: str, day: dt.date) -> str:
    """Hash id_number -> tcode: at most one live booking per ID, department and day."""
    return f"{PREFIX}{{{dept}:{day.isoformat()}}}:ids"


def booking(tcode: str) -> str:
    """Hash of one booking; its existence is what makes a T-code taken."""
    return f"{PREFIX}bk:{tcode}"


def request(request_key: str) -> str:
    """Idempotency record: request key -> tcode. Long keys are hashed to bound key size."""
    if len(request_key) > MAX_PLAIN_REQUEST_KEY or not request_key.isprintable():
        request_key = "sha256:" + hashlib.sha256(request_key.encode("utf-8")).hexdigest()
    return f"{PREFIX}req:{request_key}"
