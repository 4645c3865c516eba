"""Lenient inspection, and the rule that menus/ imports nothing else of ours."""

from __future__ import annotations

import ast
from pathlib import Path

from menus.definition import MenuDefinition, load_menu_text
from menus.inspect import Issue, inspect, reachable

MENUS_DIR = Path(__file__).resolve().parents[2] / "menus"
LONG = "很" * 80

TEXT = f"""\
menu: m
languages: [zh, en]
start: a
nodes:
  a:
    type: ask
    prompt: a
    text: {{zh: 请选择, en: choose}}
    choices:
      "1": {{text: {{zh: 一, en: one}}, next: b}}
  b: {{type: end, text: {{zh: {LONG}, en: bye}}}}
  orphan: {{type: end, prompt: orphan, text: {{zh: 孤儿, en: orphan}}}}
"""


def test_inspect_reports_unreachable_missing_prompts_and_long_screens() -> None:
    menu = load_menu_text(TEXT, "m.yaml")
    assert reachable(menu) == {"a", "b"}
    assert inspect(menu, prompts={"a"}) == [
        Issue("b", "zh text is 80 characters (USSD budget 70)", "warning", "m.yaml:11:3"),
        Issue("orphan", "is never reached from start", "error", "m.yaml:12:3"),
        Issue("orphan", "prompt 'orphan' has no recording", "error", "m.yaml:12:3"),
    ]
    assert str(inspect(menu)[0]) == (
        "m.yaml:11:3: warning: node 'b': zh text is 80 characters (USSD budget 70)"
    )
    assert inspect(menu, prompts={"zh/a", "en/a", "zh/orphan"})[-1].message == (
        "prompt 'orphan' has no recording"  # a per-language recording must exist in each
    )


def test_shipped_menu_has_no_issues(booking_menu: MenuDefinition) -> None:
    assert inspect(booking_menu) == []


def test_menus_imports_nothing_else_of_ours() -> None:
    ours = {"hotline", "ivr", "ussd", "sms", "booking", "web", "notify"}
    for path in MENUS_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in ours, f"{path.name} imports {name}"
                assert name.split(".")[0] != "twisted", f"{path.name} imports {name}"


def test_mermaid_graph_names_every_edge(booking_menu: MenuDefinition) -> None:
    from menus.inspect import mermaid

    graph = mermaid(booking_menu)
    assert graph.startswith("flowchart TD\n")
    assert '  book["act book: book"]' in graph
    assert "  book -->|full| full" in graph
    assert "  pick_day -->|empty| no_days" in graph
    assert "  welcome -->|1| check_registered" in graph
    assert "  which_id -->|count| use_only_id" in graph
    assert "  ask_id -->|max| ask_id__goodbye" in graph
