"""Chinese resident ID numbers (GB 11643-1999, 18 characters).

Every booking rule is keyed on this number, so we refuse what cannot be real: a bad check
character, an impossible or future birth date, an unknown province. A valid checksum does not
prove a real person (ID generators pass it); it only catches typos and lazy forgeries.
"""

from __future__ import annotations

import datetime as dt
import operator

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # 2^(17-i) mod 11
_CHECK = "10X98765432"  # ISO 7064 MOD 11-2: sum mod 11 -> check character
_ZERO_SUM = 48 * sum(_WEIGHTS)

# First two digits (GB/T 2260 provinces; 71 Taiwan, 81/82 HK/Macau, 91 overseas).
PROVINCES: frozenset[str] = frozenset(
    [str(n) for n in (*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47))]
    + [str(n) for n in (*range(50, 55), *range(61, 66), 71, 81, 82, 91)]
)

# The standard's own worked example (440524188001010014) was born in 1880, so the floor is 1880
# rather than 1900: a floor that rejects the standard's example would only confuse testers.
EARLIEST_BIRTH = dt.date(1880, 1, 1)


def check_char(first17: str) -> str:
    """The 18th character for 17 digits (ISO 7064 MOD 11-2)."""
    if len(first17) != 17:
        raise ValueError("check_char needs exactly 17 digits")
    # bytes arithmetic (ASCII '0' is 48): this runs on every attempt of a flash crowd
    total = sum(map(operator.mul, first17.encode("ascii"), _WEIGHTS)) - _ZERO_SUM
    return _CHECK[total % 11]


def birth_date(s: str) -> dt.date | None:
    """The birth date encoded in positions 7-14, or None when it is not a calendar date."""
    digits = s[6:14]
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def normalize_resident_id(s: str) -> str:
    """Trim, upper-case ``x``, map ``*`` to ``X`` (keypads cannot type X; callers press *)."""
    return s.strip().upper().replace("*", "X")


def is_valid_resident_id(s: str, *, today: dt.date | None = None) -> bool:
    """True for a well-formed 18-character ID: digits, province, real past birth date, checksum.

    ``s`` must already be normalised (see ``normalize_resident_id``); ``today`` defaults to the
    local date and bounds the birth date.
    """
    if not isinstance(s, str) or len(s) != 18 or not s[:17].isdigit():
        return False
    if not s[:17].isascii() or s[:2] not in PROVINCES:
        return False
    born = birth_date(s)
    if born is None or born < EARLIEST_BIRTH or born > (today or dt.date.today()):
        return False
    return check_char(s[:17]) == s[17]

