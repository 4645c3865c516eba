"""Parsers for the nodes that decide without asking: ``act`` (effects, variables) and ``route``.

Route tests are a fixed, small vocabulary (no expressions, nothing evaluated): a menu file can
compare and count, never run code.
"""

from __future__ import annotations

import re

import yaml

from menus import _yaml as y
from menus._model import ActNode, Case, RouteNode
from menus._nodes import ID, Ctx, Entries, need, opt
from menus.template import Template

# test name -> what its argument must be
ROUTE_TESTS = {
    "equals": "string",
    "not_equals": "string",
    "in": "list",
    "empty": "bool",
    "count": "int",
    "min_count": "int",
    "matches": "regex",
}


def parse_act(c: Ctx, nid: str, e: Entries, w: y.Where, n: yaml.Node) -> ActNode:
    effect: str | None = None
    if (effect_node := opt(e, "effect")) is not None:
        effect = y.string(effect_node, w, "effect")
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$", effect):
            raise w.error(effect_node, f"effect {effect!r} is not a valid name")
    elif "set" not in e and "lang" not in e:
        raise w.error(n, "an act needs an effect, set, or lang")
    lang: str | None = None
    if (lang_node := opt(e, "lang")) is not None:
        lang = y.string(lang_node, w, "lang")
        if lang not in c.languages and lang not in c.voice:
            raise w.error(lang_node, f"lang: language {lang!r} is not declared")
    args: dict[str, Template] = {}
    if (args_node := opt(e, "args")) is not None:
        for key, (_, value) in y.mapping(args_node, w, "args").items():
            args[key] = c.template(value, w, f"args.{key}")
    on_error: dict[str, str] = {}
    if (err_node := opt(e, "on_error")) is not None:
        for key, (_, value) in y.mapping(err_node, w, "on_error").items():
            on_error[key] = c.target(value, w, f"on_error.{key}")
    assigned: dict[str, Template] = {}
    if (set_node := opt(e, "set")) is not None:
        for key, (key_node, value) in y.mapping(set_node, w, "set").items():
            c.save(key_node, w)
            assigned[key] = c.template(value, w, f"set.{key}", frozenset({"result"}))
    save = opt(e, "save")
    return ActNode(
        id=nid,
        effect=effect,
        next=c.target(need(e, "next", w, n), w, "next"),
        args=args,
        save=c.save(save, w) if save is not None else None,
        on_error=on_error,
        set=assigned,
        lang=lang,
    )


def _case(c: Ctx, node: yaml.Node, w: y.Where, index: int) -> Case:
    cw = w.inside(f"case {index + 1}")
    e = y.mapping(node, cw, "a case")
    tests = [k for k in e if k in ROUTE_TESTS]
    unknown = set(e) - set(ROUTE_TESTS) - {"next"}
    if unknown:
        known = ", ".join(ROUTE_TESTS)
        raise cw.error(e[min(unknown)][0], f"unknown test {min(unknown)!r} (known: {known})")
    if len(tests) != 1:
        raise cw.error(node, "a case needs exactly one test and a next")
    test = tests[0]
    arg_node = e[test][1]
    kind = ROUTE_TESTS[test]
    arg: object
    if kind == "string":
        arg = y.string(arg_node, cw, test)
    elif kind == "list":
        arg = tuple(y.string(v, cw, test) for v in y.sequence(arg_node, cw, test))
    elif kind == "bool":
        arg = y.boolean(arg_node, cw, test)
    elif kind == "int":
        arg = y.integer(arg_node, cw, test)
    else:
        source = y.string(arg_node, cw, test)
        try:
            arg = re.compile(source)
        except re.error as err:
            raise cw.error(arg_node, f"matches: bad pattern ({err})") from None
    return Case(test, arg, c.target(need(e, "next", cw, node), cw, "next"))


def parse_route(c: Ctx, nid: str, e: Entries, w: y.Where, n: yaml.Node) -> RouteNode:
    cases = y.sequence(need(e, "cases", w, n), w, "cases")
    if not cases:
        raise w.error(e["cases"][1], "cases is empty")
    return RouteNode(
        id=nid,
        value=c.template(need(e, "value", w, n), w, "value"),
        cases=tuple(_case(c, case, w, i) for i, case in enumerate(cases)),
        default=c.target(need(e, "default", w, n), w, "default"),
    )


__all__ = ["ID", "ROUTE_TESTS", "parse_act", "parse_route"]
