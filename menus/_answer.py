"""What an ``ask`` does with the caller's keys: global keys, matching, read-back and retries.

Semantics (docs/menus.md "Entry rules"): separate no-input and no-match counters per node, an
escalating hint per count, the short question on re-asks and the on-max action at the limit;
global keys (back, operator, repeat) unless the node takes them as input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from menus._builtins import on_max_target
from menus._model import AskNode, MenuDefinition
from menus._render import READBACK, message, options, prompt, readback, text
from menus.errors import MenuError
from menus.types import Digits, NoInput, Session, Step

Validators = Mapping[str, Callable[[str], bool]]
Run = Callable[[MenuDefinition, Session, str], Step]


def _push(definition: MenuDefinition, session: Session, node_id: str) -> Session:
    return session.evolve(history=_pushed(definition, session, node_id))


def _pushed(definition: MenuDefinition, session: Session, node_id: str) -> tuple[str, ...]:
    """The back stack with ``node_id`` on top (capped)."""
    cap = definition.keys.history
    return (*session.history, node_id)[-cap:] if cap else ()


def _is_global(node: AskNode, value: str, key: str, in_readback: bool) -> bool:
    """A global key counts unless this digits entry could take it as (part of) its value."""
    if not key or value != key:
        return False
    return node.digits is None or in_readback or len(key) < node.digits.min


def answer(
    definition: MenuDefinition,
    session: Session,
    node: AskNode,
    inp: Digits | NoInput,
    validators: Validators,
    run: Run,
) -> Step:
    in_readback = READBACK in session.vars
    if isinstance(inp, NoInput):
        return retry(definition, session, node, "noinput", run)
    value = inp.value.strip()
    if value.endswith("#") and len(value) > 1:
        value = value[:-1]  # '#' ends variable-length entry and is never part of it
    keys = definition.keys
    star_is_input = node.digits is not None and node.digits.allow_star and not in_readback
    if keys.back and value == keys.back and not star_is_input:
        return back(definition, session, node, run)
    if _is_global(node, value, keys.operator, in_readback):
        return run(definition, _push(definition, session, node.id), keys.operator_to)
    if _is_global(node, value, keys.repeat, in_readback):
        if in_readback:
            return readback(definition, session, node, ())
        return prompt(definition, session, node, (), short=False)
    if in_readback:
        return _confirm(definition, session, node, value, run)
    target: str | None = None
    saved: dict[str, Any] = {}
    if node.choices:
        target = next(
            (
                c.next
                for c in node.choices
                if c.key == value and c.shown(session.channel, session.lang)
            ),
            None,
        )
    elif node.list_var is not None:
        chosen = dict(options(definition, session, node)).get(value)
        if chosen is not None:
            target, saved = node.next, {node.save or node.list_var: dict(chosen)}
        elif node.code is not None and (code := code_entry(node, value)) is not None:
            target, saved = node.code.next, {node.code.save: code}
    elif node.digits is not None:
        entry = digits_entry(node, value, validators)
        if entry is not None and node.digits.readback:
            session = session.evolve(vars={**session.vars, READBACK: entry})
            return readback(definition, session, node, ())
        if entry is not None:
            target, saved = node.next, {node.save or node.id: entry}
    if target is None:
        return retry(definition, session, node, "nomatch", run)
    history = _pushed(definition, session, node.id)  # one copy for the push and the answer
    return run(definition, session.evolve(history=history, vars={**session.vars, **saved}), target)


def _confirm(
    definition: MenuDefinition, session: Session, node: AskNode, value: str, run: Run
) -> Step:
    """1 keeps the entry read back, 2 asks the question again, anything else is a no-match."""
    entry = session.vars[READBACK]
    rest = {k: v for k, v in session.vars.items() if k != READBACK}
    if value == "1":
        assert node.next is not None
        saved = {**rest, node.save or node.id: entry}
        return run(definition, _push(definition, session.evolve(vars=saved), node.id), node.next)
    if value == "2":
        return prompt(definition, session.evolve(vars=rest), node, (), short=False)
    return retry(definition, session, node, "nomatch", run)


def code_entry(node: AskNode, value: str) -> str | None:
    """A code keyed at a list ask (``*12``, or ``12`` when it is no option): its digits, or
    None when the entry is no code of the allowed length."""
    spec = node.code
    assert spec is not None
    code = value[1:] if value.startswith("*") else value
    if code.isdigit() and code.isascii() and spec.min <= len(code) <= spec.max:
        return code
    return None


def digits_entry(node: AskNode, value: str, validators: Validators) -> str | None:
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


def retry(
    definition: MenuDefinition, session: Session, node: AskNode, kind: str, run: Run
) -> Step:
    """Count a no-input or no-match; re-ask with a hint, or take the on-max action."""
    key = f"{node.id}.{kind}"
    count = session.counters.get(key, 0) + 1
    limit = node.max_noinput if kind == "noinput" else node.max_nomatch
    if count >= limit:
        return run(definition, session, on_max_target(node.on_max))
    session = session.evolve(counters={**session.counters, key: count})
    hints = node.silence if kind == "noinput" else node.invalid
    if hints:
        hint = text(definition, session, hints[min(count, len(hints)) - 1], None)
    else:
        hint = message(definition, session, "noinput" if kind == "noinput" else "invalid")
    if READBACK in session.vars:
        return readback(definition, session, node, hint)
    return prompt(definition, session, node, hint, short=True)


def back(definition: MenuDefinition, session: Session, node: AskNode, run: Run) -> Step:
    """Go to the previous question; with nothing to go back to, ask this one again."""
    if not session.history:
        rest = {k: v for k, v in session.vars.items() if k != READBACK}
        return prompt(definition, session.evolve(vars=rest), node, (), short=False)
    previous = session.history[-1]
    return run(definition, session.evolve(history=session.history[:-1]), previous)
