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


def counts(dept: str, day: dt.date, session: str) -> str:
    """Hash of the session's taken places per bucket (``r`` remote, ``o`` on-site, ``v`` reserve)
    plus the admin's overrides (``rq`` remote quota, ``places``, ``closed``)."""
    return f"{PREFIX}{session_tag(dept, day, session)}:q"


def returns(dept: str, day: dt.date, session: str) -> str:
    """Sorted set ``<bucket>:<tcode>`` → when a cancelled place re-enters its bucket (epoch s)."""
    return f"{PREFIX}{session_tag(dept, day, session)}:ret"


def session_codes(dept: str, day: dt.date, session: str) -> str:
    """Set of the T-codes booked for the session (for reconciliation and reports)."""
    return f"{PREFIX}{session_tag(dept, day, session)}:codes"


def queue_numbers(dept: str, day: dt.date, session: str) -> str:
    """Counter of the session's check-ins: the next queue number printed on the kiosk slip."""
    return f"{PREFIX}{session_tag(dept, day, session)}:qn"


def ids_of_day(dept: str, day: dt.date) -> str:
    """Hash id_number -> tcode: at most one live booking per ID, department and day."""
    return f"{PREFIX}{{{dept}:{day.isoformat()}}}:ids"


HOLDS = f"{PREFIX}holds"  # sorted set tcode -> hold deadline (epoch s), swept by the sweeper
EVENTS = f"{PREFIX}events"  # stream of booking events for the SMS notices (docs/booking.md)
SHARES = f"{PREFIX}cfg:share"  # hash dept -> remote share set by the admin


def id_digest(id_number: str) -> str:
    """ID numbers never appear in key names (keys show up in monitoring tools): a digest does."""
    return hashlib.blake2b(id_number.encode("ascii", "replace"), digest_size=10).hexdigest()


def person_bookings(idh: str) -> str:
    """Sorted set tcode -> created_at of the ID's live bookings (7- and 90-day caps)."""
    return f"{PREFIX}pid:{idh}:bk"


def person_days(idh: str) -> str:
    """Hash visit day -> live bookings of the ID on that day (per-day cap)."""
    return f"{PREFIX}pid:{idh}:days"


def person_noshows(idh: str) -> str:
    """Sorted set tcode -> session end of the ID's no-shows (blacklist ladder)."""
    return f"{PREFIX}pid:{idh}:ns"


def person_cancels(idh: str) -> str:
    """Sorted set tcode -> time of the ID's own cancels in the window (cancel penalty)."""
    return f"{PREFIX}pid:{idh}:cx"


def blacklist(idh: str) -> str:
    """Hash ``until reason since lifted_at lift_reason appeal``: no booking before ``until``."""
    return f"{PREFIX}bl:{idh}"


BLACKLIST_INDEX = f"{PREFIX}bl:index"  # sorted set idh -> until, for the admin list


def phone_ids(msisdn: str) -> str:
    """Set of the resident IDs bound to one phone number (at most ``ids_per_phone``)."""
    return f"{PREFIX}ph:{msisdn}:ids"


def phone_bookings(msisdn: str) -> str:
    """Sorted set tcode -> visit day ordinal: "my bookings" for the phone."""
    return f"{PREFIX}ph:{msisdn}:bk"


def rate(kind: str, who: str, minute: int) -> str:
    """Fixed one-minute window counter of operations (``kind`` p = phone, i = ID)."""
    return f"{PREFIX}rl:{kind}:{who}:{minute}"


def kiosk_failures(kind: str, who: str) -> str:
    """Sorted set of the times of wrong T-codes at the kiosk API in the last minute (``kind``
    k = one kiosk_id, a = one client address, h = the whole hospital with ``who`` "-")."""
    return f"{PREFIX}kf:{kind}:{who}"


def payment(txn_id: str) -> str:
    """Outcome of a payment callback, for idempotency on ``txn_id``."""
    return request(txn_id).replace(f"{PREFIX}req:", f"{PREFIX}pay:", 1)


def day_index(day: dt.date) -> str:
    """Set of the session tags with bookings on a day (CSV export, no-show sweep, reconcile)."""
    return f"{PREFIX}day:{day.isoformat()}"


def booking(tcode: str) -> str:
    """Hash of one booking; its existence is what makes a T-code taken."""
    return f"{PREFIX}bk:{tcode}"


def request(request_key: str) -> str:
    """Idempotency record: request key -> tcode. Long keys are hashed to bound key size."""
    if len(request_key) > MAX_PLAIN_REQUEST_KEY or not request_key.isprintable():
        request_key = "sha256:" + hashlib.sha256(request_key.encode("utf-8")).hexdigest()
    return f"{PREFIX}req:{request_key}"


NOSHOW_LAST = f"{PREFIX}ns:last"  # the last day whose no-shows are all recorded (ISO date)


def noshow_done(day: dt.date) -> str:
    """Set of the session tags of ``day`` whose no-shows were already recorded."""
    return f"{PREFIX}ns:done:{day.isoformat()}"
