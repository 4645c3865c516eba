"""Parsers for the menu-wide sections: ``keys``, ``defaults`` and the standard ``messages``.

``menus._loader`` parses keys and defaults before any node, since node parsers read them from
``Ctx`` (choice keys must avoid global keys, asks inherit the defaults). Keys and defaults come
from the main file only; messages may come from any part.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from menus import _yaml as y
from menus._model import DEFAULT_MESSAGES, Keys, Text
from menus._nodes import ITEM_SCOPE, Ctx, Defaults, Entries, opt
from menus.template import Template, parse


def parse_keys(node: yaml.Node, w: y.Where) -> Keys:
    """The ``keys:`` section; back, operator and repeat must stay distinct keys."""
    e = y.mapping(node, w, "keys")
    unknown = set(e) - {"back", "reserved", "history", "operator", "operator_to", "repeat"}
    if unknown:
        raise w.error(e[min(unknown)][0], f"keys: unknown key {min(unknown)!r}")
    kw: dict[str, object] = {}
    for name in ("back", "operator", "repeat", "operator_to"):
        if name in e:
            kw[name] = y.string(e[name][1], w, f"keys.{name}")
    if "reserved" in e:
        seq = y.sequence(e["reserved"][1], w, "keys.reserved")
        kw["reserved"] = tuple(y.string(k, w, "keys.reserved") for k in seq)
    if "history" in e:
        kw["history"] = max(y.integer(e["history"][1], w, "keys.history"), 0)
    keys = Keys(**kw)  # type: ignore[arg-type]
    singles = [k for k in (keys.back, keys.operator, keys.repeat) if k]
    if len(set(singles)) != len(singles):
        raise w.error(node, f"keys: back, operator and repeat must differ ({singles})")
    return keys


def parse_defaults(c: Ctx, node: yaml.Node, w: y.Where) -> Defaults:
    """The ``defaults:`` section: what an ``ask`` gets when it leaves a setting out."""
    e = y.mapping(node, w, "defaults")
    unknown = set(e) - {"timeout", "inter_timeout", "noinput", "nomatch", "on_max"}
    if unknown:
        raise w.error(e[min(unknown)][0], f"defaults: unknown key {min(unknown)!r}")
    d = Defaults()
    for name in ("timeout", "inter_timeout"):
        if name in e:
            setattr(d, name, y.number(e[name][1], w, f"defaults.{name}"))
            if getattr(d, name) <= 0:
                raise w.error(e[name][1], f"defaults.{name} must be positive")
    for name in ("noinput", "nomatch"):
        if name in e:
            setattr(d, name, y.integer(e[name][1], w, f"defaults.{name}"))
            if getattr(d, name) < 1:
                raise w.error(e[name][1], f"defaults.{name} must be at least 1")
    if "on_max" in e:
        d.on_max = c.target(e["on_max"][1], w, "defaults.on_max")
    return d


def parse_messages(c: Ctx, parts: Sequence[tuple[y.Where, Entries]]) -> dict[str, Text]:
    """Every standard message in every language: the menu's own text, else the default.

    ``parts`` are (position helper, top-level entries) of the file and its includes, the
    main file first; a message may be given in any one of them, not in two.
    """
    given: dict[str, tuple[y.Where, yaml.Node, yaml.Node]] = {}
    for where, entries in parts:
        if (node := opt(entries, "messages")) is None:
            continue
        for name, (key_node, value) in y.mapping(node, where, "messages").items():
            if name not in DEFAULT_MESSAGES:
                known = sorted(DEFAULT_MESSAGES)
                raise where.error(key_node, f"unknown message {name!r} (known: {known})")
            if name in given:
                raise where.error(key_node, f"message {name!r} is defined twice")
            given[name] = (where, key_node, value)
    out: dict[str, Text] = {}
    for name, defaults in DEFAULT_MESSAGES.items():
        extra = ITEM_SCOPE if name.startswith("item_") else frozenset()
        if name == "readback":
            extra = frozenset({"value"})
        texts: dict[str, Template] = {}
        if name in given:
            w, key_node, value = given[name]
            mw = w.inside(f"messages.{name}")
            for lang, (lang_node, text) in y.mapping(value, mw, "text").items():
                if lang not in c.languages and lang not in c.voice:
                    raise mw.error(lang_node, f"language {lang!r} is not declared")
                texts[lang] = c.template(text, mw, lang, extra)
        for lang in c.languages:
            if lang not in texts:
                if lang not in defaults:
                    w, key_node, _ = given.get(name, (parts[0][0], None, None))
                    raise w.error(key_node, f"messages.{name}: missing translation {lang!r}")
                texts[lang] = parse(defaults[lang])
        out[name] = texts
    return out
