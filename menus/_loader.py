"""The YAML → MenuDefinition parser behind ``menus.definition.load_menu``.

Top-level keys, messages and the cross-node checks (targets, variables, say-loops) live here;
the per-type node parsers are in ``menus._nodes``.
"""

from __future__ import annotations

from collections.abc import Mapping

import yaml

from menus import _yaml as y
from menus._nodes import ID, ITEM_SCOPE, NODE_KEYS, PARSERS, Ctx, need, opt
from menus.definition import (
    BUILTIN_ENDS,
    BUILTIN_VARS,
    DEFAULT_MESSAGES,
    Keys,
    MenuDefinition,
    Node,
    SayNode,
    Text,
)
from menus.template import Template, parse

_TOP_KEYS = {"menu", "languages", "start", "nodes", "keys", "messages"}


def _keys(node: yaml.Node, w: y.Where) -> Keys:
    e = y.mapping(node, w, "keys")
    unknown = set(e) - {"back", "reserved", "history"}
    if unknown:
        raise w.error(e[min(unknown)][0], f"keys: unknown key {min(unknown)!r}")
    back = y.string(e["back"][1], w, "keys.back") if "back" in e else "*"
    reserved: tuple[str, ...] = ("0",)
    if "reserved" in e:
        seq = y.sequence(e["reserved"][1], w, "keys.reserved")
        reserved = tuple(y.string(k, w, "keys.reserved") for k in seq)
    history = y.integer(e["history"][1], w, "keys.history") if "history" in e else 10
    return Keys(back=back, reserved=reserved, history=max(history, 0))


def _messages(c: Ctx, node: yaml.Node | None, w: y.Where) -> dict[str, Text]:
    given = y.mapping(node, w, "messages") if node is not None else {}
    out: dict[str, Text] = {}
    for name, defaults in DEFAULT_MESSAGES.items():
        extra = ITEM_SCOPE if name.startswith("item_") else frozenset()
        texts: dict[str, Template] = {}
        if name in given:
            mw = w.inside(f"messages.{name}")
            for lang, (key_node, value) in y.mapping(given[name][1], mw, "text").items():
                if lang not in c.languages:
                    raise mw.error(key_node, f"language {lang!r} is not declared")
                texts[lang] = c.template(value, mw, lang, extra)
        for lang in c.languages:
            if lang not in texts:
                if lang not in defaults:
                    raise w.error(node, f"messages.{name}: missing translation {lang!r}")
                texts[lang] = parse(defaults[lang])
        out[name] = texts
    for name, (key_node, _) in given.items():
        if name not in DEFAULT_MESSAGES:
            raise w.error(key_node, f"unknown message {name!r} (known: {sorted(DEFAULT_MESSAGES)})")
    return out


def _say_cycles(nodes: Mapping[str, Node], marks: Mapping[str, yaml.Node], where: y.Where) -> None:
    """A loop of ``say`` nodes would never wait for input: reject it at load."""
    for start in nodes:
        seen: list[str] = []
        current: str | None = start
        while isinstance(node := nodes.get(current or ""), SayNode):
            if node.id in seen:
                loop = " -> ".join([*seen[seen.index(node.id) :], node.id])
                at = where.inside(f"node {node.id!r}")
                raise at.error(marks[node.id], f"say nodes loop without waiting for input: {loop}")
            seen.append(node.id)
            current = node.next


def parse_menu(text: str, filename: str, version: str) -> MenuDefinition:
    where = y.Where(filename)
    root = y.compose(text, where)
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
    start_node = need(top, "start", where, root)
    start = y.string(start_node, where, "start")
    messages = _messages(ctx, opt(top, "messages"), where)
    nodes: dict[str, Node] = {}
    marks: dict[str, yaml.Node] = {}
    for nid, (key_node, node) in y.mapping(need(top, "nodes", where, root), where, "nodes").items():
        nw = where.inside(f"node {nid!r}")
        marks[nid] = key_node
        if not ID.match(nid):
            raise nw.error(
                key_node, "node ids are letters, digits and '_' (not starting with a digit)"
            )
        entries = y.mapping(node, nw, "a node")
        kind = y.string(need(entries, "type", nw, node), nw, "type")
        if kind not in PARSERS:
            raise nw.error(
                entries["type"][1], f"unknown node type {kind!r} (known: {', '.join(PARSERS)})"
            )
        unknown = set(entries) - NODE_KEYS[kind] - {"type"}
        if unknown:
            raise nw.error(
                entries[min(unknown)][0], f"unknown key {min(unknown)!r} for a {kind!r} node"
            )
        nodes[nid] = PARSERS[kind](ctx, nid, entries, nw, node)
    if start not in nodes:
        raise where.error(start_node, f"start {start!r} does not exist")
    for w, node, target, what in ctx.targets:
        if target not in nodes and target not in BUILTIN_ENDS:
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
    _say_cycles(nodes, marks, where)
    return MenuDefinition(
        name=name,
        version=version,
        filename=filename,
        languages=languages,
        start=start,
        nodes=nodes,
        keys=ctx.keys,
        messages=messages,
    )
