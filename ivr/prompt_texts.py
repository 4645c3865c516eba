"""What the voice channel can say before any call: every static menu text and word, per language.

``menu_prompts`` lists what a menu can say with the file name the call will ask Asterisk for
(``ivr.render.prompt_name``), ``word_prompts`` the digits, letters and date words the call
reads out. Texts that depend on the caller (``{dept.name}``…) cannot be pre-rendered and are
reported. Kept apart from the build (``ivr.prompts``: espeak-ng, sox, the manifest) because it
only reads menu definitions: ``hotline menus check`` and the tests use it without audio tools.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from ivr.render import prompt_name
from menus.template import Template, render_parts
from menus.types import Say

# Words to read digits, codes and dates; Chinese reads 1 as 幺 in codes and phone numbers.
WORDS: Mapping[str, Mapping[str, str]] = {
    "zh": {
        **{f"digits/{d}": w for d, w in zip("0123456789", "零幺二三四五六七八九", strict=True)},
        "letters/x": "叉",
        "letters/star": "星号",
        "letters/pound": "井号",
        **{f"hotline/words/month_{m}": f"{m}月" for m in range(1, 13)},
        **{f"hotline/words/day_{d}": f"{d}日" for d in range(1, 32)},
        **{f"hotline/words/weekday_{i}": f"星期{w}" for i, w in enumerate("一二三四五六日")},
        "hotline/words/am": "上午",
        "hotline/words/pm": "下午",
    },
    "en": {
        **{
            f"digits/{d}": w
            for d, w in zip(
                "0123456789",
                ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
                strict=True,
            )
        },
        "letters/x": "X",
        "letters/star": "star",
        "letters/pound": "pound",
        **{
            f"hotline/words/month_{m}": n
            for m, n in enumerate(
                [
                    "January",
                    "February",
                    "March",
                    "April",
                    "May",
                    "June",
                    "July",
                    "August",
                    "September",
                    "October",
                    "November",
                    "December",
                ],
                start=1,
            )
        },
        **{f"hotline/words/day_{d}": str(d) for d in range(1, 32)},
        **{
            f"hotline/words/weekday_{i}": w
            for i, w in enumerate(
                ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
            )
        },
        "hotline/words/am": "morning",
        "hotline/words/pm": "afternoon",
    },
}


@dataclass(frozen=True, slots=True, order=True)
class PromptText:
    lang: str
    name: str  # the Asterisk file name, no extension, relative to sounds/<lang>/
    text: str


def _texts(value: Any) -> Iterator[Mapping[str, Template]]:
    """Every per-language text inside a node (text, hints, short forms, choices…)."""
    if (
        isinstance(value, Mapping)
        and value
        and all(isinstance(v, Template) for v in value.values())
    ):
        yield value
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _texts(item)
    elif is_dataclass(value) and not isinstance(value, type):
        for f in fields(value):
            if f.name not in ("args", "set", "choices"):  # choices: spoken as option lines
                yield from _texts(getattr(value, f.name))


def _static(
    tpl: Template,
    scope: Mapping[str, Any],
    prompt: str | None,
    lang: str,
    out: set[PromptText],
    dynamic: set[str],
) -> None:
    if any(f.root not in scope and f.filter != "digits" for f in tpl.fields()):
        dynamic.add(f"{lang}: {tpl.source}")
        return
    for part in render_parts(tpl, scope, prompt):
        if isinstance(part, Say) and (part.text or part.prompt):
            out.add(PromptText(lang, prompt_name(part, lang), part.text))


def menu_prompts(
    definition: Any, *, item_lists: Mapping[str, Sequence[Sequence[str]]] | None = None
) -> tuple[list[PromptText], list[str]]:
    """(prompts to build, texts that depend on the call and cannot be built) for a menu.

    ``item_lists`` (per language, lists in the order the effects return them, e.g. the
    catalog's departments) pre-renders list lines such as "内科请按1。": the i-th name at
    positions 1..i (entries before it may be filtered out at run time, never reordered).
    """
    out: set[PromptText] = set()
    dynamic: set[str] = set()
    messages = getattr(definition, "messages", {})
    item_fmt = messages.get("item_ivr") or messages.get("item_ussd") or {}
    for lang in definition.languages:
        for node in definition.nodes.values():
            prompt = getattr(node, "prompt", None)
            text = getattr(node, "text", None)
            for found in _texts(node):
                tpl = found.get(lang)
                if tpl is not None:
                    _static(tpl, {}, prompt if found is text else None, lang, out, dynamic)
            for choice in getattr(node, "choices", ()):
                name_tpl, fmt = choice.text.get(lang), item_fmt.get(lang)
                if name_tpl is not None and fmt is not None and not name_tpl.fields():
                    scope = {"n": choice.key, "name": name_tpl.source, "item": {}}
                    _static(fmt, scope, None, lang, out, dynamic)
        for key, message in messages.items():
            if lang in message and not key.startswith("item_"):
                _static(message[lang], {}, None, lang, out, dynamic)
        fmt = item_fmt.get(lang)
        for names in (item_lists or {}).get(lang, ()):
            for i, name in enumerate(names, start=1):
                for n in range(1, i + 1):
                    if fmt is not None:
                        scope = {"n": str(n), "name": name, "item": {}}
                        _static(fmt, scope, None, lang, out, dynamic)
    return sorted(out), sorted(dynamic)


def word_prompts(languages: Iterable[str]) -> list[PromptText]:
    """Digits 0–9, letters and the words for dates and sessions, per language."""
    return [
        PromptText(lang, name, text)
        for lang in languages
        for name, text in WORDS.get(lang, {}).items()
    ]
