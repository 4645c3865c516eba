"""The quota part: the numbers each script needs to judge one session, and the admin's shares.

Availability reads, taking a place and the admin's share changes all ask this one object, so a
share set by the admin (``hl:cfg:share``, kept here in memory) is the share every part uses.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from booking.catalog import DepartmentConfig, SessionTemplate
from booking.policy import Policy
from booking.rules import at, remote_quota


class Quotas:
    """Remote shares in force (catalog defaults, overridden by the admin) and quota arguments."""

    def __init__(self, policy: Policy, tz: ZoneInfo) -> None:
        self.policy = policy
        self.tz = tz
        self.shares: dict[str, float] = {}  # admin overrides of remote_share (refresh_shares)
        self._cache: dict[tuple[str, str, dt.date, float], tuple[int, int, int, float]] = {}

    def share(self, dept: DepartmentConfig) -> float:
        return self.shares.get(dept.id, dept.remote_share)

    def args(
        self, dept: DepartmentConfig, tmpl: SessionTemplate, day: dt.date, now_s: float
    ) -> list[object]:
        """Script arguments places, reserve, remote quota, fallback for one session."""
        share = self.shares.get(dept.id, dept.remote_share)
        ck = (dept.id, tmpl.id, day, share)
        cached = self._cache.get(ck)
        if cached is None:  # Fraction arithmetic and tz maths are slow: once per session
            if len(self._cache) > 50000:
                self._cache.clear()
            reserve = remote_quota(tmpl.places, self.policy.reserve_share)
            fb_at = at(day, tmpl.start, self.tz) - self.policy.fallback_minutes * 60
            cached = (tmpl.places, reserve, remote_quota(tmpl.places, share), fb_at)
            self._cache[ck] = cached
        places, reserve, rq, fb_at = cached
        return [places, reserve, rq, 1 if now_s >= fb_at else 0]
