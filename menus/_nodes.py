"""Node parsers for the menu loader: one function per YAML ``type`` (``PARSERS``).

References and variable uses are collected in ``Ctx`` while parsing and checked by
``menus._checks`` once every node is known, so forward references work.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from menus import _yaml as y
from menus._model import (
    BUILTIN_VARS,
    KNOWN_VALIDATORS,
    PAGING_KEYS,
    AskNode,
    Choice,
    CodeEntry,
    DigitsSpec,
    EndNode,
    Keys,
    Node,
    SayNode,
    Text,
)
from menus.errors import MenuError
from menus.template import Template, parse

ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ITEM_SCOPE = frozenset({"n", "name", "item"})
NODE_KEYS = {
    "say": {"text", "prompt", "next"},
    "ask": {
        "text",
        "prompt",
        "choices",
        "list",
        "code",
        "digits",
        "save",
        "next",
        "invalid",
        "short",
        "silence",
        "show_operator",
        "noinput",
        "nomatch",
        "on_max",
        "empty",
        "timeout",
        "inter_timeout",
    },
    "act": {"effect", "args", "save", "next", "on_error", "set", "lang"},
    "route": {"value", "cases", "default"},
    "end": {"text", "prompt"},
}


@dataclass
class Defaults:
    """Menu-wide defaults for asks (the ``defaults:`` section)."""

    timeout: float = 5.0
    inter_timeout: float = 3.0
    noinput: int = 3
    nomatch: int = 3
    on_max: str = "$goodbye"


@dataclass
class Ctx:
    """Parsing state: declared languages and the references to check at the end."""

    languages: tuple[str, ...]
    voice: tuple[str, ...] = ()  # voice-only languages: a text may have them, need not
    keys: Keys = field(default_factory=Keys)
    defaults: Defaults = field(default_factory=Defaults)
    targets: list[tuple[y.Where, yaml.Node, str, str]] = field(default_factory=list)
    uses: list[tuple[y.Where, yaml.Node, str, Template, frozenset[str]]] = field(
        default_factory=list
    )
    saves: set[str] = field(default_factory=set)
    lists: list[tuple[y.Where, yaml.Node, str]] = field(default_factory=list)

    def text(
        self, node: yaml.Node, where: y.Where, what: str, extra: frozenset[str] = frozenset()
    ) -> Text:
        entries = y.mapping(node, where, what)
        out: dict[str, Template] = {}
        for lang, (key_node, value_node) in entries.items():
            if lang not in self.languages and lang not in self.voice:
                raise where.error(key_node, f"{what}: language {lang!r} is not declared")
            out[lang] = self.template(value_node, where, f"{what}.{lang}", extra)
        for lang in self.languages:
            if lang not in out:
                raise where.error(node, f"{what}: missing translation {lang!r}")
        return out

    def template(
        self, node: yaml.Node, where: y.Where, what: str, extra: frozenset[str] = frozenset()
    ) -> Template:
        try:
            tpl = parse(y.string(node, where, what))
        except MenuError as err:
            raise where.error(node, f"{what}: {err}") from None
        self.uses.append((where, node, what, tpl, frozenset(extra)))
        return tpl

    def target(self, node: yaml.Node, where: y.Where, what: str) -> str:
        name = y.string(node, where, what)
        self.targets.append((where, node, name, what))
        return name

    def save(self, node: yaml.Node, where: y.Where) -> str:
        name = y.string(node, where, "save")
        if not ID.match(name) or name in BUILTIN_VARS:
            raise where.error(
                node, f"save {name!r} must be a name other than {sorted(BUILTIN_VARS)}"
            )
        self.saves.add(name)
        return name


Entries = dict[str, tuple[yaml.Node, yaml.Node]]


def opt(entries: Entries, key: str) -> yaml.Node | None:
    return entries[key][1] if key in entries else None


def need(entries: Entries, key: str, where: y.Where, node: yaml.Node) -> yaml.Node:
    if key not in entries:
        raise where.error(node, f"missing {key!r}")
    return entries[key][1]


def _prompt(node: yaml.Node | None, text: Text, w: y.Where) -> str | None:
    """A recorded prompt stands for the whole text, so that text must have no variables."""
    if node is None:
        return None
    name = y.string(node, w, "prompt")
    if any(tpl.fields() for tpl in text.values()):
        raise w.error(node, f"prompt {name!r}: a recording cannot say a text with {{variables}}")
    return name


def _say(c: Ctx, nid: str, e: Entries, w: y.Where, n: yaml.Node) -> SayNode:
    text = c.text(need(e, "text", w, n), w, "text")
    return SayNode(
        id=nid,
        text=text,
        next=c.target(need(e, "next", w, n), w, "next"),
        prompt=_prompt(opt(e, "prompt"), text, w),
    )


def _end(c: Ctx, nid: str, e: Entries, w: y.Where, n: yaml.Node) -> EndNode:
    text = c.text(need(e, "text", w, n), w, "text")
    return EndNode(id=nid, text=text, prompt=_prompt(opt(e, "prompt"), text, w))


def _digits(c: Ctx, node: yaml.Node, w: y.Where) -> DigitsSpec:
    e = y.mapping(node, w, "digits")
    unknown = set(e) - {"min", "max", "validator", "allow_star", "star_as", "readback"}
    if unknown:
        raise w.error(e[min(unknown)][0], f"digits: unknown key {min(unknown)!r}")
    lo = opt(e, "min")
    hi = opt(e, "max")
    if lo is None and hi is None:
        raise w.error(node, "digits: give min and/or max")
    low = y.integer(lo, w, "digits.min") if lo is not None else None
    high = y.integer(hi, w, "digits.max") if hi is not None else None
    low = high if low is None else low
    high = low if high is None else high
    assert low is not None and high is not None
    if not 1 <= low <= high <= 32:
        raise w.error(node, f"digits: need 1 <= min <= max <= 32, got {low}..{high}")
    validator = None
    if (v := opt(e, "validator")) is not None:
        validator = y.string(v, w, "digits.validator")
        if validator not in KNOWN_VALIDATORS:
            known = ", ".join(sorted(KNOWN_VALIDATORS))
            raise w.error(v, f"unknown validator {validator!r} (known: {known})")
    star = opt(e, "allow_star")
    star_as = opt(e, "star_as")
    readback = opt(e, "readback")
    return DigitsSpec(
        min=low,
        max=high,
        validator=validator,
        allow_star=y.boolean(star, w, "digits.allow_star") if star is not None else False,
        star_as=y.string(star_as, w, "digits.star_as") if star_as is not None else "X",
        readback=y.boolean(readback, w, "digits.readback") if readback is not None else False,
    )


def _choices(c: Ctx, node: yaml.Node, w: y.Where) -> tuple[Choice, ...]:
    out: list[Choice] = []
    for key, (key_node, value) in y.mapping(node, w, "choices").items():
        cw = w.inside(f"choice {key!r}")
        if not key.isdigit() and key != "#":
            raise w.error(key_node, f"choice key {key!r} must be digits or '#'")
        if key in c.keys.taken():
            what = "a USSD paging key" if key in PAGING_KEYS else "a global key (see 'keys')"
            raise w.error(key_node, f"choice key {key!r} is {what}")
        e = y.mapping(value, cw, "choice")
        unknown = set(e) - {"text", "next", "channels", "langs"}
        if unknown:
            raise cw.error(e[min(unknown)][0], f"unknown key {min(unknown)!r}")
        only: dict[str, tuple[str, ...]] = {}
        for what in ("channels", "langs"):
            if (v := opt(e, what)) is not None:
                only[what] = tuple(y.string(i, cw, what) for i in y.sequence(v, cw, what))
        for lang in only.get("langs", ()):
            if lang not in c.languages and lang not in c.voice:
                raise cw.error(e["langs"][1], f"langs: language {lang!r} is not declared")
        out.append(
            Choice(
                key=key,
                text=c.text(need(e, "text", cw, value), cw, "text"),
                next=c.target(need(e, "next", cw, value), cw, "next"),
                **only,
            )
        )
    if not out:
        raise w.error(node, "choices is empty")
    return tuple(out)


def _ask(c: Ctx, nid: str, e: Entries, w: y.Where, n: yaml.Node) -> AskNode:
    kinds = [k for k in ("choices", "list", "digits") if k in e]
    if len(kinds) != 1:
        why = "neither" if not kinds else f"more than one of {kinds}"
        raise w.error(n, f"an ask needs exactly one of choices, list, digits ({why})")
    kind = kinds[0]
    kw: dict[str, Any] = {}
    if kind == "choices":
        kw["choices"] = _choices(c, e["choices"][1], w)
    elif kind == "list":
        kw["list_var"] = y.string(e["list"][1], w, "list")
        c.lists.append((w, e["list"][1], kw["list_var"]))
        if (v := opt(e, "code")) is not None:
            kw["code"] = _code(c, v, w)
    else:
        kw["digits"] = _digits(c, e["digits"][1], w)
    if kind != "choices":
        kw["save"] = c.save(need(e, "save", w, n), w)
        kw["next"] = c.target(need(e, "next", w, n), w, "next")
    elif "next" in e or "save" in e:
        raise w.error(n, "an ask with choices takes next from each choice (no next/save)")
    if kind != "list" and "code" in e:
        raise w.error(e["code"][0], "code is for list asks only")
    kw["invalid"] = _hints(c, opt(e, "invalid"), w, "invalid")
    kw["silence"] = _hints(c, opt(e, "silence"), w, "silence")
    if (v := opt(e, "short")) is not None:
        kw["short"] = c.text(v, w, "short")
    if (v := opt(e, "show_operator")) is not None:
        kw["show_operator"] = y.boolean(v, w, "show_operator")
    d = c.defaults
    kw["max_noinput"], kw["max_nomatch"] = d.noinput, d.nomatch
    for key, attr in (("noinput", "max_noinput"), ("nomatch", "max_nomatch")):
        if (v := opt(e, key)) is not None:
            kw[attr] = y.integer(v, w, key)
            if kw[attr] < 1:
                raise w.error(v, f"{key} must be at least 1")
    kw["on_max"] = c.target(e["on_max"][1], w, "on_max") if "on_max" in e else d.on_max
    if (v := opt(e, "empty")) is not None:
        kw["empty"] = c.target(v, w, "empty")
    kw["first_timeout_s"], kw["inter_timeout_s"] = d.timeout, d.inter_timeout
    for key, attr in (("timeout", "first_timeout_s"), ("inter_timeout", "inter_timeout_s")):
        if (v := opt(e, key)) is not None:
            kw[attr] = y.number(v, w, key)
            if kw[attr] <= 0:
                raise w.error(v, f"{key} must be positive")
    text = c.text(need(e, "text", w, n), w, "text")
    return AskNode(id=nid, text=text, prompt=_prompt(opt(e, "prompt"), text, w), **kw)


def _code(c: Ctx, node: yaml.Node, w: y.Where) -> CodeEntry:
    e = y.mapping(node, w, "code")
    unknown = set(e) - {"min", "max", "save", "next"}
    if unknown:
        raise w.error(e[min(unknown)][0], f"code: unknown key {min(unknown)!r}")
    low = y.integer(need(e, "min", w, node), w, "code.min")
    high = y.integer(need(e, "max", w, node), w, "code.max")
    if not 1 <= low <= high <= 16:
        raise w.error(node, f"code: need 1 <= min <= max <= 16, got {low}..{high}")
    return CodeEntry(
        min=low,
        max=high,
        save=c.save(need(e, "save", w, node), w),
        next=c.target(need(e, "next", w, node), w, "code.next"),
    )


def _hints(c: Ctx, v: yaml.Node | None, w: y.Where, what: str) -> tuple[Text, ...]:
    """One text, or a list escalating by count (1st, 2nd, ...; the last one repeats)."""
    if v is None:
        return ()
    if isinstance(v, yaml.SequenceNode):
        hints = y.sequence(v, w, what)
        if not hints:
            raise w.error(v, f"{what}: give at least one text")
        return tuple(c.text(h, w, f"{what}[{i}]") for i, h in enumerate(hints))
    return (c.text(v, w, what),)


Parser = Callable[[Ctx, str, Entries, y.Where, yaml.Node], Node]
PARSERS: dict[str, Parser] = {"say": _say, "ask": _ask, "end": _end}
