"""Rendering for the engine: template scope, list numbering, questions and input waits.

Pure helpers shared by ``menus.engine`` (entering nodes) and ``menus._answer`` (handling input).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from menus.definition import AskNode, MenuDefinition, Text
from menus.template import render_parts, render_str
from menus.types import Output, Say, SayDigits, Session, Step, Wait

Parts = tuple[Say | SayDigits, ...]
READBACK = "_readback"  # session var holding an entry waiting for 1 confirm / 2 re-enter


def scope(session: Session, **extra: Any) -> dict[str, Any]:
    return {
        "msisdn": session.msisdn,
        "channel": session.channel,
        "lang": session.lang,
        **session.vars,
        **extra,
    }


def text(definition: MenuDefinition, session: Session, tpl: Text, prompt: str | None) -> Parts:
    chosen = tpl.get(session.lang) or tpl[definition.default_lang]
    return render_parts(chosen, scope(session), prompt)


def message(definition: MenuDefinition, session: Session, name: str, **extra: Any) -> Parts:
    return render_parts(definition.message(name, session.lang), scope(session, **extra))


def items(session: Session, node: AskNode) -> list[Mapping[str, Any]] | None:
    """The dynamic list of a ``list`` ask (bad entries dropped), or None for other asks."""
    if node.list_var is None:
        return None
    raw = session.vars.get(node.list_var)
    if not isinstance(raw, list | tuple):
        return []
    return [i for i in raw if isinstance(i, Mapping) and "id" in i and "name" in i]


def item_keys(definition: MenuDefinition) -> Iterator[str]:
    """Keys for list items: 1, 2, 3... skipping global and paging keys (9 is 'repeat')."""
    taken = definition.keys.taken()
    n = 0
    while True:
        n += 1
        if str(n) not in taken:
            yield str(n)


def options(definition: MenuDefinition, session: Session, node: AskNode) -> list[tuple[str, Any]]:
    """(key, label) pairs to show: static choices' texts or the numbered list items."""
    if node.choices:
        return [(c.key, c) for c in node.choices]
    return list(zip(item_keys(definition), items(session, node) or [], strict=False))


def wait(definition: MenuDefinition, session: Session, node: AskNode) -> Wait:
    if node.digits is not None and READBACK not in session.vars:
        low, high, star = node.digits.min, node.digits.max, node.digits.allow_star
    else:
        keys = [k for k, _ in options(definition, session, node)] or ["1"]
        low, high, star = 1, max(len(k) for k in keys), False
    return Wait(low, high, star, node.first_timeout_s, node.inter_timeout_s)


def prompt(
    definition: MenuDefinition, session: Session, node: AskNode, before: Parts, *, short: bool
) -> Step:
    """Render the question (after ``before``, e.g. 'invalid entry') and wait."""
    if short and node.short is not None:  # the recording says the long text: not for this
        question, recorded = node.short, None
    else:
        question, recorded = node.text, node.prompt
    parts = session.pending + before + text(definition, session, question, recorded)
    fmt = definition.messages.get(f"item_{session.channel}") or definition.messages["item_ussd"]
    tpl = fmt.get(session.lang) or fmt[definition.default_lang]
    for key, option in options(definition, session, node):
        if node.choices:
            label_tpl = option.text.get(session.lang) or option.text[definition.default_lang]
            name, item = render_str(label_tpl, scope(session)), {}
        else:
            name, item = str(option.get("name", "")), option
        parts += render_parts(tpl, scope(session, n=key, name=name, item=item))
    if node.show_operator and definition.keys.operator:
        label = render_str(definition.message("operator_option", session.lang), scope(session))
        key = definition.keys.operator
        parts += render_parts(tpl, scope(session, n=key, name=label, item={}))
    return Step(session.evolve(pending=()), output=Output(parts, wait(definition, session, node)))


def readback(definition: MenuDefinition, session: Session, node: AskNode, before: Parts) -> Step:
    """Read the entry back and wait for 1 (confirm) or 2 (enter again)."""
    value = str(session.vars.get(READBACK, ""))
    parts = session.pending + before + message(definition, session, "readback", value=value)
    out = Output(parts, Wait(1, 1, False, node.first_timeout_s, node.inter_timeout_s))
    return Step(session.evolve(pending=()), output=out)
