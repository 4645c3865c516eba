"""Split a long screen into USSD pages that each fit one USSD string (pure: no Twisted, no I/O).

A screen is measured in the encoding the gateway will send it in: GSM 03.38 septets when every
character is in the GSM alphabet (an escape character such as ``€`` or ``[`` counts 2), UCS2
code units otherwise (a character outside the BMP counts 2). Limits are per gateway
(``ScreenLimits``). Pages break between lines (one line = one output part: a question, a choice),
never inside a choice; only a single line longer than a whole page is cut, at a character.
``98`` shows the next page and ``00`` the previous one; the channel handles both keys, so they
never reach the menu (menus must not use them as choice keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from menus.definition import PAGING_KEYS
from sms import gsm0338

NEXT_KEY, BACK_KEY = PAGING_KEYS  # "98", "00": menus refuse them as choice keys (menus check)
_NAV: dict[str, tuple[str, str]] = {
    "zh": ("98.更多", "00.返回"),
    "en": ("98. More", "00. Back"),
}
MIN_LIMIT = 24  # room for the navigation lines and at least a few characters of content


@dataclass(frozen=True, slots=True)
class ScreenLimits:
    """Most characters one screen may hold, per encoding (defaults: 160 octets = 182 GSM-7
    septets; 70 UCS2 units, the safe budget for Chinese although 80 fit in 160 octets)."""

    gsm: int = 182
    ucs2: int = 70

    def __post_init__(self) -> None:
        for name in ("gsm", "ucs2"):
            value = getattr(self, name)
            if not isinstance(value, int) or not MIN_LIMIT <= value <= 1000:
                raise ValueError(f"screen limit {name} must be an integer {MIN_LIMIT}-1000")

    def limit(self, coding: str) -> int:
        return self.gsm if coding == "gsm" else self.ucs2


def coding_of(text: str) -> str:
    """``gsm`` when ``text`` can go in GSM 03.38, else ``ucs2``."""
    return "gsm" if gsm0338.can_encode(text) else "ucs2"


def units(text: str, coding: str) -> int:
    """Length of ``text`` in ``coding``: septets (escapes 2) or UTF-16 code units."""
    if coding == "gsm":
        return sum(gsm0338.septets(ch) or 2 for ch in text)
    return len(text.encode("utf-16-be", "surrogatepass")) // 2


def measure(text: str) -> tuple[str, int]:
    """The encoding ``text`` would be sent in and its length there."""
    coding = coding_of(text)
    return coding, units(text, coding)


def fits(text: str, limits: ScreenLimits) -> bool:
    coding, size = measure(text)
    return size <= limits.limit(coding)


def nav_labels(lang: str) -> tuple[str, str]:
    """The "more" and "back" lines in ``lang`` (Chinese when the language is unknown)."""
    return _NAV.get(lang, _NAV["zh"])


def paginate(
    lines: Sequence[str], limits: ScreenLimits, lang: str = "zh", *, ends: bool = False
) -> tuple[str, ...]:
    """Pages for a screen of ``lines``; one page (the joined lines) when it fits.

    Every page but the last offers ``98`` (more), every page but the first offers ``00``
    (back), except the last page of an ending screen, which is final (no input follows it).
    """
    whole = "\n".join(lines)
    if fits(whole, limits):
        return (whole,)
    more, back = nav_labels(lang)
    coding = coding_of(whole + more + back)
    budget = limits.limit(coding) - units(f"\n{more}\n{back}", coding)
    while True:
        pages = _plan(lines, coding, budget, more, back, ends)
        # A page may go out in another encoding than planned (a last page without the Chinese
        # navigation, all GSM but with escapes): shrink until every page fits as sent.
        if budget <= 1 or all(fits(page, limits) for page in pages):
            return pages
        budget -= 1


def _plan(
    lines: Sequence[str], coding: str, budget: int, more: str, back: str, ends: bool
) -> tuple[str, ...]:
    pieces: list[str] = []
    for line in lines:
        for sub in line.split("\n"):
            pieces.extend([sub] if units(sub, coding) <= budget else _cut(sub, coding, budget))
    pages: list[list[str]] = [[]]
    used = 0
    for piece in pieces:
        size = units(piece, coding)
        if pages[-1] and used + 1 + size > budget:
            pages.append([])
            used = 0
        used += size + (1 if pages[-1] else 0)
        pages[-1].append(piece)
    out: list[str] = []
    for i, page in enumerate(pages):
        last = i == len(pages) - 1
        nav = ([] if last else [more]) + ([back] if i > 0 and not (last and ends) else [])
        out.append("\n".join(page + nav))
    return tuple(out)


def _cut(line: str, coding: str, budget: int) -> list[str]:
    """A line longer than a page, cut at character boundaries (an escape pair stays whole)."""
    chunks: list[str] = []
    current = ""
    used = 0
    for ch in line:
        size = units(ch, coding)
        if used + size > budget and current:
            chunks.append(current)
            current, used = "", 0
        current += ch
        used += size
    chunks.append(current)
    return chunks
