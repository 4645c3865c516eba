"""Console accounts: who may log in, for which hospital, in which role.

Stored in Redis beside the data they guard (``hl:console:user:<name>``, one hash each, and the
set ``hl:console:users``), so every node of a platform sees the same accounts and an account
added on one node can log in on any. Passwords are kept only as argon2id hashes (argon2-cffi);
hashing is memory-hard on purpose and so slow, and runs in a thread so calls and USSD hops are
not kept waiting behind a login.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from twisted.internet.threads import deferToThread

ROLES = ("viewer", "clerk", "admin")  # each may do what the one before it may, and more
PLATFORM = "*"  # the hospital of operator staff: every hospital
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
HOSPITAL = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
USERS = "hl:console:users"
MIN_PASSWORD = 10

_hasher = PasswordHasher()  # argon2id, the library's current recommended parameters
# a hash of nothing any user has, verified when the name is unknown: same work, same time
_DUMMY = _hasher.hash("no such user: the same argon2 work as for a real one")


def user_key(name: str) -> str:
    return f"hl:console:user:{name}"


def epoch_key(name: str) -> str:
    """A counter raised by every new password and removal, never deleted: a session records it,
    so one opened before is over, even if the name is added again later."""
    return f"hl:console:epoch:{name}"


class AccountError(ValueError):
    """A refused account change; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    hospital: str  # a hospital id, or PLATFORM
    role: str
    epoch: int = 0  # raised by a new password: the sessions opened before it end

    @property
    def platform(self) -> bool:
        return self.hospital == PLATFORM

    def may(self, role: str) -> bool:
        """Whether this user's role includes ``role`` (admin ⊃ clerk ⊃ viewer)."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def sees(self, hospital_id: str) -> bool:
        """A hospital's user sees that hospital alone; platform staff see every one."""
        return self.platform or self.hospital == hospital_id


def check_new(name: str, hospital: str, role: str, password: str) -> None:
    """The rules for a new account; AccountError naming the first one broken."""
    if not NAME.match(name):
        raise AccountError("name: 2-32 of a-z 0-9 . _ -, starting with a letter or digit")
    if hospital != PLATFORM and not HOSPITAL.match(hospital):
        raise AccountError("hospital: a hospital id such as 'main'")
    if role not in ROLES:
        raise AccountError(f"role: one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")


class Accounts:
    """The account store over a txredisapi-style client."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis

    @staticmethod
    async def _hash(password: str) -> str:
        return await deferToThread(_hasher.hash, password)

    async def add(self, name: str, hospital: str, role: str, password: str, *,
                  replace: bool = False) -> User:
        name = name.strip().lower()
        check_new(name, hospital, role, password)
        if not replace and await self.redis.exists(user_key(name)):
            raise AccountError(f"user {name!r} exists")
        hashed = await self._hash(password)
        epoch = int(await self.redis.incr(epoch_key(name)))
        await self.redis.hmset(user_key(name), {
            "hospital": hospital, "role": role, "hash": hashed, "epoch": epoch})
        await self.redis.sadd(USERS, name)
        return User(name, hospital, role, epoch)

    async def change(self, name: str, role: str, password: str = "") -> User:
        """A new role and, if given, a new password (which ends the user's sessions)."""
        user = await self.get(name)
        if user is None:
            raise AccountError(f"no user {name!r}")
        if password:
            return await self.add(user.name, user.hospital, role, password, replace=True)
        if role not in ROLES:
            raise AccountError(f"role: one of {', '.join(ROLES)}")
        await self.redis.hset(user_key(user.name), "role", role)
        return User(user.name, user.hospital, role, user.epoch)

    async def get(self, name: str) -> User | None:
        h = await self.redis.hgetall(user_key(name.strip().lower()))
        if not h or h.get("role") not in ROLES:
            return None
        return User(name.strip().lower(), h["hospital"], h["role"], int(h.get("epoch", 0)))

    async def check_password(self, name: str, password: str) -> User | None:
        """The user when ``password`` is theirs; None otherwise, after the same argon2 work."""
        name = name.strip().lower()
        h = await self.redis.hgetall(user_key(name)) if NAME.match(name) else None
        stored = (h or {}).get("hash") or _DUMMY
        try:
            await deferToThread(_hasher.verify, stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if not h or h.get("role") not in ROLES:
            return None
        if _hasher.check_needs_rehash(stored):
            await self.redis.hset(user_key(name), "hash", await self._hash(password))
        return User(name, h["hospital"], h["role"], int(h.get("epoch", 0)))

    async def of_hospital(self, hospital: str) -> list[User]:
        out = []
        for name in sorted(await self.redis.smembers(USERS)):
            user = await self.get(name)
            if user is not None and user.hospital == hospital:
                out.append(user)
        return out

    async def remove(self, name: str) -> bool:
        name = name.strip().lower()
        await self.redis.incr(epoch_key(name))
        gone = await self.redis.delete(user_key(name))
        await self.redis.srem(USERS, name)
        return bool(gone)
