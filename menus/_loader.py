"""The YAML → MenuDefinition parser behind ``menus.definition.load_menu``.

Top-level keys, ``include`` and the dispatch of each node to its type's parser live here; the
sections (``keys``, ``defaults``, ``messages``) are parsed in ``menus._sections``, the node types
in ``menus._nodes`` and ``menus._flow``, and the whole-menu checks (targets, variables, loops
that never wait) run in ``menus._checks``. Included files hold ``nodes:`` and ``messages:``;
their errors name the included file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from menus import _yaml as y
from menus._builtins import builtin_nodes
from menus._checks import check_menu
from menus._flow import parse_act, parse_route
from menus._model import MenuDefinition, Node
from menus._nodes import ID, NODE_KEYS, PARSERS, Ctx, need, opt
from menus._sections import parse_defaults, parse_keys, parse_messages
from menus.errors import MenuError

_TOP_KEYS = {
    "menu",
    "languages",
    "voice_languages",
    "start",
    "nodes",
    "keys",
    "messages",
    "include",
    "defaults",
}
_PART_KEYS = {"nodes", "messages"}
_ALL_PARSERS = {**PARSERS, "act": parse_act, "route": parse_route}


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


def _read_file(path: Path) -> bytes:
    return path.read_bytes()


def _includes(main: _Part, base: Path, read: Callable[[Path], bytes] = _read_file) -> list[_Part]:
    if (inc := opt(main.entries, "include")) is None:
        return []
    parts: list[_Part] = []
    for item in y.sequence(inc, main.where, "include"):
        rel = y.string(item, main.where, "include")
        path = base / rel
        try:
            data = read(path)
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


def parse_menu(data: bytes, filename: str,
               read: Callable[[Path], bytes] = _read_file) -> MenuDefinition:
    """Parse a menu file's bytes; ``read`` gives an included file's bytes (default: the disk;
    a stored version is parsed from the sources it was saved with)."""
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
    voice: dict[str, str] = {}
    if (voice_node := opt(top, "voice_languages")) is not None:
        for lang, (lang_node, value) in y.mapping(voice_node, where, "voice_languages").items():
            reads = y.string(value, where, f"voice_languages.{lang}")
            if lang in languages or reads not in languages:
                raise where.error(
                    lang_node,
                    f"voice_languages.{lang}: a voice-only language reads one of {languages}",
                )
            voice[lang] = reads
    ctx = Ctx(languages, voice=tuple(voice))
    if (keys_node := opt(top, "keys")) is not None:
        ctx.keys = parse_keys(keys_node, where)
        if "operator_to" in y.mapping(keys_node, where, "keys"):
            ctx.target(
                y.mapping(keys_node, where, "keys")["operator_to"][1], where, "keys.operator_to"
            )
    if (defaults_node := opt(top, "defaults")) is not None:
        ctx.defaults = parse_defaults(ctx, defaults_node, where)
    start_node = need(top, "start", where, root)
    start = y.string(start_node, where, "start")
    need(top, "nodes", where, root)
    main = _Part(where, top, data)
    parts = [main, *_includes(main, Path(filename).parent, read)]
    messages = parse_messages(ctx, [(p.where, p.entries) for p in parts])
    found = _Nodes()
    for part in parts:
        _parse_nodes(ctx, part, found)
    nodes = found.nodes
    if start not in nodes:
        raise where.error(start_node, f"start {start!r} does not exist")
    check_menu(ctx, nodes, found.marks)
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
        voice_languages=voice,
        sources=tuple((p.where.filename, p.data) for p in parts),
    )
