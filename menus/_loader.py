"""The YAML → MenuDefinition parser behind ``menus.definition.load_menu``.

Top-level keys, ``include``, messages and the cross-node checks (targets, variables, loops that
never wait) live here; the per-type node parsers are in ``menus._nodes`` and ``menus._flow``.
Included files hold ``nodes:`` and ``messages:``; their errors name the included file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from menus import _yaml as y
from menus._builtins import PUBLIC_BUILTINS, builtin_nodes
from menus._flow import parse_act, parse_route
from menus._nodes import ID, ITEM_SCOPE, NODE_KEYS, PARSERS, Ctx, Defaults, need, opt
from menus.definition import (
    BACK_TARGET,
    BUILTIN_ENDS,
    BUILTIN_VARS,
    DEFAULT_MESSAGES,
    ActNode,
    AskNode,
    Keys,
    MenuDefinition,
    Node,
    RouteNode,
    SayNode,
    Text,
)
from menus.errors import MenuError
from menus.template import Template, parse

_TOP_KEYS = {"menu", "languages", "start", "nodes", "keys", "messages", "include", "defaults"}
_PART_KEYS = {"nodes", "messages"}
_ALL_PARSERS = {**PARSERS, "act": parse_act, "route": parse_route}
KNOWN_TARGETS = frozenset(BUILTIN_ENDS) | PUBLIC_BUILTINS | {BACK_TARGET}


@dataclass
class _Part:
    """One file's share of the menu: its position helper and its top-level entries."""

    where: y.Where
    entries: dict[str, tuple[yaml.Node, yaml.Node]]
    data: bytes = b""


@dataclass
class _Nodes:
    nodes: dict[str, Node] = field(default_factory=dict)
    marks: dict[str, tuple[y.Where, yaml.Node]] = field(default_factory=dict)


def _decode(data: bytes, filename: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise MenuError(f"{filename}: menu files must be UTF-8 ({err.reason})") from err


def _keys(node: yaml.Node, w: y.Where) -> Keys:
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


def _defaults(c: Ctx, node: yaml.Node, w: y.Where) -> Defaults:
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


def _messages(c: Ctx, parts: list[_Part]) -> dict[str, Text]:
    given: dict[str, tuple[y.Where, yaml.Node, yaml.Node]] = {}
    for part in parts:
        if (node := opt(part.entries, "messages")) is None:
            continue
        for name, (key_node, value) in y.mapping(node, part.where, "messages").items():
            if name not in DEFAULT_MESSAGES:
                known = sorted(DEFAULT_MESSAGES)
                raise part.where.error(key_node, f"unknown message {name!r} (known: {known})")
            if name in given:
                raise part.where.error(key_node, f"message {name!r} is defined twice")
            given[name] = (part.where, key_node, value)
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
                if lang not in c.languages:
                    raise mw.error(lang_node, f"language {lang!r} is not declared")
                texts[lang] = c.template(text, mw, lang, extra)
        for lang in c.languages:
            if lang not in texts:
                if lang not in defaults:
                    w, key_node, _ = given.get(name, (parts[0].where, None, None))
                    raise w.error(key_node, f"messages.{name}: missing translation {lang!r}")
                texts[lang] = parse(defaults[lang])
        out[name] = texts
    return out


def _edges_without_input(node: Node) -> list[str]:
    """Where ``node`` may lead without the caller pressing anything."""
    if isinstance(node, SayNode):
        return [node.next]
    if isinstance(node, RouteNode):
        return [case.next for case in node.cases] + [node.default]
    if isinstance(node, ActNode):
        return [node.next, *node.on_error.values()]
    if isinstance(node, AskNode) and node.list_var is not None:
        return [node.empty]
    return []


def _loops(nodes: Mapping[str, Node], marks: Mapping[str, tuple[y.Where, yaml.Node]]) -> None:
    """A cycle that can go round without an input wait would spin: reject it at load."""
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(nid: str) -> None:
        state[nid] = 1
        path.append(nid)
        for nxt in _edges_without_input(nodes[nid]):
            if nxt not in nodes:
                continue
            if state.get(nxt) == 1:
                loop = " -> ".join([*path[path.index(nxt) :], nxt])
                w, mark = marks[nxt]
                at = w.inside(f"node {nxt!r}")
                raise at.error(mark, f"loop that never waits for input: {loop}")
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[nid] = 2

    for nid in nodes:
        if nid not in state:
            visit(nid)


def _parse_nodes(ctx: Ctx, part: _Part, into: _Nodes) -> None:
    where = part.where
    if (nodes_node := opt(part.entries, "nodes")) is None:
        return
    for nid, (key_node, node) in y.mapping(nodes_node, where, "nodes").items():
        nw = where.inside(f"node {nid!r}")
        if nid in into.nodes:
            first_w, first = into.marks[nid]
            line = f"{first_w.filename}:{first.start_mark.line + 1}"
            raise nw.error(key_node, f"node {nid!r} is already defined at {line}")
        into.marks[nid] = (where, key_node)
        if not ID.match(nid):
            raise nw.error(
                key_node, "node ids are letters, digits and '_' (not starting with a digit)"
            )
        entries = y.mapping(node, nw, "a node")
        kind = y.string(need(entries, "type", nw, node), nw, "type")
        if kind not in _ALL_PARSERS:
            known = ", ".join(_ALL_PARSERS)
            raise nw.error(entries["type"][1], f"unknown node type {kind!r} (known: {known})")
        unknown = set(entries) - NODE_KEYS[kind] - {"type"}
        if unknown:
            raise nw.error(
                entries[min(unknown)][0], f"unknown key {min(unknown)!r} for a {kind!r} node"
            )
        into.nodes[nid] = _ALL_PARSERS[kind](ctx, nid, entries, nw, node)


def _includes(main: _Part, base: Path) -> list[_Part]:
    if (inc := opt(main.entries, "include")) is None:
        return []
    parts: list[_Part] = []
    for item in y.sequence(inc, main.where, "include"):
        rel = y.string(item, main.where, "include")
        path = base / rel
        try:
            data = path.read_bytes()
        except OSError as err:
            raise main.where.error(item, f"include {rel!r}: cannot read ({err.strerror})") from None
        where = y.Where(str(path))
        root = y.compose(_decode(data, str(path)), where)
        entries = y.mapping(root, where, "an included part")
        unknown = set(entries) - _PART_KEYS
        if unknown:
            key = min(unknown)
            raise where.error(
                entries[key][0], f"an included part holds only nodes and messages, not {key!r}"
            )
        parts.append(_Part(where, entries, data))
    return parts


def parse_menu(data: bytes, filename: str) -> MenuDefinition:
    where = y.Where(filename)
    root = y.compose(_decode(data, filename), where)
    top = y.mapping(root, where, "the menu")
    unknown = set(top) - _TOP_KEYS
    if unknown:
        raise where.error(top[min(unknown)][0], f"unknown top-level key {min(unknown)!r}")
    name = y.string(need(top, "menu", where, root), where, "menu")
    langs_node = need(top, "languages", where, root)
    languages = tuple(
        y.string(n, where, "languages") for n in y.sequence(langs_node, where, "languages")
    )
    if not languages or len(set(languages)) != len(languages):
        raise where.error(langs_node, "languages must list at least one language, each once")
    ctx = Ctx(languages)
    if (keys_node := opt(top, "keys")) is not None:
        ctx.keys = _keys(keys_node, where)
        if "operator_to" in y.mapping(keys_node, where, "keys"):
            ctx.target(
                y.mapping(keys_node, where, "keys")["operator_to"][1], where, "keys.operator_to"
            )
    if (defaults_node := opt(top, "defaults")) is not None:
        ctx.defaults = _defaults(ctx, defaults_node, where)
    start_node = need(top, "start", where, root)
    start = y.string(start_node, where, "start")
    need(top, "nodes", where, root)
    main = _Part(where, top, data)
    parts = [main, *_includes(main, Path(filename).parent)]
    messages = _messages(ctx, parts)
    found = _Nodes()
    for part in parts:
        _parse_nodes(ctx, part, found)
    nodes = found.nodes
    if start not in nodes:
        raise where.error(start_node, f"start {start!r} does not exist")
    for w, node, target, what in ctx.targets:
        if target not in nodes and target not in KNOWN_TARGETS:
            raise w.error(node, f"{what} {target!r} does not exist")
    known = BUILTIN_VARS | ctx.saves
    for w, node, var in ctx.lists:
        if var not in ctx.saves:
            raise w.error(node, f"list {var!r} is never saved by any node")
    for w, node, what, tpl, extra in ctx.uses:
        for fld in tpl.fields():
            if fld.root not in known and fld.root not in extra:
                raise w.error(
                    node, f"{what}: {{{'.'.join(fld.path)}}}: {fld.root!r} is never saved"
                )
    _loops(nodes, found.marks)
    digest = hashlib.sha256(data)
    for part in parts[1:]:
        digest.update(b"\0" + part.data)
    positions = {
        nid: f"{w.filename}:{mark.start_mark.line + 1}:{mark.start_mark.column + 1}"
        for nid, (w, mark) in found.marks.items()
    }
    return MenuDefinition(
        name=name,
        version=digest.hexdigest()[:12],
        filename=filename,
        languages=languages,
        start=start,
        nodes=nodes,
        keys=ctx.keys,
        messages=messages,
        builtins=builtin_nodes(messages),
        positions=positions,
        files=tuple(p.where.filename for p in parts),
    )
