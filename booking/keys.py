"""Every Redis key booking uses, in one place (documented in docs/booking.md), one value per scope.

- ``PlatformKeys``: what is unique across the platform: T-code records (``hl:bk:<tcode>``, the
  record names its ``hospital``), idempotency and payment records, phones, rate limits, the
  events stream and the set of hospital ids served.
- ``HospitalKeys``: one hospital's keys, all under the hash tag ``{h:<hospital id>}`` so the
  hospital's data lives on one shard and could move to a Redis of its own: session counts,
  returns and codes, the IDs per department and day, shares, holds, the day index, the no-show
  bookkeeping and the kiosk failure counters.
- ``PersonKeys`` and ``BarKeys``: the per-person caps and the blacklist, platform-wide (prefix
  ``hl:``) or per hospital (under the hospital's tag), as the service is configured.

Catalog and hospital ids cannot contain braces or colons, so tags and names never collide.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

PREFIX = "hl:"
MAX_PLAIN_REQUEST_KEY = 100
SCOPES = ("platform", "hospital")


def id_digest(id_number: str) -> str:
    """ID numbers never appear in key names (keys show up in monitoring tools): a digest does."""
    return hashlib.blake2b(id_number.encode("ascii", "replace"), digest_size=10).hexdigest()


def hospital_prefix(hospital_id: str) -> str:
    """``hl:{h:<id>}:``, the start of every key of one hospital."""
    return f"{PREFIX}{{h:{hospital_id}}}:"


@dataclass(frozen=True, slots=True)
class PlatformKeys:
    """Keys shared by every hospital of the platform."""

    prefix: str = PREFIX

    @property
    def events(self) -> str:
        """Stream of booking events for the SMS notices; each event names its ``hospital``."""
        return f"{self.prefix}events"

    @property
    def hospitals(self) -> str:
        """Set of the ids of every hospital the platform served (the sweeper's list)."""
        return f"{self.prefix}hospitals"

    def booking(self, tcode: str) -> str:
        """Hash of one booking; its existence is what makes a T-code taken on the platform."""
        return f"{self.prefix}bk:{tcode}"

    def request(self, request_key: str) -> str:
        """Idempotency record: request key -> tcode. Long keys are hashed to bound key size."""
        if len(request_key) > MAX_PLAIN_REQUEST_KEY or not request_key.isprintable():
            request_key = "sha256:" + hashlib.sha256(request_key.encode("utf-8")).hexdigest()
        return f"{self.prefix}req:{request_key}"

    def payment(self, txn_id: str) -> str:
        """Outcome of a payment callback, for idempotency on ``txn_id``."""
        return self.request(txn_id).replace(f"{self.prefix}req:", f"{self.prefix}pay:", 1)

    def phone_ids(self, msisdn: str) -> str:
        """Set of the resident IDs bound to one phone number (at most ``ids_per_phone``)."""
        return f"{self.prefix}ph:{msisdn}:ids"

    def phone_bookings(self, msisdn: str) -> str:
        """Sorted set tcode -> visit day ordinal: "my bookings" for the phone."""
        return f"{self.prefix}ph:{msisdn}:bk"

    def rate(self, kind: str, who: str, minute: int) -> str:
        """Fixed one-minute window counter of operations (``kind`` p = phone, i = ID)."""
        return f"{self.prefix}rl:{kind}:{who}:{minute}"

    def kiosk_failures(self, kind: str, who: str) -> str:
        """Wrong T-codes at a kiosk that names no hospital, on a platform of several."""
        return f"{self.prefix}kf:{kind}:{who}"


PLATFORM = PlatformKeys()


@dataclass(frozen=True, slots=True)
class PersonKeys:
    """One ID's caps, no-shows and cancels; ``prefix`` is ``hl:`` or a hospital's prefix."""

    prefix: str

    def bookings(self, idh: str) -> str:
        """Sorted set tcode -> created_at of the ID's live bookings (7- and 90-day caps)."""
        return f"{self.prefix}pid:{idh}:bk"

    def days(self, idh: str) -> str:
        """Hash visit day -> live bookings of the ID on that day (per-day cap)."""
        return f"{self.prefix}pid:{idh}:days"

    def noshows(self, idh: str) -> str:
        """Sorted set tcode -> session end of the ID's no-shows (blacklist ladder)."""
        return f"{self.prefix}pid:{idh}:ns"

    def cancels(self, idh: str) -> str:
        """Sorted set tcode -> time of the ID's own cancels in the window (cancel penalty)."""
        return f"{self.prefix}pid:{idh}:cx"


@dataclass(frozen=True, slots=True)
class BarKeys:
    """The blacklist; ``prefix`` is ``hl:`` (the platform's) or a hospital's prefix."""

    prefix: str

    def bar(self, idh: str) -> str:
        """Hash ``until reason since hospital lifted_at lift_reason appeal``: no booking before
        ``until``; ``hospital`` is the one whose no-shows or cancels earned the bar."""
        return f"{self.prefix}bl:{idh}"

    @property
    def index(self) -> str:
        """Sorted set idh -> until, for the admin list."""
        return f"{self.prefix}bl:index"

    @property
    def appeals(self) -> str:
        """Sorted set idh -> when, the bars with an appeal waiting (its text: the bar's hash,
        ``appeal appeal_at appeal_msisdn appeal_lang``)."""
        return f"{self.prefix}bl:appeals"


@dataclass(frozen=True, slots=True)
class HospitalKeys:
    """One hospital's keys (hash tag ``{h:<id>}``) and the person and bar keys it books under."""

    hospital_id: str
    person: PersonKeys
    bars: BarKeys

    @classmethod
    def of(
        cls, hospital_id: str, person_scope: str = "platform", blacklist_scope: str = "platform"
    ) -> HospitalKeys:
        if person_scope not in SCOPES or blacklist_scope not in SCOPES:
            raise ValueError(f"person_scope and blacklist_scope must be one of {SCOPES}")
        own = hospital_prefix(hospital_id)
        return cls(hospital_id, PersonKeys(own if person_scope == "hospital" else PREFIX),
                   BarKeys(own if blacklist_scope == "hospital" else PREFIX))  # fmt: skip

    @property
    def prefix(self) -> str:
        return hospital_prefix(self.hospital_id)

    def counts(self, dept: str, day: dt.date, session: str) -> str:
        """Hash of the session's taken places per bucket (``r`` remote, ``o`` on-site, ``v``
        reserve) plus the admin's overrides (``rq`` remote quota, ``places``, ``closed``)."""
        return f"{self.prefix}q:{dept}:{day.isoformat()}:{session}"

    def returns(self, dept: str, day: dt.date, session: str) -> str:
        """Sorted set ``<bucket>:<tcode>`` → when a cancelled place re-enters its bucket."""
        return f"{self.prefix}ret:{dept}:{day.isoformat()}:{session}"

    def session_codes(self, dept: str, day: dt.date, session: str) -> str:
        """Set of the T-codes booked for the session (for reconciliation and reports)."""
        return f"{self.prefix}codes:{dept}:{day.isoformat()}:{session}"

    def queue_numbers(self, dept: str, day: dt.date, session: str) -> str:
        """Counter of the session's check-ins: the next queue number printed on the kiosk slip."""
        return f"{self.prefix}qn:{dept}:{day.isoformat()}:{session}"

    def ids_of_day(self, dept: str, day: dt.date) -> str:
        """Hash id_number -> tcode: one live booking per ID, department and day, per hospital."""
        return f"{self.prefix}ids:{dept}:{day.isoformat()}"

    @property
    def holds(self) -> str:
        """Sorted set tcode -> hold deadline (epoch s), swept by the sweeper."""
        return f"{self.prefix}holds"

    @property
    def shares(self) -> str:
        """Hash dept -> remote share set by the admin."""
        return f"{self.prefix}cfg:share"

    def day_index(self, day: dt.date) -> str:
        """Set of ``<dept>:<day>:<session>`` with bookings on a day (export, no-shows)."""
        return f"{self.prefix}day:{day.isoformat()}"

    @property
    def noshow_last(self) -> str:
        """The last day whose no-shows are all recorded (ISO date)."""
        return f"{self.prefix}ns:last"

    def noshow_done(self, day: dt.date) -> str:
        """Set of the session tags of ``day`` whose no-shows were already recorded."""
        return f"{self.prefix}ns:done:{day.isoformat()}"

    def kiosk_failures(self, kind: str, who: str) -> str:
        """Sorted set of the times of wrong T-codes at this hospital's kiosks in the last
        minute (``kind`` k = one kiosk_id, a = one client address, h = all, ``who`` "-")."""
        return f"{self.prefix}kf:{kind}:{who}"
