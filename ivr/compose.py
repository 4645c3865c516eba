"""Sentences with call data, played as a sequence of built pieces.

Menu authors write whole sentences ("请确认：{dept.name} {day.name}…"); the engine keeps the
values apart from the static text (``Say.slots``). ``compose`` turns such a sentence into the
pieces a caller hears, each a sound file that ``hotline prompts build`` makes (or a recording
replaces):

  * a static part between values: one piece, named by its text (``hotline/<lang>/<sha1>``);
  * a value without digits (a department, hospital or district name, a session label, an
    option's label): one piece named by its text, as the build makes it from the catalog;
  * a value with digits: the longest known screen forms first (``Lexicon``: date words
    "12月", "6日", "星期日", "Dec", session words, "尾号", catalog names), digit runs of up
    to two digits as a number ("一", "二十" + "三"), longer ones (ID tails, codes) digit by
    digit, ``#``/``*`` as their names, and anything else as one piece named by its text;
  * a value with the ``last4`` filter: digit by digit;
  * a value with the ``speak`` filter (free text): a URL from live speech (``ivr.live``) when it
    is on, else one piece named by its text (which only a recording can provide).

A static sentence stays one piece (its ``prompt`` key or its text's name). The texts of the
pieces, joined, give the sentence again (less spaces and punctuation): the tests hold every
path of the shipped menus to that.

A list is heard the way a person reads one (``heard``, before ``compose``): in a list of dates
each option says its month only when it changes from the previous option's ("12月6日 星期日",
"7日 星期一"…, "1月2日 星期六"); the first option always says it. The screen keeps every month.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ivr.words import MONTH, NUMBER_MAX, PAUSE, SCREEN, number_names
from menus.types import Say, SayDigits, Slot

Lexicon = Mapping[str, str]  # screen text -> sound file name
Live = Callable[[str, str], str]  # (text, lang) -> a URL Asterisk can play (ivr.live)
VALUES_REMEMBERED = 4096  # values split remembered per lexicon (``Known.values``)
_ENDS = "。！？.!?；;"  # punctuation that ends a line: a pause when nothing else carries it


@dataclass(frozen=True, slots=True)
class Piece:
    """One sound file of a sentence: ``name`` under ``sounds/<lang>/`` and the screen ``text``
    it stands for."""

    name: str
    text: str


@functools.lru_cache(maxsize=8192)
def text_name(text: str, lang: str) -> str:
    """The sound file of a text without a ``prompt`` key: ``hotline/<lang>/<sha1(text)[:12]>``."""
    return f"hotline/{lang}/{hashlib.sha1(text.encode('utf-8')).hexdigest()[:12]}"


def prompt_name(part: Say, lang: str) -> str:
    """The sound file for a static Say: its ``prompt``, else its text's name."""
    return part.prompt or text_name(part.text, lang)


def speakable(text: str) -> bool:
    """Does ``text`` say anything (letters, CJK, digits, # or *), or is it spaces/punctuation?"""
    return any(ch.isalnum() or ch in "#*" for ch in text)


class Known(dict[str, str]):
    """A lexicon that knows its longest entry (a value is scanned that far at each position;
    worked out once, as a catalog of many hospitals has many names), and remembers what the
    outputs it has split sound like (``memo``, kept by ``ivr.render.clips``): every call hears
    the same menus and lists, so each is split once per lexicon, not once per call; and the
    pieces of each value (``values``), which recur in outputs that are a call's own. A Known is
    not changed after it is made (a reload makes a new one, with empty memories)."""

    def __init__(self, entries: Mapping[str, str]) -> None:
        super().__init__(entries)
        self.longest = max((len(k) for k in self), default=0)
        self.memo: OrderedDict[Hashable, Any] = OrderedDict()
        self.values: dict[tuple[str, str], tuple[Piece, ...]] = {}  # (lang, value): pieces


def lexicon(lang: str, names: Iterable[str] = ()) -> Known:
    """The screen forms known in ``lang``: its words plus ``names`` (catalog names, option
    labels), each of which is built as a piece of its own text."""
    out = {name: text_name(name, lang) for name in names if speakable(name)}
    out.update(SCREEN.get(lang) or SCREEN["zh"])
    return Known(out)


@functools.lru_cache(maxsize=16)
def word_lexicon(lang: str) -> Known:
    """The words of ``lang`` alone: the lexicon of a server given none."""
    return lexicon(lang)


def digit_pieces(digits: str) -> list[Piece]:
    """A code read key by key: ``digits/N``, ``letters/x`` (an ID's X), ``letters/star``…"""
    named = {"*": "letters/star", "#": "letters/pound"}
    out = []
    for ch in digits:
        if ch.isdigit():
            out.append(Piece(f"digits/{ch}", ch))
        elif ch in named:
            out.append(Piece(named[ch], ch))
        elif ch.isalpha():
            out.append(Piece(f"letters/{ch.lower()}", ch))
    return out


def _number(run: str) -> list[Piece]:
    if len(run) <= 2 and run.isdigit() and int(run) <= NUMBER_MAX:
        names = number_names(int(run))
        # the screen text goes with the first file ("23" = 二十 + 三)
        return [Piece(name, run if i == 0 else "") for i, name in enumerate(names)]
    return digit_pieces(run)


def _boundary(text: str, i: int) -> bool:
    """Is ``i`` between words (for Latin screen forms: "Sun" must not match in "Sunday")?"""
    if i <= 0 or i >= len(text):
        return True
    a, b = text[i - 1], text[i]
    return not (a.isascii() and a.isalnum() and b.isascii() and b.isalnum())


def value_pieces(value: str, lang: str, lex: Lexicon) -> list[Piece]:
    """The pieces of one value (see the module doc)."""
    text = value.strip()
    if not text:
        return []
    if text in lex:
        return [Piece(lex[text], text)]
    if not any((ch.isascii() and ch.isdigit()) or ch in "#*" for ch in text):
        return [Piece(text_name(text, lang), text)]  # a name or label: one piece, as built
    longest = lex.longest if isinstance(lex, Known) else max((len(k) for k in lex), default=0)
    out: list[Piece] = []
    rest: list[str] = []  # text no rule knows, said as one piece of its own

    def flush() -> None:
        said = "".join(rest).strip()
        rest.clear()
        if speakable(said):
            out.append(Piece(text_name(said, lang), said))

    i = 0
    while i < len(text):
        run = 0
        while i + run < len(text) and text[i + run].isdigit() and text[i + run].isascii():
            run += 1
        found = 0
        if _boundary(text, i):
            for size in range(min(longest, len(text) - i), max(run, 1) - 1, -1):
                if text[i : i + size] in lex and _boundary(text, i + size):
                    found = size
                    break
        if found:
            flush()
            out.append(Piece(lex[text[i : i + found]], text[i : i + found]))
            i += found
        elif run:
            flush()
            if run > 2 and text[i + run : i + run + 1] in ("X", "x"):
                run += 1  # an ID's check character ends its tail: "尾号002X"
            out.extend(_number(text[i : i + run]))
            i += run
        elif text[i] in "#*":
            flush()
            out.extend(digit_pieces(text[i]))
            i += 1
        else:
            rest.append(text[i])
            i += 1
    flush()
    return out


def compose(
    part: Say | SayDigits, lang: str, lex: Lexicon | None = None, live: Live | None = None
) -> list[Piece]:
    """The pieces a caller hears for one part of an output, in order."""
    if isinstance(part, SayDigits):
        return digit_pieces(part.digits)
    if not part.slots:
        return [Piece(prompt_name(part, lang), part.text)]
    known = lex if lex is not None else word_lexicon(lang)
    out: list[Piece] = []
    for slot in part.slots:
        if isinstance(slot, str):
            said = slot.strip()
            if speakable(said):
                out.append(Piece(text_name(said, lang), said))
            elif said and said[-1] in _ENDS and out:
                out.append(Piece(PAUSE, ""))  # "内科请按1。": the line ends, the caller hears it
        else:
            out.extend(_slot(slot, lang, known, live))
    return out


def _slot(slot: Slot, lang: str, lex: Lexicon, live: Live | None) -> list[Piece]:
    if slot.filter == "speak":
        said = slot.text.strip()
        if not speakable(said):
            return []
        return [Piece(live(said, lang) if live else text_name(said, lang), said)]
    if slot.filter == "last4" or slot.filter == "digits":
        return digit_pieces(slot.text.strip())
    if not isinstance(lex, Known):
        return value_pieces(slot.text, lang, lex)
    # a department, a date, a session recur in outputs that are each a call's own (the
    # confirmation with the caller's ID tail): each value is scanned once per lexicon
    key = (lang, slot.text)
    found = lex.values.get(key)
    if found is None:
        if len(lex.values) >= VALUES_REMEMBERED:
            lex.values.clear()
        found = lex.values[key] = tuple(value_pieces(slot.text, lang, lex))
    return list(found)


@functools.lru_cache(maxsize=16)
def _months(lang: str) -> tuple[re.Pattern[str], Mapping[str, str]]:
    """A month's screen forms in ``lang`` ("12月"; "Dec", "December"), longest first, as whole
    words, and the word file each stands for (so "Dec" and "December" are the same month)."""
    forms = {t: n for t, n in (SCREEN.get(lang) or SCREEN["zh"]).items() if n.startswith(MONTH)}
    alternatives = "|".join(re.escape(t) for t in sorted(forms, key=len, reverse=True))
    return re.compile(f"(?<![0-9A-Za-z])(?:{alternatives})(?![A-Za-z])"), forms


@dataclass(frozen=True, slots=True)
class _DateMonth:
    slot: int  # index in ``Say.slots``
    start: int
    end: int
    month: str  # the month's word file


def _date_month(part: Say, lang: str) -> _DateMonth | None:
    """Where the first date of a sentence's values writes its month: a month word with a day's
    number next to it ("12月6日", "6 Dec", "Dec 6")."""
    pattern, forms = _months(lang)
    for i, slot in enumerate(part.slots):
        if isinstance(slot, str) or slot.filter is not None:
            continue  # codes, ID tails and free text hold no date to shorten
        for found in pattern.finditer(slot.text):
            before = slot.text[: found.start()].rstrip(" ,")
            after = slot.text[found.end() :].lstrip(" ,")
            if before[-1:].isdigit() or after[:1].isdigit():
                return _DateMonth(i, found.start(), found.end(), forms[found.group()])
    return None


def _without_month(part: Say, at: _DateMonth) -> Say:
    slot = part.slots[at.slot]
    assert isinstance(slot, Slot)
    left, right = slot.text[: at.start], slot.text[at.end :]
    if not right.strip():
        left = left.rstrip()  # "Sun 6 Dec" -> "Sun 6"
    elif not left.strip() or (left.endswith(" ") and right.startswith(" ")):
        right = right.lstrip()  # "12月6日 星期日" -> "6日 星期日"
    slots = list(part.slots)
    slots[at.slot] = Slot(left + right, slot.filter)
    text = "".join(s if isinstance(s, str) else s.text for s in slots)
    return dataclasses.replace(part, text=text, slots=tuple(slots))


def _shape(part: Say | SayDigits) -> tuple[str | None, ...] | None:
    """A sentence's static parts and where its values go: the same for every line of a list
    (one item template), None for a code or a static sentence."""
    if isinstance(part, SayDigits) or not part.slots:
        return None
    return tuple(s if isinstance(s, str) else None for s in part.slots)


def heard(parts: Sequence[Say | SayDigits], lang: str) -> tuple[Say | SayDigits, ...]:
    """The parts of an output as a caller hears them: in a list of dates, a date's month is
    left out when it is the previous option's.

    A list is a run of consecutive sentences of one shape (``_shape``: the option lines an item
    template renders); its first date, and every date whose month differs from the one before
    it, says the month; a line without a date starts over. Only the ear gets this: a screen
    shows every line whole, as it is read rather than heard."""
    out: list[Say | SayDigits] = []
    shape: tuple[str | None, ...] | None = None
    month: str | None = None
    for part in parts:
        this = _shape(part)
        if this is None or this != shape:
            month = None  # a new list (or none): its first date says its month
        shape = this
        if this is None:
            out.append(part)
            continue
        assert isinstance(part, Say)
        at = _date_month(part, lang)
        out.append(_without_month(part, at) if at is not None and at.month == month else part)
        month = at.month if at is not None else None
    return tuple(out)


def static_parts(part: Say) -> list[str]:
    """The static texts of a sentence with values that become pieces (what the build makes)."""
    return [s.strip() for s in part.slots if isinstance(s, str) and speakable(s.strip())]


def normalised(text: str) -> str:
    """What a sentence says, for comparing pieces with the screen: no spaces or punctuation."""
    return "".join(ch for ch in text.casefold() if ch.isalnum() or ch in "#*")
