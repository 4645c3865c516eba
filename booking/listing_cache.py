"""A node-local, seconds-long memory of "places left" listings, so a flash crowd browsing the
same department does not run the availability script once per caller per screen.

Only listings use it (the days and sessions a caller is shown); taking a place always runs the
hold script against Redis, so a stale listing can never sell a place twice: at worst a caller
picks a session that filled within the last ``ttl_s`` and is told it is full. A node that sees
"full" drops that department's listings at once, so the screen after the refusal is fresh.

A listing is *due* once three quarters of its ``ttl_s`` have passed: the first reader then
claims its refresh, which runs in the background while every reader keeps the cached listing.
Under steady traffic no caller waits for the availability script, and no listing is ever older
than ``ttl_s``: if the refresh has not landed by then, the next reader reads Redis itself.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

DUE_AT = 0.75  # share of ttl_s after which the first reader refreshes in the background

Key = tuple[str, Hashable]


class ListingCache:
    """``ttl_s`` = 0 keeps nothing (every listing reads Redis)."""

    def __init__(self, ttl_s: float = 0.0, max_entries: int = 10000) -> None:
        if ttl_s < 0:
            raise ValueError("listing cache ttl must be >= 0")
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[Key, tuple[float, Any]] = {}  # -> (read at, listing)
        self._refreshing: set[Key] = set()
        # bumped by drop(): a read begun before a refusal must not store what it saw
        self._generations: dict[str, int] = {}

    def get(self, dept: str, key: Hashable, now_s: float) -> Any | None:
        found = self._entries.get((dept, key))
        if found is None or found[0] + self.ttl_s <= now_s:
            return None
        return found[1]

    def generation(self, dept: str) -> int:
        """Pass this, taken before reading Redis, to ``put``."""
        return self._generations.get(dept, 0)

    def claim(self, dept: str, key: Hashable, now_s: float) -> int | None:
        """The department's generation if this cached listing is due and nobody refreshes it
        yet (the caller now must: ``put`` or ``release``); None otherwise."""
        found = self._entries.get((dept, key))
        if (found is None or now_s < found[0] + DUE_AT * self.ttl_s
                or (dept, key) in self._refreshing):
            return None
        self._refreshing.add((dept, key))
        return self.generation(dept)

    def release(self, dept: str, key: Hashable) -> None:
        """A claimed refresh failed: the next due reader may try again."""
        self._refreshing.discard((dept, key))

    def put(
        self, dept: str, key: Hashable, read_at: float, value: Any, generation: int
    ) -> None:
        """Keep ``value``, read from Redis at ``read_at``, unless the department was dropped
        since ``generation`` was taken."""
        self._refreshing.discard((dept, key))
        if self.ttl_s <= 0 or generation != self.generation(dept):
            return
        if len(self._entries) >= self.max_entries:
            fresh_after = read_at - self.ttl_s
            self._entries = {k: v for k, v in self._entries.items() if v[0] > fresh_after}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[(dept, key)] = (read_at, value)

    def drop(self, dept: str) -> None:
        """Forget every listing of ``dept`` (a booking there was refused as full)."""
        self._generations[dept] = self.generation(dept) + 1
        self._entries = {k: v for k, v in self._entries.items() if k[0] != dept}
