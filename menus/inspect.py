"""Lenient checks that report issues instead of raising (goflow's ``Inspect``).

``load_menu`` already rejects menus the engine cannot run (unknown targets, duplicate or global
keys, missing translations, loops that never wait); this finds what is legal to run but wrong
to ship: unreachable nodes, dead ends (no way to finish), recorded prompts that do not exist,
empty texts (errors), and USSD screens over budget (a warning). Each issue names the node's
``file:line:col``. ``mermaid``/``dot`` draw the menu.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

from menus._model import (
    BACK_TARGET,
    BUILTIN_ENDS,
    ActNode,
    AskNode,
    EndNode,
    MenuDefinition,
    Node,
    RouteNode,
    SayNode,
    Text,
)
from menus.template import render_str

USSD_ZH_LIMIT = 70  # characters per Chinese USSD screen we aim for (UCS2 pages are tight)
ERROR, WARNING = "error", "warning"


@dataclass(frozen=True, slots=True, order=True)
class Issue:
    node: str
    message: str
    severity: str = ERROR
    where: str = ""  # "file:line:col" of the node

    def __str__(self) -> str:
        at = f"{self.where}: " if self.where else ""
        return f"{at}{self.severity}: node {self.node!r}: {self.message}"


def targets(node: Node) -> Iterator[str]:
    """Every node id (or built-in target) ``node`` can lead to."""
    return (target for target, _ in _labelled(node))


def _node(definition: MenuDefinition, nid: str) -> Node | None:
    return definition.node(nid)


def reachable(definition: MenuDefinition) -> set[str]:
    """Menu node ids reachable from ``start`` (the operator key's target counts as reached)."""
    seen: set[str] = set()
    todo = [definition.start]
    if definition.keys.operator:
        todo.append(definition.keys.operator_to)
    while todo:
        nid = todo.pop()
        node = _node(definition, nid)
        if nid in seen or node is None:
            continue
        seen.add(nid)
        todo.extend(targets(node))
    return {nid for nid in seen if nid in definition.nodes}


def _can_finish(definition: MenuDefinition) -> set[str]:
    """Nodes from which some path reaches an end (``$back`` returns to a question: counts)."""
    done = set(BUILTIN_ENDS) | {BACK_TARGET}
    every = {**definition.builtins, **definition.nodes}
    done |= {nid for nid, node in every.items() if isinstance(node, EndNode)}
    changed = True
    while changed:
        changed = False
        for nid, node in every.items():
            if nid not in done and any(t in done for t in targets(node)):
                done.add(nid)
                changed = True
    return done


def _static_screen(definition: MenuDefinition, node: AskNode, lang: str) -> str:
    """The question plus static options as a USSD screen; variables render empty."""
    lines = [render_str(node.text[lang], {})]
    item = definition.message("item_ussd", lang)
    for choice in node.choices:
        if choice.channels and "ussd" not in choice.channels:
            continue  # a voice-only option is never on a screen
        name = render_str(choice.text[lang], {})
        lines.append(render_str(item, {"n": choice.key, "name": name}))
    if node.show_operator and definition.keys.operator:
        name = render_str(definition.message("operator_option", lang), {})
        lines.append(render_str(item, {"n": definition.keys.operator, "name": name}))
    return "\n".join(lines)


def _texts(node: Node) -> Iterator[tuple[str, Text]]:
    if isinstance(node, SayNode | EndNode | AskNode):
        yield "text", node.text
    if isinstance(node, AskNode):
        yield from ((f"choice {c.key!r}", c.text) for c in node.choices)
        if node.short is not None:
            yield "short", node.short
        yield from ((f"invalid[{i}]", t) for i, t in enumerate(node.invalid))
        yield from ((f"silence[{i}]", t) for i, t in enumerate(node.silence))


def _has_prompt(name: str, prompts: Collection[str], languages: tuple[str, ...]) -> bool:
    return name in prompts or all(f"{lang}/{name}" in prompts for lang in languages)


def inspect(
    definition: MenuDefinition,
    *,
    prompts: Collection[str] | None = None,
    ussd_limit: int = USSD_ZH_LIMIT,
) -> list[Issue]:
    """Issues sorted by node. ``prompts``: recorded prompt names available (None: skip).

    A prompt ``welcome`` is found as ``welcome`` or as ``<lang>/welcome`` for every language.
    """
    issues: list[Issue] = []
    live = reachable(definition)
    finish = _can_finish(definition)

    def add(nid: str, message: str, severity: str = ERROR) -> None:
        issues.append(Issue(nid, message, severity, definition.positions.get(nid, "")))

    for nid, node in definition.nodes.items():
        if nid not in live:
            add(nid, "is never reached from start")
        elif nid not in finish:
            add(nid, "dead end: no path from here reaches an end")
        prompt = getattr(node, "prompt", None)
        known = prompts is None or prompt is None
        voices = (*definition.languages, *definition.voice_languages)  # yue needs its own file
        if not known and not _has_prompt(prompt, prompts, voices):  # type: ignore[arg-type]
            add(nid, f"prompt {prompt!r} has no recording")
        for what, text in _texts(node):
            for lang, tpl in text.items():
                if not tpl.source.strip():
                    add(nid, f"{what}.{lang} is empty")
        if isinstance(node, AskNode | EndNode | SayNode) and "zh" in definition.languages:
            if isinstance(node, AskNode):
                screen = _static_screen(definition, node, "zh")
            else:
                screen = render_str(node.text["zh"], {})
            if len(screen) > ussd_limit:
                add(nid, f"zh text is {len(screen)} characters (USSD budget {ussd_limit})", WARNING)
    return sorted(issues)


def edges(definition: MenuDefinition) -> list[tuple[str, str, str]]:
    """Every (node, target, cause) of the menu: what ``mermaid``, ``dot`` and the console's
    outline draw."""
    return list(_edges(definition))


def _edges(definition: MenuDefinition) -> Iterator[tuple[str, str, str]]:
    for nid, node in definition.nodes.items():
        for target, why in _labelled(node):
            yield nid, target, why


def _kind(node: Node) -> str:
    kind = type(node).__name__.removesuffix("Node").lower()
    if isinstance(node, ActNode):
        return f"{kind} {node.id}: {node.effect or 'set'}"
    return f"{kind} {node.id}"


def mermaid(definition: MenuDefinition) -> str:
    """The menu as a mermaid flowchart (for docs and reviews); edges are labelled by cause."""
    lines = ["flowchart TD"]
    for nid, node in definition.nodes.items():
        lines.append(f'  {nid}["{_kind(node)}"]')
    for nid, target, why in _edges(definition):
        end = target.lstrip("$")
        if target.startswith("$"):
            lines.append(f"  {nid}__{end}([{end}])")
            end = f"{nid}__{end}"
        lines.append(f"  {nid} -->|{why}| {end}" if why else f"  {nid} --> {end}")
    return "\n".join(lines) + "\n"


def dot(definition: MenuDefinition) -> str:
    """The menu in Graphviz DOT (``dot -Tsvg``); built-in targets are small ovals."""
    lines = [f'digraph "{definition.name}" {{', "  node [shape=box, fontsize=10];"]
    for nid, node in definition.nodes.items():
        shape = "ellipse" if isinstance(node, EndNode) else "box"
        shape = "diamond" if isinstance(node, RouteNode) else shape
        lines.append(f'  "{nid}" [label="{_kind(node)}", shape={shape}];')
    for nid, target, why in _edges(definition):
        end = target
        if target.startswith("$"):
            end = f"{nid}__{target.lstrip('$')}"
            lines.append(f'  "{end}" [label="{target}", shape=oval, fontsize=8];')
        lines.append(f'  "{nid}" -> "{end}" [label="{why}"];')
    return "\n".join([*lines, "}"]) + "\n"


def _labelled(node: Node) -> Iterator[tuple[str, str]]:
    if isinstance(node, SayNode):
        yield node.next, ""
    elif isinstance(node, AskNode):
        yield from ((c.next, c.key) for c in node.choices)
        if node.next is not None:
            yield node.next, "ok"
        if node.code is not None:
            yield node.code.next, "code"
        if node.list_var is not None:
            yield node.empty, "empty"
        yield node.on_max, "max"
    elif isinstance(node, ActNode):
        yield node.next, "ok"
        yield from ((target, code) for code, target in node.on_error.items())
    elif isinstance(node, RouteNode):
        yield from ((case.next, case.test) for case in node.cases)
        yield node.default, "default"
