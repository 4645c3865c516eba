"""Golden cases for ``ussd.decide.decide``: one JSON file per case in ``hops/``.

A case holds the input (the caller's ``record`` as stored, the gateway's ``hop``, ``now``,
optional ``rules``) and the ``expected`` decision. For a decision that steps the menu
(``begin``/``step``) a case may add ``menu``: the session and screen the menu answers, and then
``expected_record`` is the record the gateway would store.

To add a case, write its input part and run

    .venv/bin/python tests/ussd/test_decide.py --update

which (re)writes ``expected`` and ``expected_record`` of every case from the code as it is:
review the diff before committing it.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if __name__ == "__main__":  # run as a script: import the project from this checkout
    sys.path.insert(0, str(ROOT))

from menus.types import Output, Say, Session, Wait  # noqa: E402
from ussd.decide import (  # noqa: E402
    Begin,
    Decision,
    Hop,
    HopRules,
    Outcome,
    Refuse,
    Replay,
    Save,
    Step,
    decide,
)
from ussd.inputs import InputKind  # noqa: E402
from ussd.paging import ScreenLimits  # noqa: E402
from ussd.sessions import UssdRecord  # noqa: E402

CASES = Path(__file__).resolve().parent / "hops"
NAMES = {Replay: "replay", Refuse: "refuse", Save: "save", Begin: "begin", Step: "step"}


def record_in(data: dict[str, Any] | None) -> UssdRecord | None:
    if data is None:
        return None
    return UssdRecord.from_dict(data, int(data.get("hop", 0)))


def record_out(record: UssdRecord | None) -> dict[str, Any] | None:
    return None if record is None else {**record.to_dict(), "hop": record.hop}


def rules_in(data: dict[str, Any] | None) -> HopRules:
    data = dict(data or {})
    if "limits" in data:
        data["limits"] = ScreenLimits(**data["limits"])
    return HopRules(**data)


def decision_out(decision: Decision) -> dict[str, Any]:
    """Every field of the decision, plus its outcome and input kind (class-level on some)."""
    out: dict[str, Any] = {"do": NAMES[type(decision)], "outcome": str(decision.outcome),
                           "input": str(decision.input)}
    for f in fields(decision):
        value = getattr(decision, f.name)
        if isinstance(value, UssdRecord) or (value is None and f.name == "prev"):
            value = record_out(value)
        elif isinstance(value, (Outcome, InputKind)):
            value = str(value)
        out[f.name] = value
    return out


def menu_answer(menu: dict[str, Any]) -> tuple[Session, Output]:
    """The menu's answer, given as a session and a screen of lines (``ends``: no input after)."""
    output = Output(tuple(Say(line) for line in menu["screen"]),
                    None if menu.get("ends") else Wait())
    return Session.from_dict(menu["session"]), output


def run(case: dict[str, Any]) -> tuple[Decision, dict[str, Any] | None]:
    hop = Hop(**case["hop"])
    rules = rules_in(case.get("rules"))
    decision = decide(record_in(case["record"]), hop, float(case["now"]), rules)
    then = None
    if "menu" in case:
        assert isinstance(decision, (Begin, Step)), "a menu answer only follows begin/step"
        then = record_out(decision.record(*menu_answer(case["menu"]), rules.limits))
    return decision, then


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


PATHS = sorted(CASES.glob("*.json"))


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_golden_case(path: Path) -> None:
    case = load(path)
    decision, then = run(case)
    assert decision_out(decision) == case["expected"]
    assert then == case.get("expected_record")


def test_the_cases_cover_every_decision_and_outcome() -> None:
    """Every kind of decision and every outcome ``decide`` can give has a case."""
    seen = [run(load(path))[0] for path in PATHS]
    assert {type(d) for d in seen} == set(NAMES)
    decided = set(Outcome) - {Outcome.BUSY, Outcome.ERROR}  # those two come from the adapters
    assert {d.outcome for d in seen} == decided


def test_a_decision_is_a_value() -> None:
    """Deciding twice gives equal decisions and changes neither the record nor the hop."""
    case = load(CASES / "continuation.json")
    record, hop = record_in(case["record"]), Hop(**case["hop"])
    first = decide(record, hop, float(case["now"]))
    assert first == decide(record, hop, float(case["now"]))
    assert record_out(record) == case["record"]
    with pytest.raises(AttributeError):
        first.value = "9"  # type: ignore[misc]


def update() -> int:
    changed = 0
    for path in PATHS:
        case = load(path)
        decision, then = run(case)
        new = {**case, "expected": decision_out(decision)}
        if then is not None:
            new["expected_record"] = then
        if new != case:
            changed += 1
        path.write_text(json.dumps(new, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"{len(PATHS)} cases, {changed} rewritten")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: {sys.argv[0]} --update  (rewrites the expected part of every case)")
    sys.exit(update())
