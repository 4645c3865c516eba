"""One menu's check, the code behind ``hotline menus check`` and the console's menu page.

A menu is loaded strictly (schema, targets, keys, translations, loops: the first such error
stops it), then inspected (unreachable nodes, dead ends, missing prompts, empty texts, long
USSD screens). Every line reads ``file:line:col: error|warning: ...``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from menus.definition import MenuDefinition, MenuError
from menus.inspect import ERROR, USSD_ZH_LIMIT, inspect

_POSITION = re.compile(r"^(.*?:\d+:\d+): (.*)$", re.DOTALL)


def needed_prompts(definition: Any, catalog: Any = None) -> list[Any]:
    """Every file a call of this menu can play, in every voice language: static texts, the
    static parts of sentences with values, option labels, words (digits, numbers, dates) and,
    with ``catalog``, its names."""
    from ivr.prompt_texts import prompt_items

    return prompt_items([definition], catalog)


def missing_text_prompts(definition: Any, prompts: set[str], catalog: Any = None) -> list[str]:
    """Texts and pieces whose file is missing (``hotline prompts build`` makes them); explicit
    ``prompt:`` names are reported per node by ``inspect`` instead."""
    named = {getattr(node, "prompt", None) for node in definition.nodes.values()}
    needed = needed_prompts(definition, catalog)
    return [
        f"{item.lang} text {item.text!r} has no prompt file {item.lang}/{item.name} "
        "(run hotline prompts build)"
        for item in needed
        if item.name not in named and f"{item.lang}/{item.name}" not in prompts
    ]


def _error_line(exc: Exception) -> str:
    text = str(exc)
    match = _POSITION.match(text)
    return f"{match.group(1)}: error: {match.group(2)}" if match else f"error: {text}"


def check_one(
    path: Path | str,
    load: Callable[[], MenuDefinition],
    *,
    prompts: set[str] | None = None,
    catalog: Any = None,
    ussd_limit: int = USSD_ZH_LIMIT,
    out: TextIO,
) -> tuple[int, int, MenuDefinition | None]:
    """Check one menu (``load`` reads it: from its file, or an upload's bytes in the console);
    prints its lines; returns its errors, its warnings and the definition when it loaded."""
    try:
        definition = load()
    except (MenuError, OSError) as exc:
        print(_error_line(exc), file=out)
        return 1, 0, None
    issues = inspect(definition, prompts=prompts, ussd_limit=ussd_limit)
    for issue in issues:
        print(str(issue), file=out)
    unbuilt = missing_text_prompts(definition, prompts, catalog) if prompts is not None else []
    for line in unbuilt:
        print(f"{path}: error: {line}", file=out)
    bad = sum(1 for i in issues if i.severity == ERROR) + len(unbuilt)
    warnings = len(issues) + len(unbuilt) - bad
    status = "ok" if bad == warnings == 0 else f"{bad} error(s), {warnings} warning(s)"
    print(f"{path}: menu {definition.name!r} version {definition.version}: {status}", file=out)
    return bad, warnings, definition
