"""What a hop's request says about its input, apart from the hop that acts on it.

Pure string rules shared by ``ussd.gateway`` and its wire adapters: the one new input in an
AT-style cumulative ``text``, the kind of an input for telemetry (never its value), whether a
request follows this node's cached record, and the masked phone number for logs. Kept here so
they can be read and tested without the hop's Redis, menu and retry machinery.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from ussd.paging import BACK_KEY, NEXT_KEY

if TYPE_CHECKING:
    from ussd.sessions import UssdRecord


class InputKind(StrEnum):
    """What kind of input a hop carried, for telemetry (never its value: it may be an ID)."""

    START = "start"  # a dial: no input
    DIGITS = "digits"
    STAR = "star"  # digits with * or # (an ID's X keyed as *)
    TEXT = "text"  # anything else (gateways that let a caller type)
    MORE = "more"  # 98 on a paged screen
    BACK = "back"  # 00 on a paged screen
    EMPTY = "empty"  # an empty input after the dial
    RETRY = "retry"  # the gateway repeated the last hop
    UNKNOWN = "?"  # the hop did not get as far as reading its input (busy, error)
    END = "end"  # the gateway's end-of-dialogue notice


def new_input(previous: str, text: str) -> str | None:
    """The input added since ``previous``: the suffix after ``previous + '*'``.

    Because we keep the whole previous text, an input that itself contains ``*`` (an ID's X keyed
    as ``*``) comes out whole. None when ``text`` does not extend ``previous`` (a stale request).
    """
    if previous == "":
        return text
    if text.startswith(previous + "*"):
        return text[len(previous) + 1 :]
    return None


def input_kind(value: str | None, paged: bool = False) -> InputKind:
    """The telemetry kind of an input (start, digits, star, ...): input values may be IDs."""
    if value is None:
        return InputKind.START
    if paged and value == NEXT_KEY:
        return InputKind.MORE
    if paged and value == BACK_KEY:
        return InputKind.BACK
    if value == "":
        return InputKind.EMPTY
    if value.isdigit():
        return InputKind.DIGITS
    return InputKind.STAR if set(value) <= _KEYPAD else InputKind.TEXT


_KEYPAD = frozenset("0123456789*#")


def follows(
    cached: UssdRecord, session_id: str, raw: str | None, cumulative: bool, seq: int | None
) -> bool:
    """True when the request itself shows that ``cached`` is the latest state: it repeats the
    last hop or adds exactly one input to it. Only then is the node-local copy used; otherwise
    another node may have served a hop since, and stepping a stale copy could run an effect
    (a booking) on the wrong state before the compare-and-set save refuses it."""
    if cached.session_id != session_id or raw is None or raw == "":
        return False  # a dial (or a start over) always reads Redis
    if cumulative:
        if raw == cached.text:
            return True
        added = new_input(cached.text, raw)
        return added is not None and "*" not in added  # "x*y": hops we did not see
    if seq is None:
        return False  # no way to tell a hop we missed: always read Redis
    return cached.text in (f"#{seq}", f"#{seq - 1}")


ENTRY_MAX = 16  # longer than any hospital code or id a keypad dial carries


def dialed_entry(dialed: str) -> str:
    """What a dial string chose after the base code: ``*12580*12#`` → ``12`` (a hospital's
    code), ``*12580#`` → ``""``. Any base code works, so the line's own code stays the
    gateway's business; a part that is no keypad code (too long, other characters) is ignored.
    """
    parts = dialed.strip().removesuffix("#").lstrip("*").split("*")
    if len(parts) < 2:
        return ""
    chosen = parts[1].strip()
    if not chosen or len(chosen) > ENTRY_MAX or not (chosen.isascii() and chosen.isalnum()):
        return ""
    return chosen
