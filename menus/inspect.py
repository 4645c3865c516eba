"""Lenient checks that report issues instead of raising (goflow's ``Inspect``).

``load_menu`` already rejects menus the engine cannot run; this finds what is legal but likely
wrong: unreachable nodes, recorded prompts that do not exist, USSD screens over budget.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

from menus.definition import ActNode, AskNode, EndNode, MenuDefinition, Node, SayNode
from menus.template import render_str

USSD_ZH_LIMIT = 70  # characters per Chinese USSD screen we aim for (UCS2 pages are tight)


@dataclass(frozen=True, slots=True, order=True)
class Issue:
    node: str
    message: str

    def __str__(self) -> str:
        return f"node {self.node!r}: {self.message}"


def targets(node: Node) -> Iterator[str]:
    """Every node id (or built-in end) ``node`` can lead to."""
    return (target for target, _ in _labelled(node))


def reachable(definition: MenuDefinition) -> set[str]:
    seen: set[str] = set()
    todo = [definition.start]
    while todo:
        nid = todo.pop()
        if nid in seen or nid not in definition.nodes:
            continue
        seen.add(nid)
        todo.extend(targets(definition.nodes[nid]))
    return seen


def _static_screen(definition: MenuDefinition, node: AskNode, lang: str) -> str:
    """The question plus static options as a USSD screen; variables render empty."""
    lines = [render_str(node.text[lang], {})]
    item = definition.message("item_ussd", lang)
    for choice in node.choices:
        name = render_str(choice.text[lang], {})
        lines.append(render_str(item, {"n": choice.key, "name": name}))
    return "\n".join(lines)


def inspect(
    definition: MenuDefinition,
    *,
    prompts: Collection[str] | None = None,
    ussd_limit: int = USSD_ZH_LIMIT,
) -> list[Issue]:
    """Issues sorted by node. ``prompts``: recorded prompt names available (None: skip)."""
    issues: list[Issue] = []
    live = reachable(definition)
    for nid, node in definition.nodes.items():
        if nid not in live:
            issues.append(Issue(nid, "is never reached from start"))
        prompt = getattr(node, "prompt", None)
        if prompts is not None and prompt is not None and prompt not in prompts:
            issues.append(Issue(nid, f"prompt {prompt!r} has no recording"))
        if isinstance(node, AskNode | EndNode | SayNode) and "zh" in definition.languages:
            if isinstance(node, AskNode):
                screen = _static_screen(definition, node, "zh")
            else:
                screen = render_str(node.text["zh"], {})
            if len(screen) > ussd_limit:
                issues.append(
                    Issue(nid, f"zh text is {len(screen)} characters (USSD budget {ussd_limit})")
                )
    return sorted(issues)


def mermaid(definition: MenuDefinition) -> str:
    """The menu as a mermaid flowchart (for docs and reviews); edges are labelled by cause."""
    lines = ["flowchart TD"]
    for nid, node in definition.nodes.items():
        kind = type(node).__name__.removesuffix("Node").lower()
        label = f"{nid}: {node.effect}" if isinstance(node, ActNode) else nid
        lines.append(f'  {nid}["{kind} {label}"]')
    for nid, node in definition.nodes.items():
        for target, why in _labelled(node):
            end = target.lstrip("$")
            if target.startswith("$"):
                lines.append(f"  {nid}__{end}([{end}])")
                end = f"{nid}__{end}"
            lines.append(f"  {nid} -->|{why}| {end}" if why else f"  {nid} --> {end}")
    return "\n".join(lines) + "\n"


def _labelled(node: Node) -> Iterator[tuple[str, str]]:
    if isinstance(node, SayNode):
        yield node.next, ""
    elif isinstance(node, AskNode):
        yield from ((c.next, c.key) for c in node.choices)
        if node.next is not None:
            yield node.next, "ok"
        if node.list_var is not None:
            yield node.empty, "empty"
        yield node.on_max, "max"
    elif isinstance(node, ActNode):
        yield node.next, "ok"
        yield from ((target, code) for code, target in node.on_error.items())
