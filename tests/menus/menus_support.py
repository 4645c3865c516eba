"""Helpers for menu tests: canned hospital data and a synchronous effect loop."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from booking.idcard import is_valid_resident_id
from menus.definition import MenuDefinition
from menus.engine import step
from menus.types import Effect, EffectResult, Input, Output, Session

BOOKING_YAML = Path(__file__).resolve().parents[2] / "config" / "menus" / "booking.yaml"
VALIDATORS = {"resident_id": is_valid_resident_id}
GOOD_ID = "11010519491231002X"  # a well-formed example ID (check character X)
GOOD_ID_KEYED = "11010519491231002*"

DEPTS = [{"id": "nk", "name": "内科"}, {"id": "wk", "name": "外科"}, {"id": "ek", "name": "儿科"}]
DAYS = [
    {"id": "2026-11-26", "name": "11月26日 星期四"},
    {"id": "2026-11-27", "name": "11月27日 星期五"},
]
PERIODS = [{"id": "am", "name": "上午", "left": 3}, {"id": "pm", "name": "下午", "left": 1}]
TCODE = "4821937065"
MINE = [
    {"id": TCODE, "name": "内科 11月26日 上午"},
    {"id": "1112223334", "name": "眼科 11月27日 下午"},
]
REGISTERED = [{"id": GOOD_ID, "name": "尾号002X"}]
MAIN = {"id": "main", "name": "市一", "full": "市第一人民医院", "code": "1", "district": "福田区"}
SINGLE = {"mode": "single", "hospital": MAIN, "recent": [], "entry": ""}  # no hospital question

Effects = Callable[[Effect], EffectResult]


def canned(**override: EffectResult) -> Effects:
    """Effect results a hospital with places would give; ``override`` replaces some by name."""
    results = {
        "hospital_start": EffectResult(ok=True, value=SINGLE),
        "departments": EffectResult(ok=True, value=DEPTS),
        "open_days": EffectResult(ok=True, value=DAYS),
        "sessions": EffectResult(ok=True, value=PERIODS),
        "book": EffectResult(ok=True, value={"tcode": TCODE, "dept_name": "内科"}),
        "registered_ids": EffectResult(ok=True, value=[]),
        "my_bookings": EffectResult(ok=True, value=MINE),
        "cancel": EffectResult(ok=True, value={"tcode": TCODE}),
        "register": EffectResult(ok=True, value={}),
        **override,
    }
    return lambda effect: results[effect.name]


def drive(
    menu: MenuDefinition, session: Session, inp: Input, effects: Effects
) -> tuple[Session, Output, list[Effect]]:
    """Step until an output, answering effects from ``effects``; returns what was asked for."""
    seen: list[Effect] = []
    for _ in range(30):
        result = step(menu, session, inp, validators=VALIDATORS)
        session = result.session
        if result.output is not None:
            return session, result.output, seen
        assert result.effect is not None
        seen.append(result.effect)
        inp = effects(result.effect)
    raise AssertionError("no output after 30 effects")


def rewire(menu: MenuDefinition, node_id: str, **changes: object) -> MenuDefinition:
    """The menu with one node changed, skipping load checks (to reach the engine's guards)."""
    import dataclasses

    node = dataclasses.replace(menu.nodes[node_id], **changes)
    return dataclasses.replace(menu, nodes={**menu.nodes, node_id: node})
