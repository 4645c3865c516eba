"""Moving a single-hospital data set to the keys of a platform of hospitals.

Before the hospital dimension, one deployment served one hospital and its keys carried none:
``hl:{nk:2026-12-05:am}:q``, ``hl:holds``, ``hl:cfg:share``, ``hl:day:<day>``... ``migrate``
renames each such key to the same key of one hospital (``hl:{h:main}:q:nk:2026-12-05:am``) and
writes the hospital into every booking hash. Every step is one atomic command (RENAMENX, or
HSETNX of the ``hospital`` field), and a step already done is a no-op, so a run cut off half-way
is finished by running it again, and a second run changes nothing. A key whose new name already
exists is left alone and reported as a conflict (the new version ran before the migration).

Run it with the servers stopped: a server of the old version would keep writing old keys.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from booking.keys import PLATFORM, HospitalKeys
from booking.yaml_source import ID_PATTERN

_ID = r"([a-z0-9][a-z0-9_-]{0,31})"
_DAY = r"(\d{4}-\d{2}-\d{2})"
_IDH = r"([0-9a-f]{20})"
SCAN_COUNT = 1000

# the hospital's keys, by the shape of their old name (booking/keys.py before the hospital)
_SESSION = re.compile(rf"^hl:\{{{_ID}:{_DAY}:{_ID}\}}:(q|ret|codes)$")
_IDS = re.compile(rf"^hl:\{{{_ID}:{_DAY}\}}:ids$")
_DAYIX = re.compile(rf"^hl:day:{_DAY}$")
_NS_DONE = re.compile(rf"^hl:ns:done:{_DAY}$")
_KF = re.compile(r"^hl:kf:([kah]):(.+)$")
_PERSON = re.compile(rf"^hl:pid:{_IDH}:(bk|days|ns|cx)$")
_BAR = re.compile(rf"^hl:bl:{_IDH}$")
_BOOKING = re.compile(r"^hl:bk:[0-9]{10}$")

_SET_HOSPITAL = """
local n = 0
for _, k in ipairs(KEYS) do
  if redis.call('TYPE', k)['ok'] == 'hash' and redis.call('HSETNX', k, 'hospital', ARGV[1]) == 1
  then n = n + 1 end
end
return n
"""


@dataclass
class Report:
    """What a run did: keys renamed, bookings given their hospital, and the conflicts."""

    moved: int = 0
    bookings: int = 0
    conflicts: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.moved or self.bookings)


def new_name(
    key: str, k: HospitalKeys, person_scope: str = "platform", blacklist_scope: str = "platform"
) -> str | None:
    """The key's name on the platform, or None when it stays as it is (pure: no Redis)."""
    k = HospitalKeys.of(k.hospital_id, person_scope, blacklist_scope)
    if m := _SESSION.match(key):
        dept, day, session, kind = m.groups()
        d = dt.date.fromisoformat(day)
        return {"q": k.counts, "ret": k.returns, "codes": k.session_codes}[kind](dept, d, session)
    if m := _IDS.match(key):
        return k.ids_of_day(m.group(1), dt.date.fromisoformat(m.group(2)))
    if m := _DAYIX.match(key):
        return k.day_index(dt.date.fromisoformat(m.group(1)))
    if m := _NS_DONE.match(key):
        return k.noshow_done(dt.date.fromisoformat(m.group(1)))
    if m := _KF.match(key):
        return k.kiosk_failures(m.group(1), m.group(2))
    fixed = {"hl:holds": k.holds, "hl:cfg:share": k.shares, "hl:ns:last": k.noshow_last}
    if key in fixed:
        return fixed[key]
    if person_scope == "hospital" and (m := _PERSON.match(key)):
        idh, kind = m.groups()
        person = {"bk": k.person.bookings, "days": k.person.days, "ns": k.person.noshows,
                  "cx": k.person.cancels}[kind]  # fmt: skip
        return person(idh)
    if blacklist_scope == "hospital":
        if m := _BAR.match(key):
            return k.bars.bar(m.group(1))
        if key == "hl:bl:index":
            return k.bars.index
    return None


async def migrate(
    redis: Any, hospital_id: str = "main", *, person_scope: str = "platform",
    blacklist_scope: str = "platform", dry_run: bool = False,
    progress: Callable[[str, str], None] | None = None,
) -> Report:
    """Move today's single-hospital keys to hospital ``hospital_id``; see the module docstring.

    ``person_scope``/``blacklist_scope``: as the service will run (per-hospital person keys and
    bars move under the hospital too). ``dry_run``: count, change nothing. A ``hospital_id``
    that is not an id raises ValueError before anything is read."""
    if not ID_PATTERN.match(hospital_id):
        raise ValueError(f"{hospital_id!r} is not a hospital id ([a-z0-9][a-z0-9_-]*)")
    k = HospitalKeys.of(hospital_id, person_scope, blacklist_scope)
    report = Report()
    if not dry_run:
        await redis.sadd(PLATFORM.hospitals, [hospital_id])
    cursor = 0
    while True:
        cursor, batch = await redis.scan(cursor, "hl:*", SCAN_COUNT)
        bookings = []
        for key in batch:
            if key.startswith("hl:{h:"):
                continue  # already a hospital's
            if _BOOKING.match(key):
                bookings.append(key)
                continue
            target = new_name(key, k, person_scope, blacklist_scope)
            if target is None:
                continue
            if dry_run:
                report.moved += 1
                continue
            try:
                done = await redis.execute_command("RENAMENX", key, target)
            except Exception as exc:  # gone since the scan (expired): nothing to move
                if "no such key" not in str(exc).lower():
                    raise
                continue
            if done:
                report.moved += 1
                if progress:
                    progress(key, target)
            elif await redis.exists(key):
                report.conflicts.append(key)
        if bookings and dry_run:
            for key in bookings:
                report.bookings += not await redis.hexists(key, "hospital")
        elif bookings:
            report.bookings += int(await redis.eval(_SET_HOSPITAL, bookings, [hospital_id]))
        if int(cursor) == 0:
            return report
