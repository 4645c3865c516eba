"""The menu engine: ``step(definition, session, input) -> Step``, pure and synchronous.

No I/O and no Twisted. An ``act`` node stops the step with an ``Effect``; the host runs it and
feeds the result back as the next input (``EffectResult``). An ``ask`` node stops it with an
``Output`` that says how to collect the next input. ``say`` parts wait in ``session.pending`` and
go out with the next output, so one USSD screen or one voice turn carries them. ``route`` picks a
branch on session variables. Input handling at an ask lives in ``menus._answer``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sized
from typing import Any

from menus._answer import answer
from menus._model import (
    BACK_TARGET,
    BUILTIN_ENDS,
    ActNode,
    AskNode,
    Case,
    EndNode,
    MenuDefinition,
    RouteNode,
    SayNode,
)
from menus._render import READBACK, items, prompt, scope, slots, text
from menus.errors import MenuError
from menus.template import render_parts, render_value
from menus.types import (
    Digits,
    Effect,
    EffectResult,
    HangUp,
    Input,
    NoInput,
    Output,
    Session,
    Start,
    Step,
)

__all__ = ["MAX_TRANSITIONS", "Validators", "fail", "start", "step"]

MAX_TRANSITIONS = 50  # nodes entered in one step before we call it a loop
Validators = Mapping[str, Callable[[str], bool]]


def start(
    definition: MenuDefinition, *, channel: str, msisdn: str, lang: str | None = None,
    entry: str = "",
) -> Session:
    """A fresh session at the start node; feed it ``Start()`` to get the first output.
    ``entry``: what the entry point chose (``{entry}``, e.g. a hospital code in the dial)."""
    if lang is None or not definition.speaks(lang, channel):
        lang = definition.default_lang
    return Session(
        menu=definition.name,
        version=definition.version,
        node=definition.start,
        lang=lang,
        channel=channel,
        msisdn=msisdn,
        vars={"entry": entry} if entry else {},
    )


def step(
    definition: MenuDefinition, session: Session, inp: Input, *, validators: Validators
) -> Step:
    """Advance ``session`` by one input; returns either an output or an effect to run."""
    if session.ended:
        return Step(session, output=Output((), None))
    if isinstance(inp, HangUp):
        return Step(session.evolve(ended=True, pending=()), output=Output((), None))
    node = definition.node(session.node)
    if node is None:  # a session from another version of the menu
        return fail(definition, session)
    if isinstance(node, AskNode) and isinstance(inp, Digits | NoInput):
        return answer(definition, session, node, inp, validators, _enter)
    if isinstance(node, ActNode) and isinstance(inp, EffectResult):
        return _result(definition, session, node, inp)
    # Start, or an input the node does not wait for: (re)enter the node; an ask re-renders
    # with its counters kept, an act asks for its effect again.
    return _run(definition, session, node.id, reset=isinstance(inp, Start))


def fail(definition: MenuDefinition, session: Session) -> Step:
    """End the session with the menu's ``error`` message (used for broken sessions and loops)."""
    return _builtin_end(definition, session, "$error")


def _enter(definition: MenuDefinition, session: Session, target: str) -> Step:
    return _run(definition, session, target)


def _run(definition: MenuDefinition, session: Session, target: str, *, reset: bool = True) -> Step:
    """Enter ``target`` and follow nodes until something waits (input, effect or the end)."""
    for _ in range(MAX_TRANSITIONS):
        if target in BUILTIN_ENDS:
            return _builtin_end(definition, session, target)
        if target == BACK_TARGET:
            if session.history:
                target, history = session.history[-1], session.history[:-1]
                session = session.evolve(history=history)
            else:
                target = definition.start
            continue
        node = definition.node(target)
        if node is None:
            return fail(definition, session)
        if reset or node.id != session.node:
            rest = session.vars  # vars are never changed in place: share them unless trimmed
            if READBACK in rest:
                rest = {k: v for k, v in rest.items() if k != READBACK}
            session = session.evolve(node=node.id, counters={}, vars=rest)
        reset = True
        if isinstance(node, SayNode):
            parts = text(definition, session, node.text, node.prompt)
            session = session.evolve(pending=session.pending + parts)
            target = node.next
        elif isinstance(node, EndNode):
            parts = session.pending + text(definition, session, node.text, node.prompt)
            return Step(session.evolve(pending=(), ended=True), output=Output(parts, None))
        elif isinstance(node, RouteNode):
            target = _route(node, render_value(node.value, scope(session)))
        elif isinstance(node, ActNode):
            if node.lang is not None and definition.speaks(node.lang, session.channel):
                session = session.evolve(lang=node.lang)
            if node.effect is None:
                session = _assign(session, node, None)
                target = node.next
                continue
            names = scope(session)
            args = {k: render_value(t, names) for k, t in node.args.items()}
            return Step(session, effect=Effect(node.effect, args))
        else:
            found = items(session, node)
            if found is not None and not found:
                target = node.empty
                continue
            if node.id in session.history:  # came back round: the path is shorter again
                session = session.evolve(history=session.history[: session.history.index(node.id)])
            return prompt(definition, session, node, (), short=False)
    raise MenuError(
        f"menu {definition.name!r}: node {session.node!r}: "
        f"more than {MAX_TRANSITIONS} transitions without waiting for input"
    )


def _builtin_end(definition: MenuDefinition, session: Session, target: str) -> Step:
    tpl = definition.message(BUILTIN_ENDS[target], session.lang)
    parts = session.pending + render_parts(tpl, scope(session), slots=slots(session))
    return Step(session.evolve(pending=(), ended=True), output=Output(parts, None))


def _holds(case: Case, value: Any) -> bool:
    """One route test; values of the wrong shape simply fail the test."""
    as_text = "" if value is None else str(value)
    size = len(value) if isinstance(value, Sized) and not isinstance(value, str) else None
    if case.test == "equals":
        return as_text == case.arg
    if case.test == "not_equals":
        return as_text != case.arg
    if case.test == "in":
        return as_text in case.arg  # type: ignore[operator]
    if case.test == "empty":
        is_empty = value is None or as_text == "" or size == 0
        return is_empty == case.arg
    if case.test == "count":
        return size is not None and size == case.arg
    if case.test == "min_count":
        return size is not None and size >= case.arg  # type: ignore[operator]
    if case.test == "matches":
        assert isinstance(case.arg, re.Pattern)
        return case.arg.fullmatch(as_text) is not None
    raise MenuError(f"unknown route test {case.test!r}")


def _route(node: RouteNode, value: Any) -> str:
    return next((case.next for case in node.cases if _holds(case, value)), node.default)


def _assign(session: Session, node: ActNode, result: Any) -> Session:
    """Apply ``save`` and ``set`` after a successful effect (or a set-only act)."""
    updates: dict[str, Any] = {}
    if node.save is not None and node.effect is not None:
        updates[node.save] = result
    values = {**session.vars, **updates}
    extra = scope(session, values, result=result)
    for name, tpl in node.set.items():
        updates[name] = render_value(tpl, extra)
    return session.evolve(vars={**session.vars, **updates})


def _result(
    definition: MenuDefinition, session: Session, node: ActNode, result: EffectResult
) -> Step:
    """Save an effect's value and go on, or route its error code through ``on_error``."""
    if result.ok:
        return _run(definition, _assign(session, node, result.value), node.next)
    routes = node.on_error
    target = routes.get(result.error or "") or routes.get("default") or "$error"
    return _run(definition, session, target)
