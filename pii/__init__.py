"""The one masking of personal data (phone and resident ID numbers) for logs, screens and exports.

Every package may import it (it imports nothing of ours), so there is one rule everywhere:

- ``mask_tail(value)``: a value known to be a phone or ID number keeps its last 4 characters.
- ``mask_text(text)``: free text; every number that could be a phone or ID number keeps its
  last 4 digits: a run of 10 or more digits, an ID number ending in X, and numbers written in
  groups with spaces or dashes (``138 0013 8000``, ``+86 138-0013-8000``,
  ``110105 19491231 002X``) when the groups after the first have 3 or more digits and the whole
  has 10 or more. Dates and times (``2026-12-04 10:00``: groups of 2) are left alone.
  T-codes (10 digits) are masked too: a T-code in a log line is as good as the ticket.
- ``mask_pii``: the structlog processor: known fields whole, every other string as free text.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

SENSITIVE_FIELDS = frozenset({"msisdn", "phone", "phone_number", "id_number", "caller_id", "to"})

# Candidates: a digit run, optionally ``+`` first, then groups of 3+ digits after one space or
# dash each, optionally a final X (ID numbers). Not the decimals of a float (1.4000000000247).
_NUMBER = re.compile(r"(?<![\d.])\+?\d+(?:[ -]\d{3,})*(?:[Xx](?![A-Za-z]))?(?!\d)")
# Cheap test first: most lines have no 10-digit run and no grouped number at all.
_MAYBE = re.compile(r"\d(?:\d{9}|[ -]\d{3})")
_DIGIT = re.compile(r"[\dXx]")


def mask_tail(value: str, keep: int = 4) -> str:
    """``13800138000`` → ``*******8000``; short values are masked whole."""
    if len(value) <= keep:
        return "*" * len(value)
    return "*" * (len(value) - keep) + value[-keep:]


def _mask_match(match: re.Match[str], shortest: int) -> str:
    found = match.group(0)
    digits = sum(c.isdigit() for c in found)
    if digits < shortest:
        return found
    if found[-1] in "Xx" and digits != 17:  # a word after a number, not an ID's check character
        return _mask_match_text(found[:-1], 4) + found[-1]
    return _mask_match_text(found, 4)


def _mask_match_text(found: str, keep: int) -> str:
    """Every digit (and X) but the last ``keep`` becomes ``*``; ``+``, spaces, dashes stay."""
    positions = [m.start() for m in _DIGIT.finditer(found)]
    hide = set(positions[:-keep] if keep else positions)
    return "".join("*" if i in hide else c for i, c in enumerate(found))


def mask_text(text: str, shortest: int = 10) -> str:
    """Mask every number of ``shortest`` or more digits inside free text (see the module doc).
    ``shortest`` below 10 is for texts where a partial ID number must not show either (a
    caller's keypad input, ``ivr``)."""
    if shortest >= 10 and _MAYBE.search(text) is None:  # most log lines: nothing to mask
        return text
    return _NUMBER.sub(lambda m: _mask_match(m, shortest), text)


def mask_pii(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: known fields keep their last 4 characters, other strings are
    masked as free text."""
    for key, value in list(event.items()):
        if not isinstance(value, str):
            continue
        event[key] = mask_tail(value) if key in SENSITIVE_FIELDS else mask_text(value)
    return event


__all__ = ["SENSITIVE_FIELDS", "mask_pii", "mask_tail", "mask_text"]
