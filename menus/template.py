"""Text templates: ``{var}``, ``{var.field}``, ``{digits:var}``, ``{last4:var}``.

Deliberately tiny: names are looked up in a mapping (session vars) and nothing else, so a menu
file cannot run code or reach Python attributes. ``{{`` and ``}}`` write literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from menus.errors import MenuError
from menus.types import Say, SayDigits, Slot

FILTERS = ("digits", "last4", "speak")  # speak: free text, said by live speech on voice
_FIELD = re.compile(
    r"^(?:(?P<filter>[a-z0-9]+):)?(?P<path>[A-Za-z_]\w*(?:\.(?:[A-Za-z_]\w*|\d+))*)$"
)


@dataclass(frozen=True, slots=True)
class Field:
    """A ``{...}`` slot: a dotted path into the scope and an optional filter."""

    path: tuple[str, ...]
    filter: str | None = None

    @property
    def root(self) -> str:
        return self.path[0]


Segment = str | Field


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template; ``source`` is kept for error messages and docs."""

    source: str
    segments: tuple[Segment, ...]
    # worked out once: most templates have no {digits:...} and render into one Say
    speaks_digits: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        digits = any(isinstance(s, Field) and s.filter == "digits" for s in self.segments)
        object.__setattr__(self, "speaks_digits", digits)

    def fields(self) -> tuple[Field, ...]:
        return tuple(s for s in self.segments if isinstance(s, Field))


def parse(source: str) -> Template:
    """Parse ``source`` or raise MenuError (the caller adds the file position)."""
    segments: list[Segment] = []
    literal: list[str] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch in "{}" and source[i : i + 2] in ("{{", "}}"):
            literal.append(ch)
            i += 2
            continue
        if ch == "}":
            raise MenuError(f"unmatched '}}' in {source!r}")
        if ch != "{":
            literal.append(ch)
            i += 1
            continue
        end = source.find("}", i)
        if end < 0:
            raise MenuError(f"unclosed '{{' in {source!r}")
        inner = source[i + 1 : end].strip()
        match = _FIELD.match(inner)
        if match is None:
            raise MenuError(f"bad field {{{inner}}} in {source!r}: use {{name}} or {{name.field}}")
        flt = match.group("filter")
        if flt is not None and flt not in FILTERS:
            raise MenuError(f"unknown filter {flt!r} in {source!r} (known: {', '.join(FILTERS)})")
        if literal:
            segments.append("".join(literal))
            literal = []
        segments.append(Field(tuple(match.group("path").split(".")), flt))
        i = end + 1
    if literal:
        segments.append("".join(literal))
    return Template(source, tuple(segments))


def lookup(scope: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """Follow ``path`` through nested mappings (and list indexes); missing gives ``None``."""
    value: Any = scope
    for key in path:
        if type(value) is dict:  # the usual case, without the costly ABC check below
            if key not in value:
                return None
            value = value[key]
        elif isinstance(value, list | tuple) and key.isdigit():
            if int(key) >= len(value):
                return None
            value = value[int(key)]
        elif isinstance(value, Mapping) and key in value:
            value = value[key]
        else:
            return None
    return value


def _text(value: Any, flt: str | None) -> str:
    text = "" if value is None else str(value)
    if flt == "last4":
        return text[-4:]
    return text


def render_str(template: Template, scope: Mapping[str, Any]) -> str:
    """Render as one string (USSD lines, effect arguments); ``digits:`` gives the plain digits."""
    segments = template.segments
    if len(segments) == 1 and type(segments[0]) is str:  # static text: most labels
        return segments[0]
    out: list[str] = []
    for seg in template.segments:
        out.append(seg if isinstance(seg, str) else _text(lookup(scope, seg.path), seg.filter))
    return "".join(out)


def render_value(template: Template, scope: Mapping[str, Any]) -> Any:
    """A template that is exactly ``{name}`` yields the raw value (keeps lists and numbers)."""
    if len(template.segments) == 1 and isinstance(template.segments[0], Field):
        seg = template.segments[0]
        if seg.filter is None:
            value = lookup(scope, seg.path)
            return "" if value is None else value
    return render_str(template, scope)


def render_parts(
    template: Template, scope: Mapping[str, Any], prompt: str | None = None, *,
    slots: bool = True,
) -> tuple[Say | SayDigits, ...]:
    """Render into speech parts: ``{digits:x}`` becomes its own ``SayDigits`` part.

    A part with values keeps them apart from its static text in ``Say.slots`` (voice plays
    such a sentence as pieces; ``ivr.compose``). ``slots=False``: leave ``Say.slots`` empty,
    for a channel that only shows the text (USSD): building them is most of the cost of
    rendering an option line, and a list screen renders one per option."""
    segments = template.segments
    if len(segments) == 1 and type(segments[0]) is str:  # static text: most questions
        return (Say(segments[0], prompt),)
    if not template.speaks_digits and not slots:  # text only: the old one-string rendering
        text = "".join([seg if type(seg) is str else _text(lookup(scope, seg.path), seg.filter)
                        for seg in segments])
        if text:
            return (Say(text, prompt),)
        return () if prompt is None else (Say("", prompt),)
    if not template.speaks_digits:  # one sentence: no part boundaries to trim around
        # lists, not generators: this runs for every option line a call hears
        slots = tuple([
            seg if type(seg) is str else Slot(_text(lookup(scope, seg.path), seg.filter),
                                              seg.filter)
            for seg in segments
        ])
        text = "".join([s if type(s) is str else s.text for s in slots])
        if text:
            return (Say(text, prompt, slots=slots),)
        return () if prompt is None else (Say("", prompt),)
    parts: list[Say | SayDigits] = []
    buf: list[str | Slot] = []
    keep = slots

    def flush(before_digits: bool = False) -> None:
        nonlocal prompt
        if parts and isinstance(parts[-1], SayDigits) and buf and isinstance(buf[0], str):
            buf[0] = buf[0].lstrip()  # spaces around a code are not part of any sentence
        if before_digits and buf and isinstance(buf[-1], str):
            buf[-1] = buf[-1].rstrip()
        slots = tuple(s for s in buf if s != "")
        buf.clear()
        text = "".join(s if isinstance(s, str) else s.text for s in slots)
        if text:
            has_values = keep and any(isinstance(s, Slot) for s in slots)
            parts.append(Say(text, prompt, slots=slots if has_values else ()))
            prompt = None

    for seg in template.segments:
        if isinstance(seg, str):
            buf.append(seg)
        elif seg.filter == "digits":
            flush(before_digits=True)
            digits = _text(lookup(scope, seg.path), None)
            if digits:
                parts.append(SayDigits(digits))
        else:
            buf.append(Slot(_text(lookup(scope, seg.path), seg.filter), seg.filter))
    flush()
    if prompt is not None and not parts:
        parts.append(Say("", prompt))
    return tuple(parts)
