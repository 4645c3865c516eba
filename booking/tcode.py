"""T-codes: the 10-digit booking code sent by SMS and typed at the kiosk.

Nine digits come from a CSPRNG (a guessable code would let anyone check in someone else's
booking); the tenth is a Damm check digit, which catches every single-digit typo and every swap of
two adjacent digits, so a mistyped code is refused before Redis is asked.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable

TCODE_LENGTH = 10
_RANDOM_DIGITS = TCODE_LENGTH - 1

# Damm's totally anti-symmetric quasigroup of order 10 (Damm 2004).
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

Rng = Callable[[int], int]  # like secrets.randbelow: rng(n) -> int in [0, n)


class BufferedRandbelow:
    """``secrets.randbelow`` from an OS-random buffer refilled 4 KiB at a time.

    Same source (``os.urandom``), one syscall per ~500 codes instead of one per code: in a flash
    crowd the syscall was a visible share of a booking attempt. Uniform by rejection sampling.
    """

    def __init__(self, chunk: int = 4096) -> None:
        self._chunk = chunk
        self._buf = b""
        self._pos = 0

    def __call__(self, n: int) -> int:
        if n <= 0:
            raise ValueError("n must be positive")
        bound = (1 << 64) - (1 << 64) % n  # values >= bound would bias the result
        while True:
            if self._pos + 8 > len(self._buf):
                self._buf, self._pos = os.urandom(self._chunk), 0
            value = int.from_bytes(self._buf[self._pos : self._pos + 8], "big")
            self._pos += 8
            if value < bound:
                return value % n


def damm_digit(digits: str) -> str:
    """The Damm check digit for a string of ASCII digits."""
    interim = 0
    for c in digits:
        interim = _DAMM[interim][ord(c) - 48]
    return str(interim)


def new_tcode(rng: Rng | None = None) -> str:
    """A fresh code: 9 random digits (leading zeros kept) + Damm check digit."""
    draw = rng or secrets.randbelow
    body = f"{draw(10**_RANDOM_DIGITS):0{_RANDOM_DIGITS}d}"
    if len(body) != _RANDOM_DIGITS or not body.isdigit():
        raise ValueError("rng returned a number outside [0, 10**9)")
    return body + damm_digit(body)


def is_well_formed(code: str) -> bool:
    """True when ``code`` is 10 ASCII digits whose Damm check passes."""
    return (
        isinstance(code, str)
        and len(code) == TCODE_LENGTH
        and code.isascii()
        and code.isdigit()
        and damm_digit(code) == "0"
    )
