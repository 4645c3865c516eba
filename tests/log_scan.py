"""Every log line the code under test writes, as ``hotline serve`` would write it (the text
and the JSON shape), scanned for a full phone or ID number (tests/conftest.py runs it around
every test). The detector is deliberately not ``pii.mask_text``: it joins digits separated by a
space or a dash whatever the grouping, then looks for a mobile number or an 18-character ID."""

from __future__ import annotations

import io
import re
from typing import Any

from logs.output import MaskingObserver

_JOINED = re.compile(r"(?<=\d)[ \-](?=\d)")
_PHONE = re.compile(r"(?<!\d)(?:0{0,2}86)?1[3-9]\d{9}(?!\d)")  # a mobile, with or without 86
_ID = re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])")


def leaked_numbers(line: str) -> list[str]:
    """The full phone and ID numbers in ``line`` (empty: the line is safe)."""
    joined = _JOINED.sub("", line)
    return _PHONE.findall(joined) + _ID.findall(joined)


class LogScan:
    """A Twisted observer (and the structlog sink's observer) keeping the rendered lines."""

    def __init__(self) -> None:
        self._text, self._json = io.StringIO(), io.StringIO()
        self.text = MaskingObserver(self._text)  # structlog writes here too
        self.json = MaskingObserver(self._json, fmt="json")

    def __call__(self, event: dict[str, Any]) -> None:
        self.text(event)
        self.json(event)

    def lines(self) -> list[str]:
        return self._text.getvalue().splitlines() + self._json.getvalue().splitlines()

    def leaks(self) -> list[str]:
        return [line for line in self.lines() if leaked_numbers(line)]
