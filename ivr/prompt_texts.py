"""What the voice channel can say before any call: every static menu text, piece and word.

``menu_prompts`` lists what a menu can say with the file name the call will ask Asterisk for
(``ivr.compose``): static sentences whole, and for sentences with call data their static parts
between the values; ``value_prompts`` the catalog's names (departments, sessions, hospitals,
districts: any name a value can carry), ``word_prompts`` the digits, numbers, letters, date and
session words the call reads values with. Kept apart from the build (``ivr.prompts``: espeak-ng,
sox, the manifest) because it only reads menu definitions: ``hotline menus check`` and the
tests use it without audio tools.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from ivr.compose import lexicon, prompt_name, speakable, text_name
from ivr.words import WORDS, words_for
from menus.template import Template, render_parts
from menus.types import Say

__all__ = [
    "WORDS",
    "PromptText",
    "catalog_names",
    "lexicons",
    "menu_prompts",
    "menu_values",
    "value_prompts",
    "voice_languages",
    "word_prompts",
]


NAME_FIELDS = ("name", "label", "short", "district")  # catalog fields a menu value may say


@dataclass(frozen=True, slots=True, order=True)
class PromptText:
    lang: str
    name: str  # the Asterisk file name, no extension, relative to sounds/<lang>/
    text: str


def _texts(value: Any) -> Iterator[Mapping[str, Template]]:
    """Every per-language text inside a node (text, hints, short forms, choice labels…)."""
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
            if f.name not in ("args", "set"):
                yield from _texts(getattr(value, f.name))


def voice_languages(definition: Any) -> list[str]:
    """The menu's languages and its voice-only ones (``voice_languages``, e.g. yue)."""
    return [*definition.languages, *getattr(definition, "voice_languages", {})]


def _pick(definition: Any, texts: Mapping[str, Template], lang: str) -> Template | None:
    pick = getattr(definition, "pick", None)
    return pick(texts, lang) if pick is not None else texts.get(lang)


def _pieces(tpl: Template, prompt: str | None, lang: str, out: set[PromptText]) -> None:
    """A template's files: the whole sentence when static (or with only ``{digits:…}``, read by
    SAY DIGITS), else each static part between its values."""
    if all(f.filter == "digits" for f in tpl.fields()):
        scope: dict[str, Any] = {}  # a code in every {digits:…} slot, so the parts split there
        for f in tpl.fields():
            inner = scope
            for key in f.path[:-1]:
                inner = inner.setdefault(key, {})
            inner[f.path[-1]] = "0"
        for part in render_parts(tpl, scope, prompt):
            if isinstance(part, Say) and (part.text or part.prompt):
                out.add(PromptText(lang, prompt_name(part, lang), part.text))
        return
    for seg in tpl.segments:
        if isinstance(seg, str) and speakable(seg.strip()):
            out.add(PromptText(lang, text_name(seg.strip(), lang), seg.strip()))


def menu_prompts(definition: Any) -> tuple[list[PromptText], list[str]]:
    """(prompts to build, texts whose values no piece covers) for a menu, in every voice
    language. A choice label is built as a value (the option line says it between pieces)."""
    out: set[PromptText] = set()
    for lang in voice_languages(definition):
        for node in definition.nodes.values():
            prompt = getattr(node, "prompt", None)
            text = getattr(node, "text", None)
            for found in _texts(node):
                tpl = _pick(definition, found, lang)
                if tpl is not None:
                    _pieces(tpl, prompt if found is text else None, lang, out)
        for message in definition.messages.values():
            tpl = _pick(definition, message, lang)
            if tpl is not None:
                _pieces(tpl, None, lang, out)
    return sorted(out), []


def menu_values(definition: Any, lang: str) -> set[str]:
    """Static texts a menu passes as values (choice labels, the operator line's label)."""
    found: set[str] = set()
    for node in definition.nodes.values():
        for choice in getattr(node, "choices", ()):
            tpl = _pick(definition, choice.text, lang)
            if tpl is not None and not tpl.fields():
                found.add(tpl.source)
    for name, message in definition.messages.items():
        tpl = _pick(definition, message, lang)
        if tpl is not None and not tpl.fields() and not name.startswith("item_"):
            found.add(tpl.source)
    return found


def catalog_names(catalog: Any, written: Mapping[str, str] | None = None) -> dict[str, set[str]]:
    """Every per-language name in a catalog, by language: any ``name``, ``label``, ``short``
    or ``district`` field that maps languages to texts, at any depth (departments, sessions,
    hospitals with their short names, districts…).
    ``written``: voice-only languages and the written one whose names they say."""
    out: dict[str, set[str]] = {}

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, Mapping):
            if (
                key in NAME_FIELDS
                and value
                and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
            ):
                for lang, text in value.items():
                    out.setdefault(lang, set()).add(text)
                return
            for k, v in value.items():
                walk(v, str(k))
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:
                walk(item, key)
        elif is_dataclass(value) and not isinstance(value, type):
            for f in fields(value):
                walk(getattr(value, f.name), f.name)

    walk(catalog)
    for voice, reads in (written or {}).items():
        out.setdefault(voice, set()).update(out.get(reads, set()))
    return out


def value_prompts(names: Mapping[str, Iterable[str]]) -> list[PromptText]:
    """The pieces for names a value can carry, each built under its own text's name."""
    return sorted(
        {
            PromptText(lang, text_name(name.strip(), lang), name.strip())
            for lang, texts in names.items()
            for name in texts
            if speakable(name)
        }
    )


def lexicons(definitions: Iterable[Any], catalog: Any) -> dict[str, dict[str, str]]:
    """Per voice language, the screen forms a value may hold: the words and the catalog's names
    and the menus' option labels (what ``ivr.compose`` matches longest first)."""
    written: dict[str, str] = {}
    languages: set[str] = set()
    menus = list(definitions)
    for menu in menus:
        written.update(getattr(menu, "voice_languages", {}))
        languages.update(voice_languages(menu))
    names = catalog_names(catalog, written) if catalog is not None else {}
    out: dict[str, dict[str, str]] = {}
    for lang in languages:
        known = set(names.get(lang, ()))
        for menu in menus:
            known |= menu_values(menu, lang)
        out[lang] = lexicon(lang, known)
    return out


def word_prompts(languages: Iterable[str]) -> list[PromptText]:
    """Digits, numbers, letters and the words for dates and sessions, per language."""
    return [
        PromptText(lang, name, text) for lang in languages for name, text in words_for(lang).items()
    ]


def prompt_items(menus: list[Any], catalog: Any) -> list[Any]:
    """Everything the menus can say in every voice language: their static texts and pieces,
    the catalog's names (any name field) and the words for digits, numbers and dates."""
    items = []
    written: dict[str, str] = {}
    languages: set[str] = set()
    for menu in menus:
        items += menu_prompts(menu)[0]
        written.update(getattr(menu, "voice_languages", {}))
        languages.update(voice_languages(menu))
    found = catalog_names(catalog, written) if catalog is not None else {}
    names = {lang: texts for lang, texts in found.items() if lang in languages}
    for menu in menus:
        for lang in voice_languages(menu):
            names.setdefault(lang, set()).update(menu_values(menu, lang))
    items += value_prompts(names)
    items += word_prompts(sorted(languages))
    return sorted(set(items))
