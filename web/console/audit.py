"""The audit log: every change made through the console, per hospital, newest first.

One Redis list per hospital (``hl:console:audit:<hospital id>``) of JSON entries: when (epoch
seconds), who, what (an action name), the target, before and after, and the reason given. Phone
and ID numbers are masked before they are written, like everywhere else.
"""

from __future__ import annotations

from typing import Any

import orjson


def audit_key(hospital: str) -> str:
    return f"hl:console:audit:{hospital}"


class Audit:
    def __init__(self, redis: Any, clock: Any, keep: int = 10000) -> None:
        self.redis, self.clock, self.keep = redis, clock, keep

    async def write(self, hospital: str, user: str, action: str, target: str,
                    before: Any = None, after: Any = None, reason: str = "") -> None:
        entry = {"at": self.clock.seconds(), "user": user, "action": action, "target": target,
                 "before": before, "after": after, "reason": reason}
        key = audit_key(hospital)
        await self.redis.lpush(key, orjson.dumps(entry).decode())
        await self.redis.ltrim(key, 0, self.keep - 1)

    async def read(self, hospital: str, count: int = 200) -> list[dict[str, Any]]:
        raw = await self.redis.lrange(audit_key(hospital), 0, count - 1)
        return [orjson.loads(item) for item in raw or []]
