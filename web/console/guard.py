"""Console sessions, CSRF tokens and the login rate limit, all kept in Redis.

A session is a random token in an HttpOnly, SameSite=Strict cookie; Redis holds only its
SHA-256 (``hl:console:s:<digest>``), so a copy of the database logs nobody in. Each session has
its own CSRF token, which every form carries and every POST must return (compared in constant
time). The account is read again on every request: a removed account or a changed role counts at
once.

Failed logins are counted per user name and per client address (``web.clientaddr``: the
address behind trusted proxies, an IPv6 /64) in fixed windows of ``login_window_s``; when either
count reaches its limit the login is refused before the password is even checked, so neither
guessing many passwords for one name nor many names from one address gets through (the
limit of a window can be used twice across its boundary: a fixed window is the price of one
counter per key).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from web.console.accounts import NAME, Accounts, User

SESSION_COOKIE = b"hl_console"


def _session_key(token: str) -> str:
    return "hl:console:s:" + hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def same(given: str, expected: str) -> bool:
    """Constant-time comparison of two tokens (an empty expected token matches nothing)."""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    user: User
    csrf: str


@dataclass(frozen=True, slots=True)
class Limits:
    session_s: float = 8 * 3600
    attempts_per_user: int = 5
    attempts_per_address: int = 20
    window_s: float = 900


class Sessions:
    def __init__(self, redis: Any, accounts: Accounts, clock: Any, limits: Limits) -> None:
        self.redis, self.accounts, self.clock, self.limits = redis, accounts, clock, limits

    async def open(self, user: User) -> Session:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        key = _session_key(token)
        await self.redis.hmset(key, {"user": user.name, "csrf": csrf, "epoch": user.epoch,
                                     "at": repr(self.clock.seconds())})
        await self.redis.expire(key, max(1, int(self.limits.session_s)))
        return Session(token, user, csrf)

    async def find(self, token: str) -> Session | None:
        if not token or len(token) > 100:
            return None
        h = await self.redis.hgetall(_session_key(token))
        if not h:
            return None
        if float(h.get("at", 0)) + self.limits.session_s <= self.clock.seconds():
            await self.close(token)
            return None
        user = await self.accounts.get(h.get("user", ""))
        if user is None or str(user.epoch) != h.get("epoch"):
            return None  # removed, or a new password since
        return Session(token, user, h.get("csrf", ""))

    async def close(self, token: str) -> None:
        await self.redis.delete(_session_key(token))

    # ---------------------------------------------------------------- login attempts

    def _keys(self, name: str, address: str) -> tuple[str, str]:
        window = int(self.clock.seconds() // self.limits.window_s)
        user = name if NAME.match(name) else "-invalid-"
        return (f"hl:console:fail:u:{user}:{window}", f"hl:console:fail:a:{address}:{window}")

    async def login(self, name: str, password: str, address: str) -> User | bool | None:
        """The user; None for a wrong name or password; False when attempts are used up.

        The attempt is counted before the password is checked, so attempts sent at once cannot
        all pass the limit while the slow hash runs; a right password takes its count back."""
        name = name.strip().lower()
        ttl = max(1, int(self.limits.window_s * 2))
        keys = self._keys(name, address)
        counts = []
        for key in keys:
            counts.append(int(await self.redis.incr(key)))
            await self.redis.expire(key, ttl)
        if (counts[0] > self.limits.attempts_per_user
                or counts[1] > self.limits.attempts_per_address):
            return False
        user = await self.accounts.check_password(name, password)
        if user is not None:
            for key in keys:
                await self.redis.decr(key)
        return user
