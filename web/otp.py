"""Proving a phone number: a 6-digit one-time code by SMS, then a signed-in session.

Used by the web booking pages (``web.book``) and the partner terminal API (``web.terminal``).
The rules, each enforced in Redis so every node and process shares them:

- a code is good for ``ttl_s`` (5 minutes) and once; ``max_tries`` wrong codes burn it;
- a new code to the same phone at most once per ``resend_s``; at most ``per_phone`` codes per
  phone and ``per_client`` per client address in each ``window_s`` (fixed windows of the clock);
- each try is counted before the code is compared (so parallel guesses cannot share a try), and
  the compare is constant-time over the code's digest; Redis keeps the digest, never the code.

Time comes from the injected clock (``twisted.internet.task.Clock`` in tests): expiry and the
windows are decided against it; Redis expiries only clean up.

A session is a random token in an HttpOnly cookie (or a terminal's ``phone_token``); Redis keeps
its digest mapped to the phone, so a Redis dump names no usable token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet import defer

from booking.api import BookingError, RateLimited
from sms.api import OutgoingSms

PREFIX = "hl:otp:"
SESSION_PREFIX = "hl:web:s:"
CODE_DIGITS = 6

# KEYS: the phone's record, its window counter, the client's window counter.
# ARGV: now, digest, expires_at, resend_s, per_phone, per_client, window_end, keep_s
_SEND = """
local now = tonumber(ARGV[1])
local sent = tonumber(redis.call('HGET', KEYS[1], 'sent') or '-1e18')
local resend = tonumber(ARGV[4])
if now - sent < resend then return {'resend', math.ceil(resend - (now - sent))} end
local wait = math.max(1, math.ceil(tonumber(ARGV[7]) - now))
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[5]) then
  return {'phone', wait} end
if tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[6]) then
  return {'client', wait} end
for i = 2, 3 do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[8])
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'h', ARGV[2], 'exp', ARGV[3], 'sent', ARGV[1], 'tries', '0')
redis.call('EXPIRE', KEYS[1], ARGV[8])
return {'ok', 0}
"""

# One try: counted before the compare; the last try burns the code whatever its result.
# KEYS: the phone's record. ARGV: now, max_tries. -> {digest or '', tries left}
_TRY = """
local h = redis.call('HGET', KEYS[1], 'h')
if not h then return {'', 0} end
if tonumber(redis.call('HGET', KEYS[1], 'exp')) <= tonumber(ARGV[1]) then
  redis.call('HDEL', KEYS[1], 'h')
  return {'', 0}
end
local n = redis.call('HINCRBY', KEYS[1], 'tries', 1)
local left = tonumber(ARGV[2]) - n
if left <= 0 then redis.call('HDEL', KEYS[1], 'h') end
return {h, left}
"""

# The right code, used once: only the try that still finds the digest it compared with wins.
_USE = """
if redis.call('HGET', KEYS[1], 'h') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'h')
  return 1
end
return 0
"""


@dataclass(frozen=True, slots=True)
class OtpLimits:
    """``web.*`` settings (docs/web.md)."""

    ttl_s: int = 300
    max_tries: int = 3
    resend_s: int = 60
    per_phone: int = 5
    per_client: int = 20
    window_s: int = 3600
    session_s: int = 1800

    @classmethod
    def from_settings(cls, web: dict[str, Any]) -> OtpLimits:
        return cls(ttl_s=int(web["otp_ttl_s"]), max_tries=int(web["otp_max_tries"]),
                   resend_s=int(web["otp_resend_s"]), per_phone=int(web["otp_per_phone"]),
                   per_client=int(web["otp_per_client"]), window_s=int(web["otp_window_s"]),
                   session_s=int(web["session_s"]))


class CodeRefused(BookingError):
    """``code_wrong`` (``tries_left`` > 0) or ``code_expired`` (expired, used, burned, none)."""

    def __init__(self, code: str, message: str, tries_left: int = 0) -> None:
        super().__init__(code, message)
        self.tries_left = tries_left


OtpText = Callable[[str, str, int], str]  # (code, lang, minutes) -> the SMS text
Send = Callable[[OutgoingSms], Any]  # sms.api.Sender.send


def default_otp_text(code: str, lang: str, minutes: int) -> str:
    """The code's SMS when the templates have no ``otp`` kind."""
    if lang == "en":
        return f"Your verification code is {code}, valid for {minutes} minutes. Tell no one."
    return f"验证码{code}，{minutes}分钟内有效，请勿告诉他人。"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class PhoneCheck:
    """One-time codes and the sessions they open (see the module docstring)."""

    def __init__(self, redis: Any, clock: Any, send: Send, *, limits: OtpLimits | None = None,
                 text: OtpText = default_otp_text,
                 new_code: Callable[[], str] | None = None) -> None:
        self.redis, self.clock, self.send = redis, clock, send
        self.limits = limits or OtpLimits()
        self.text = text
        self.new_code = new_code or (lambda: f"{secrets.randbelow(10**CODE_DIGITS):06d}")

    async def send_code(self, msisdn: str, client: str, lang: str = "zh") -> None:
        """Queue a new code for ``msisdn`` (it replaces an older one); RateLimited over a
        limit. ``client``: the limit key of the asker (``web.clientaddr``, or a terminal id)."""
        lim, now = self.limits, self.clock.seconds()
        window = int(now // lim.window_s)
        code = self.new_code()
        keep = max(lim.window_s * 2, lim.ttl_s + lim.resend_s)
        status, wait = await self.redis.eval(_SEND, [
            PREFIX + msisdn, f"{PREFIX}n:p:{msisdn}:{window}", f"{PREFIX}n:c:{client}:{window}",
        ], [repr(now), _digest(code), repr(now + lim.ttl_s), lim.resend_s, lim.per_phone,
            lim.per_client, (window + 1) * lim.window_s, keep])
        status = status.decode() if isinstance(status, bytes) else str(status)
        if status != "ok":
            raise RateLimited(_LIMITED[status], int(wait))
        minutes = max(1, lim.ttl_s // 60)
        await defer.maybeDeferred(self.send, OutgoingSms(
            msisdn, self.text(code, lang, minutes), f"otp:{msisdn}:{now!r}", "otp",
            valid_until=now + lim.ttl_s))

    async def check_code(self, msisdn: str, code: str) -> None:
        """Accept the right code once; CodeRefused otherwise."""
        now = self.clock.seconds()
        stored, left = await self.redis.eval(_TRY, [PREFIX + msisdn],
                                             [repr(now), self.limits.max_tries])
        stored = stored.decode() if isinstance(stored, bytes) else str(stored)
        if not stored:
            raise CodeRefused("code_expired", EXPIRED)
        given = code.strip()
        ok = hmac.compare_digest(_digest(given).encode(), stored.encode())
        ok = ok and len(given) == CODE_DIGITS and given.isascii() and given.isdigit()
        if ok and (int(left) <= 0 or await self.redis.eval(_USE, [PREFIX + msisdn], [stored])):
            return
        if ok:
            raise CodeRefused("code_expired", EXPIRED)  # used meanwhile by a parallel try
        if int(left) <= 0:
            raise CodeRefused("code_expired", BURNED)
        raise CodeRefused("code_wrong", WRONG, int(left))

    async def open_session(self, msisdn: str) -> str:
        """A new session token for a phone just proven."""
        token = secrets.token_urlsafe(32)
        expires = self.clock.seconds() + self.limits.session_s
        await self.redis.set(SESSION_PREFIX + _digest(token), f"{msisdn}|{expires!r}",
                             expire=self.limits.session_s)
        return token

    async def session_phone(self, token: str | None) -> str | None:
        """The phone a live session proved, or None."""
        if not token or len(token) > 128:
            return None
        value = await self.redis.get(SESSION_PREFIX + _digest(token))
        if isinstance(value, bytes):
            value = value.decode()
        if not value:
            return None
        msisdn, _, expires = str(value).partition("|")
        return msisdn if float(expires or 0) > self.clock.seconds() else None

    async def close_session(self, token: str | None) -> None:
        if token and len(token) <= 128:
            await self.redis.delete(SESSION_PREFIX + _digest(token))


EXPIRED = "This code has expired or was used. Please ask for a new one."
BURNED = "Too many wrong codes. Please ask for a new one."
WRONG = "That code is not right. Please check the SMS."
_LIMITED = {
    "resend": "A code was just sent. Please wait before asking for another.",
    "phone": "Too many codes for this phone. Please try again later.",
    "client": "Too many codes from this network. Please try again later.",
}
