"""A node-local, seconds-long memory of "places left" listings, so a flash crowd browsing the
same department does not run the availability script once per caller per screen.

Only listings use it (the days and sessions a caller is shown); taking a place always runs the
hold script against Redis, so a stale listing can never sell a place twice: at worst a caller
picks a session that filled within the last ``ttl_s`` and is told it is full. A node that sees
"full" drops that department's listings at once, so the screen after the refusal is fresh.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any


class ListingCache:
    """``ttl_s`` = 0 keeps nothing (every listing reads Redis)."""

    def __init__(self, ttl_s: float = 0.0, max_entries: int = 10000) -> None:
        if ttl_s < 0:
            raise ValueError("listing cache ttl must be >= 0")
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[tuple[str, Hashable], tuple[float, Any]] = {}

    def get(self, dept: str, key: Hashable, now_s: float) -> Any | None:
        found = self._entries.get((dept, key))
        if found is None or found[0] <= now_s:
            return None
        return found[1]

    def put(self, dept: str, key: Hashable, now_s: float, value: Any) -> None:
        if self.ttl_s <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now_s}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[(dept, key)] = (now_s + self.ttl_s, value)

    def drop(self, dept: str) -> None:
        """Forget every listing of ``dept`` (a booking there was refused as full)."""
        self._entries = {k: v for k, v in self._entries.items() if k[0] != dept}
