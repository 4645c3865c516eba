"""Mobile-originated SMS: reassembly of concatenated parts and the text commands.  Pure.

Commands (keywords configurable; Chinese, pinyin initials and English by default)::

    QX 1234567890 | 取消1234567890 | CANCEL 1234567890   cancel the booking with that T-code
    CX | 查询 | QUERY                                   list my bookings
    SM 44030519900101001X | 实名 … | REG …              bind a resident ID to this phone
    SS 当日住院 | 申诉 … | APPEAL …                       appeal a bar (free text after it)

Full-width characters are folded (NFKC), case and separators ignored, so ``ｑｘ　１２３…``
works.  Anything else is ``help``.  ``notify.mo`` executes commands against booking.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TCODE = re.compile(r"^\d{10}$")
RESIDENT_ID = re.compile(r"^\d{17}[\dX]$")
_LEADING = re.compile(r"^[\s:：,，.。#*+＋\-_/]+")  # between the keyword and the text
ACTIONS = ("cancel", "query", "register", "help", "appeal")
APPEAL_CHARS = 300  # the appeal text kept
_SEPARATORS = re.compile(r"[\s:：,，.。#*+＋\-_/]+")


@dataclass(frozen=True, slots=True)
class Keywords:
    cancel: tuple[str, ...] = ("QX", "取消", "CANCEL", "TD")
    query: tuple[str, ...] = ("CX", "查询", "QUERY")
    register: tuple[str, ...] = ("SM", "实名", "REG", "DJ", "登记")
    help: tuple[str, ...] = ("BZ", "帮助", "HELP", "?")
    appeal: tuple[str, ...] = ("SS", "申诉", "APPEAL")

    @classmethod
    def from_config(cls, raw: Mapping[str, Any] | None) -> Keywords:
        """``{cancel: [..], query: [..], register: [..], help: [..], appeal: [..]}``; absent
        keys: defaults."""
        if not raw:
            return cls()
        unknown = set(raw) - set(ACTIONS)
        if unknown:
            raise ValueError(f"sms.mo_keywords: unknown command(s) {sorted(unknown)}")
        values = {k: tuple(_fold(str(w)) for w in v) for k, v in raw.items()}
        for name, words in values.items():
            if not words or not all(words):
                raise ValueError(f"sms.mo_keywords.{name}: needs at least one non-empty word")
        return cls(**values)

    def table(self) -> list[tuple[str, str]]:
        """(keyword, action), longest keyword first so ``CANCEL`` wins over ``C…``."""
        pairs = [(w, a) for a in ACTIONS
                 for w in getattr(self, a)]
        return sorted(pairs, key=lambda p: -len(p[0]))


@dataclass(frozen=True, slots=True)
class Command:
    action: str  # cancel | query | register | help | appeal
    arg: str = ""  # an appeal's: its free text, as written
    problem: str = ""  # why a command word came with a bad argument (answered with help)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().upper()


def parse(text: str, keywords: Keywords = Keywords()) -> Command:
    folded = _fold(text)
    for word, action in keywords.table():
        if folded.startswith(word):
            if action == "appeal":  # free text: kept as written, after the keyword
                written = text.strip()
                cut = next((i for i in range(len(written) + 1) if _fold(written[:i]) == word),
                           len(word))
                return Command("appeal", _LEADING.sub("", written[cut:]).strip()[:APPEAL_CHARS])
            arg = _SEPARATORS.sub("", folded[len(word):])
            return _check(action, arg)
    return Command("help")


def _check(action: str, arg: str) -> Command:
    if action == "cancel":
        return Command("cancel", arg) if TCODE.match(arg) else Command(
            "help", arg, "cancel needs a 10-digit T-code")
    if action == "register":
        return Command("register", arg) if RESIDENT_ID.match(arg) else Command(
            "help", arg, "register needs an 18-character resident ID")
    if action == "query":
        return Command("query")
    return Command("help")


@dataclass(slots=True)
class _Partial:
    expires: float
    parts: dict[int, str] = field(default_factory=dict)


class Reassembler:
    """Concatenated MO parts back into one text: any order, duplicates ignored, keyed by
    (sender, recipient, reference, total) so two senders' messages with one reference never
    mix; incomplete messages are dropped after ``ttl`` seconds."""

    def __init__(self, ttl: float = 300.0, limit: int = 10_000) -> None:
        self.ttl = ttl
        self.limit = limit
        self._open: dict[tuple[str, str, int, int], _Partial] = {}

    def add(self, source: str, dest: str, concat: tuple[int, int, int], text: str,
            now: float) -> str | None:
        """The whole text once the last missing part arrives, else None."""
        self._expire(now)
        ref, total, seq = concat
        if total <= 1:
            return text
        if not 1 <= seq <= total:
            return None
        key = (source, dest, ref, total)
        partial = self._open.get(key)
        if partial is None:
            if len(self._open) >= self.limit:
                self._open.pop(next(iter(self._open)))
            partial = self._open[key] = _Partial(now + self.ttl)
        partial.parts.setdefault(seq, text)
        if len(partial.parts) < total:
            return None
        del self._open[key]
        return "".join(partial.parts[i] for i in range(1, total + 1))

    def _expire(self, now: float) -> None:
        for key in [k for k, p in self._open.items() if p.expires < now]:
            del self._open[key]

    def __len__(self) -> int:
        return len(self._open)
