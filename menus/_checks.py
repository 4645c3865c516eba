"""Whole-menu checks, run once every node of the file and its parts is parsed.

Node parsers only record targets, saved lists and template fields in ``Ctx`` (so a node may
name one defined later); here each must resolve, and no cycle may go round without waiting
for input. The first problem found raises ``MenuError`` at the node that has it.
"""

from __future__ import annotations

from collections.abc import Mapping

import yaml

from menus import _yaml as y
from menus._builtins import PUBLIC_BUILTINS
from menus._model import (
    BACK_TARGET,
    BUILTIN_ENDS,
    BUILTIN_VARS,
    ActNode,
    AskNode,
    Node,
    RouteNode,
    SayNode,
)
from menus._nodes import Ctx

KNOWN_TARGETS = frozenset(BUILTIN_ENDS) | PUBLIC_BUILTINS | {BACK_TARGET}


def check_menu(
    ctx: Ctx, nodes: Mapping[str, Node], marks: Mapping[str, tuple[y.Where, yaml.Node]]
) -> None:
    """Targets, then lists, then variables must resolve; then no loop may skip input."""
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
    _loops(nodes, marks)


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
