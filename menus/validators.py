"""Input validators menus can name without importing booking (``resident_id`` is injected).

``msisdn`` and ``date`` are generic enough to live here; hotline passes the real
``resident_id`` check from booking, and its own entries win over these defaults.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping


def is_mainland_mobile(value: str) -> bool:
    """An 11-digit mainland China mobile number (1[3-9]x xxxx xxxx)."""
    return len(value) == 11 and value.isdigit() and value[0] == "1" and value[1] in "3456789"


def is_yyyymmdd(value: str) -> bool:
    """A real calendar date written YYYYMMDD."""
    if len(value) != 8 or not value.isdigit():
        return False
    try:
        datetime.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return False
    return True


DEFAULT_VALIDATORS: Mapping[str, Callable[[str], bool]] = {
    "msisdn": is_mainland_mobile,
    "date": is_yyyymmdd,
}
