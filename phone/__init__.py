"""The one normalising of phone numbers: what a gateway or a caller ID sends → E.164 digits.

A package of its own (not ``pii``, which masks numbers for logs): it imports nothing of ours, so
every channel may use it and a number means the same everywhere (the USSD session key, the IVR
caller, the SMS recipient). ``normalise_msisdn`` refuses what is not a valid number with
``NotAPhoneNumber``; ``caller_msisdn`` is the caller-ID reading, where a withheld or unreadable
number is simply unknown (``''``).

Chinese mobiles (``+86`` and 11 digits, or the 11 digits alone) take a fast path checked
against phonenumbers' own pattern for CN mobiles: the answer its parser would give, without the
parser (costly, on the first hop of every dialogue). Anything else takes the parser. ASCII digits
only: Python's ``\\d`` also matches other scripts' digits ("١٣٨…"), which the parser converts and
the shortcut would pass through unconverted.
"""

from __future__ import annotations

import functools
import re

import phonenumbers

__all__ = ["NotAPhoneNumber", "caller_msisdn", "normalise_msisdn", "parsed_msisdn"]

_CN_MOBILE = re.compile(phonenumbers.PhoneMetadata.metadata_for_region("CN").mobile
                        .national_number_pattern, re.ASCII)
_CN_MOBILE_FORMS = re.compile(r"(?:\+86)?(1\d{10})", re.ASCII)


class NotAPhoneNumber(ValueError):
    """The text is not a valid phone number; the message names no digits of it."""


@functools.lru_cache(maxsize=65536)
def normalise_msisdn(raw: str, region: str = "CN") -> str:
    """E.164 digits without '+' (``+86 138-0013-8000`` and ``13800138000`` both give 86138...).

    Cached: callers come back, and the parser costs more than a short dialogue's menu work.
    """
    if region == "CN":
        plain_mobile = _CN_MOBILE_FORMS.fullmatch(raw)
        if plain_mobile is not None and _CN_MOBILE.fullmatch(plain_mobile.group(1)):
            return "86" + plain_mobile.group(1)
    return parsed_msisdn(raw, region)


def parsed_msisdn(raw: str, region: str = "CN") -> str:
    """``normalise_msisdn`` through phonenumbers' parser, for any number and region."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise NotAPhoneNumber("is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise NotAPhoneNumber("is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def caller_msisdn(callerid: str | None, region: str = "CN") -> str:
    """A caller ID → ``normalise_msisdn``, or ``''`` when withheld or not a valid number."""
    if not callerid:
        return ""
    try:
        return normalise_msisdn(callerid.strip(), region)
    except NotAPhoneNumber:
        return ""
