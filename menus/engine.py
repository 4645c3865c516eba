"""The menu engine: ``step(definition, session, input) -> Step``, pure and synchronous.

No I/O and no Twisted. An ``act`` node stops the step with an ``Effect``; the host runs it and
feeds the result back as the next input (``EffectResult``). An ``ask`` node stops it with an
``Output`` that says how to collect the next input. ``say`` parts wait in ``session.pending`` and
go out with the next output, so one USSD screen or one voice turn carries them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from menus.definition import (
    BUILTIN_ENDS,
    ActNode,
    AskNode,
    EndNode,
    MenuDefinition,
    SayNode,
    Text,
)
from menus.errors import MenuError
from menus.template import render_parts, render_str, render_value
from menus.types import (
    Digits,
    Effect,
    EffectResult,
    HangUp,
    Input,
    NoInput,
    Output,
    Say,
    SayDigits,
    Session,
    Start,
    Step,
    Wait,
)

__all__ = ["MAX_TRANSITIONS", "Validators", "fail", "start", "step"]

MAX_TRANSITIONS = 50  # nodes entered in one step before we call it a loop
Validators = Mapping[str, Callable[[str], bool]]
Parts = tuple[Say | SayDigits, ...]


def start(
    definition: MenuDefinition, *, channel: str, msisdn: str, lang: str | None = None
) -> Session:
    """A fresh session at the start node; feed it ``Start()`` to get the first output."""
    if lang not in definition.languages:
        lang = definition.default_lang
    return Session(
        menu=definition.name,
        version=definition.version,
        node=definition.start,
        lang=lang,
        channel=channel,
        msisdn=msisdn,
    )


def step(
    definition: MenuDefinition, session: Session, inp: Input, *, validators: Validators
) -> Step:
    """Advance ``session`` by one input; returns either an output or an effect to run."""
    if session.ended:
        return Step(session, output=Output((), None))
    if isinstance(inp, HangUp):
        return Step(session.evolve(ended=True, pending=()), output=Output((), None))
    node = definition.nodes.get(session.node)
    if node is None:  # a session from another version of the menu
        return fail(definition, session)
    if isinstance(node, AskNode) and isinstance(inp, Digits | NoInput):
        return _answer(definition, session, node, inp, validators)
    if isinstance(node, ActNode) and isinstance(inp, EffectResult):
        return _result(definition, session, node, inp)
    # Start, or an input the node does not wait for: (re)enter the node; an ask re-renders
    # with its counters kept, an act asks for its effect again.
    return _run(definition, session, node.id, reset=isinstance(inp, Start))


def fail(definition: MenuDefinition, session: Session) -> Step:
    """End the session with the menu's ``error`` message (used for broken sessions and loops)."""
    return _builtin_end(definition, session, "$error")


def _scope(session: Session, **extra: Any) -> dict[str, Any]:
    return {
        "msisdn": session.msisdn,
        "channel": session.channel,
        "lang": session.lang,
        **session.vars,
        **extra,
    }


def _text(definition: MenuDefinition, session: Session, text: Text, prompt: str | None) -> Parts:
    tpl = text.get(session.lang) or text[definition.default_lang]
    return render_parts(tpl, _scope(session), prompt)


def _run(definition: MenuDefinition, session: Session, target: str, *, reset: bool = True) -> Step:
    """Enter ``target`` and follow say-nodes until something waits (input, effect or the end)."""
    for _ in range(MAX_TRANSITIONS):
        if target in BUILTIN_ENDS:
            return _builtin_end(definition, session, target)
        node = definition.nodes[target]
        if reset or node.id != session.node:
            session = session.evolve(node=node.id, counters={})
        reset = True
        if isinstance(node, SayNode):
            session = session.evolve(
                pending=session.pending + _text(definition, session, node.text, node.prompt)
            )
            target = node.next
        elif isinstance(node, EndNode):
            parts = session.pending + _text(definition, session, node.text, node.prompt)
            return Step(session.evolve(pending=(), ended=True), output=Output(parts, None))
        elif isinstance(node, ActNode):
            scope = _scope(session)
            args = {k: render_value(t, scope) for k, t in node.args.items()}
            return Step(session, effect=Effect(node.effect, args))
        else:
            items = _items(session, node)
            if items is not None and not items:
                target = node.empty
                continue
            if node.id in session.history:  # came back round: the path is shorter again
                session = session.evolve(history=session.history[: session.history.index(node.id)])
            return _prompt(definition, session, node, ())
    raise MenuError(
        f"menu {definition.name!r}: node {session.node!r}: "
        f"more than {MAX_TRANSITIONS} transitions without waiting for input"
    )


def _builtin_end(definition: MenuDefinition, session: Session, target: str) -> Step:
    tpl = definition.message(BUILTIN_ENDS[target], session.lang)
    parts = session.pending + render_parts(tpl, _scope(session))
    return Step(session.evolve(pending=(), ended=True), output=Output(parts, None))


def _items(session: Session, node: AskNode) -> list[Mapping[str, Any]] | None:
    """The dynamic list of a ``list`` ask (bad entries dropped), or None for other asks."""
    if node.list_var is None:
        return None
    raw = session.vars.get(node.list_var)
    if not isinstance(raw, list | tuple):
        return []
    return [i for i in raw if isinstance(i, Mapping) and "id" in i and "name" in i]


def _options(session: Session, node: AskNode) -> list[tuple[str, Any]]:
    """(key, label) pairs to show: static choices' texts or the numbered list items."""
    if node.choices:
        return [(c.key, c) for c in node.choices]
    return [(str(n), item) for n, item in enumerate(_items(session, node) or [], start=1)]


def _wait(session: Session, node: AskNode) -> Wait:
    if node.digits is not None:
        low, high, star = node.digits.min, node.digits.max, node.digits.allow_star
    else:
        keys = [k for k, _ in _options(session, node)]
        low, high, star = 1, max((len(k) for k in keys), default=1), False
    return Wait(low, high, star, node.first_timeout_s, node.inter_timeout_s)


def _prompt(definition: MenuDefinition, session: Session, node: AskNode, before: Parts) -> Step:
    """Render the question (after ``before``, e.g. 'invalid entry') and wait."""
    parts = session.pending + before + _text(definition, session, node.text, node.prompt)
    fmt = definition.messages.get(f"item_{session.channel}") or definition.messages["item_ussd"]
    tpl = fmt.get(session.lang) or fmt[definition.default_lang]
    for key, option in _options(session, node):
        if node.choices:
            label_tpl = option.text.get(session.lang) or option.text[definition.default_lang]
            name, item = render_str(label_tpl, _scope(session)), {}
        else:
            name, item = str(option.get("name", "")), option
        parts += render_parts(tpl, _scope(session, n=key, name=name, item=item))
    return Step(session.evolve(pending=()), output=Output(parts, _wait(session, node)))


def _answer(
    definition: MenuDefinition,
    session: Session,
    node: AskNode,
    inp: Digits | NoInput,
    validators: Validators,
) -> Step:
    if isinstance(inp, NoInput):
        return _retry(definition, session, node, "noinput")
    value = inp.value.strip()
    if value.endswith("#") and len(value) > 1:
        value = value[:-1]  # '#' ends variable-length entry and is never part of it
    star_is_input = node.digits is not None and node.digits.allow_star
    if definition.keys.back and value == definition.keys.back and not star_is_input:
        return _back(definition, session, node)
    target: str | None = None
    saved: dict[str, Any] = {}
    if node.choices:
        target = next((c.next for c in node.choices if c.key == value), None)
    elif node.list_var is not None:
        items = _items(session, node) or []
        if value.isdigit() and 1 <= int(value) <= len(items):
            target, saved = node.next, {node.save or node.list_var: dict(items[int(value) - 1])}
    elif node.digits is not None:
        entry = _digits_entry(node, value, validators)
        if entry is not None:
            target, saved = node.next, {node.save or node.id: entry}
    if target is None:
        return _retry(definition, session, node, "nomatch")
    history = (
        (*session.history, node.id)[-definition.keys.history :] if definition.keys.history else ()
    )
    session = session.evolve(vars={**session.vars, **saved}, history=history)
    return _run(definition, session, target)


def _digits_entry(node: AskNode, value: str, validators: Validators) -> str | None:
    """The entry to save, or None when it has the wrong characters, length or fails validation."""
    spec = node.digits
    assert spec is not None
    allowed = set("0123456789*") if spec.allow_star else set("0123456789")
    if not value or not set(value) <= allowed or not spec.min <= len(value) <= spec.max:
        return None
    entry = value.replace("*", spec.star_as) if spec.allow_star else value
    if spec.validator is not None:
        check = validators.get(spec.validator)
        if check is None:
            raise MenuError(f"node {node.id!r}: validator {spec.validator!r} was not provided")
        try:
            ok = bool(check(entry))
        except Exception:  # a validator that raises rejects the entry, it never ends the call
            ok = False
        if not ok:
            return None
    return entry


def _retry(definition: MenuDefinition, session: Session, node: AskNode, kind: str) -> Step:
    """Count a no-input or no-match; re-ask with a hint, or leave by ``on_max`` at the limit."""
    key = f"{node.id}.{kind}"
    count = session.counters.get(key, 0) + 1
    limit = node.max_noinput if kind == "noinput" else node.max_nomatch
    if count >= limit:
        return _run(definition, session, node.on_max)
    session = session.evolve(counters={**session.counters, key: count})
    if kind == "nomatch" and node.invalid:
        hint = node.invalid[min(count, len(node.invalid)) - 1]  # escalate, then stay
    else:
        hint = definition.messages["noinput" if kind == "noinput" else "invalid"]
    return _prompt(definition, session, node, _text(definition, session, hint, None))


def _back(definition: MenuDefinition, session: Session, node: AskNode) -> Step:
    """Go to the previous question; with nothing to go back to, ask this one again."""
    if not session.history:
        return _prompt(definition, session, node, ())
    previous = session.history[-1]
    session = session.evolve(history=session.history[:-1])
    return _run(definition, session, previous)


def _result(
    definition: MenuDefinition, session: Session, node: ActNode, result: EffectResult
) -> Step:
    """Save an effect's value and go on, or route its error code through ``on_error``."""
    if result.ok:
        if node.save is not None:
            session = session.evolve(vars={**session.vars, node.save: result.value})
        return _run(definition, session, node.next)
    routes = node.on_error
    target = routes.get(result.error or "") or routes.get("default") or "$error"
    return _run(definition, session, target)
