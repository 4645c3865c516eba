"""Rendering for the engine: template scope, list numbering, questions and input waits.

Pure helpers shared by ``menus.engine`` (entering nodes) and ``menus._answer`` (handling input).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Mapping
from typing import Any

from menus._model import AskNode, Keys, MenuDefinition, Text
from menus.template import Template, render_parts, render_str
from menus.types import Output, Say, SayDigits, Session, Step, Wait

Parts = tuple[Say | SayDigits, ...]
READBACK = "_readback"  # session var holding an entry waiting for 1 confirm / 2 re-enter


def scope(
    session: Session, vars: Mapping[str, Any] | None = None, /, **extra: Any
) -> dict[str, Any]:
    """What templates may name: the caller, channel and language, the session's ``vars`` (or
    ``vars`` given here, about to become the session's) and ``extra``."""
    return {
        "msisdn": session.msisdn,
        "channel": session.channel,
        "lang": session.lang,
        **(session.vars if vars is None else vars),
        **extra,
    }


def slots(session: Session) -> bool:
    """Whether the session's parts need ``Say.slots`` (voice plays a sentence with values as
    pieces); USSD shows the text alone (``render_parts(slots=False)``)."""
    return session.channel != "ussd"


def _pick(definition: MenuDefinition, session: Session, tpl: Text) -> Template:
    return definition.pick(tpl, session.lang)


def text(definition: MenuDefinition, session: Session, tpl: Text, prompt: str | None) -> Parts:
    return render_parts(_pick(definition, session, tpl), scope(session), prompt,
                        slots=slots(session))


def message(definition: MenuDefinition, session: Session, name: str, **extra: Any) -> Parts:
    return render_parts(definition.message(name, session.lang), scope(session, **extra),
                        slots=slots(session))


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
    keys = _first_item_keys(definition.keys)
    yield from keys
    taken = definition.keys.taken()
    n = int(keys[-1])
    while True:
        n += 1
        if str(n) not in taken:
            yield str(n)


@functools.lru_cache(maxsize=64)
def _first_item_keys(keys: Keys, count: int = 40) -> tuple[str, ...]:
    """The first ``count`` list keys, worked out once per key set (every list screen needs
    them, and rendering lists is the bulk of an engine step)."""
    taken = keys.taken()
    return tuple(itertools.islice((str(n) for n in itertools.count(1) if str(n) not in taken),
                                  count))


def options(definition: MenuDefinition, session: Session, node: AskNode) -> list[tuple[str, Any]]:
    """(key, label) pairs to show: static choices' texts or the numbered list items."""
    if node.choices:
        return [(c.key, c) for c in node.choices if c.shown(session.channel, session.lang)]
    found = items(session, node) or []
    keys = _first_item_keys(definition.keys)
    if len(found) <= len(keys):
        return list(zip(keys, found, strict=False))
    return list(zip(item_keys(definition), found, strict=False))


def wait(
    definition: MenuDefinition,
    session: Session,
    node: AskNode,
    shown: list[tuple[str, Any]] | None = None,
) -> Wait:
    """How to collect the answer; ``shown``: the options already worked out by the caller."""
    longer = 0  # a code after "*": voice collects more keys only when the first is "*"
    if node.digits is not None and READBACK not in session.vars:
        low, high, star = node.digits.min, node.digits.max, node.digits.allow_star
    else:
        if shown is None:
            shown = options(definition, session, node)
        keys = [k for k, _ in shown] or ["1"]
        low, high, star = 1, max(len(k) for k in keys), False
        if node.code is not None and READBACK not in session.vars:
            longer = node.code.max + 1
    return Wait(low, high, star, node.first_timeout_s, node.inter_timeout_s, longer)


def prompt(
    definition: MenuDefinition, session: Session, node: AskNode, before: Parts, *, short: bool
) -> Step:
    """Render the question (after ``before``, e.g. 'invalid entry') and wait."""
    if short and node.short is not None:  # the recording says the long text: not for this
        question, recorded = node.short, None
    else:
        question, recorded = node.text, node.prompt
    base = scope(session)  # built once: every option line renders in it
    keep = slots(session)
    parts = session.pending + before + render_parts(_pick(definition, session, question), base,
                                                    recorded, slots=keep)
    fmt = definition.messages.get(f"item_{session.channel}") or definition.messages["item_ussd"]
    tpl = definition.pick(fmt, session.lang)
    shown = options(definition, session, node)
    for key, option in shown:
        if node.choices:
            label_tpl = definition.pick(option.text, session.lang)
            name, item = render_str(label_tpl, base), {}
        else:  # a screen may show an item's short form (a date list fits one USSD page)
            shown_name = option.get("short") if session.channel == "ussd" else None
            name, item = str(shown_name or option.get("name", "")), option
        parts += render_parts(tpl, {**base, "n": key, "name": name, "item": item}, slots=keep)
    if node.show_operator and definition.keys.operator:
        label = render_str(definition.message("operator_option", session.lang), base)
        key = definition.keys.operator
        parts += render_parts(tpl, {**base, "n": key, "name": label, "item": {}}, slots=keep)
    out = Output(parts, wait(definition, session, node, shown))
    return Step(_flushed(session), output=out)


def _flushed(session: Session) -> Session:
    """``session`` with its pending parts sent (the same object when none were waiting)."""
    return session.evolve(pending=()) if session.pending else session


def readback(definition: MenuDefinition, session: Session, node: AskNode, before: Parts) -> Step:
    """Read the entry back and wait for 1 (confirm) or 2 (enter again)."""
    value = str(session.vars.get(READBACK, ""))
    parts = session.pending + before + message(definition, session, "readback", value=value)
    out = Output(parts, Wait(1, 1, False, node.first_timeout_s, node.inter_timeout_s))
    return Step(_flushed(session), output=out)
