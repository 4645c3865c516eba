"""The voice language each phone chose (``remember_language``), offered again when it calls.

One Redis string per phone, ``hl:voice_lang:<msisdn>``, kept a year from the last choice. Only
the voice line reads it: USSD shows the menu's written languages and keeps its own default.
A failed read costs nothing but the preference (the call starts in the menu's default).
"""

from __future__ import annotations

from typing import Any

import structlog

PREFIX = "hl:voice_lang:"
KEEP_S = 365 * 86400
log = structlog.get_logger("dialogue.languages")


class LanguageMemory:
    """``preferred(channel, msisdn)`` for ``Dialogue``; ``remember(msisdn, lang)`` for the
    effect."""

    def __init__(self, redis: Any, keep_s: int = KEEP_S) -> None:
        self._redis = redis
        self.keep_s = keep_s

    async def preferred(self, channel: str, msisdn: str) -> str | None:
        if channel != "ivr" or not msisdn:
            return None
        try:
            value = await self._redis.get(PREFIX + msisdn)
        except Exception as err:  # Redis away: the call goes on in the default language
            log.warning("languages.read_failed", why=str(err))
            return None
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        return str(value) if value else None

    async def remember(self, msisdn: str, lang: str) -> None:
        if msisdn:
            await self._redis.set(PREFIX + msisdn, lang, expire=self.keep_s)
