"""Masking of personal data before it reaches a log line or a kiosk screen.

Phone numbers and resident ID numbers keep only their last 4 characters. ``mask_pii`` is a
structlog processor: it masks known fields and any 11+ digit run in free text.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

# 10+ digit runs (phones, IDs, T-codes), but not the decimals of a float such as 1.4000000000247.
_LONG_NUMBER = re.compile(r"(?<![\d.])(?:\d{17}[Xx]|\d{10,})")
SENSITIVE_FIELDS = frozenset({"msisdn", "phone", "phone_number", "id_number", "caller_id", "to"})


def mask_tail(value: str, keep: int = 4) -> str:
    """``13800138000`` → ``*******8000``; short values are masked whole."""
    if len(value) <= keep:
        return "*" * len(value)
    return "*" * (len(value) - keep) + value[-keep:]


_TEN_DIGITS = re.compile(r"\d{10}")  # every match of _LONG_NUMBER has one; cheaper to rule out


def mask_text(text: str) -> str:
    """Mask every long digit run (phone or ID numbers) inside free text."""
    if _TEN_DIGITS.search(text) is None:  # most log lines: nothing to mask
        return text
    return _LONG_NUMBER.sub(lambda m: mask_tail(m.group(0)), text)


def mask_pii(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if not isinstance(value, str):
            continue
        event[key] = mask_tail(value) if key in SENSITIVE_FIELDS else mask_text(value)
    return event
