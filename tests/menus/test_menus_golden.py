"""Golden dialogues: a menu, canned effect results and caller inputs → every output and effect.

Each ``cases/*.yaml`` holds the inputs (``turns[].input``) and the recorded transcript. After a
deliberate change in texts or behaviour, regenerate with ``MENUS_UPDATE_GOLDEN=1 pytest
tests/menus/test_menus_golden.py`` and review the diff like code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from menus_support import VALIDATORS

from menus.definition import load_menu
from menus.engine import start, step
from menus.types import Digits, EffectResult, HangUp, Input, NoInput, Output, Say, Start

ROOT = Path(__file__).resolve().parents[2]
CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))
UPDATE = os.environ.get("MENUS_UPDATE_GOLDEN") == "1"


def _input(raw: str) -> Input:
    named: dict[str, Input] = {"start": Start(), "noinput": NoInput(), "hangup": HangUp()}
    return named.get(raw) or Digits(raw.removeprefix("digits:"))


def _render(output: Output) -> list[str]:
    return [p.text if isinstance(p, Say) else f"<digits {p.digits}>" for p in output.parts]


def _play(case: dict[str, Any]) -> list[dict[str, Any]]:
    menu = load_menu(ROOT / case["menu"])
    queues = {name: list(results) for name, results in case.get("effects", {}).items()}
    session = start(menu, channel=case["channel"], msisdn="8613800000000", lang=case.get("lang"))
    turns = []
    for turn in case["turns"]:
        inp, effects = _input(str(turn["input"])), []
        while True:
            result = step(menu, session, inp, validators=VALIDATORS)
            session = result.session
            if result.output is not None:
                break
            assert result.effect is not None
            effects.append({"name": result.effect.name, "args": dict(result.effect.args)})
            queue = queues[result.effect.name]
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
            inp = EffectResult(answer["ok"], answer.get("value"), answer.get("error"))
        wait = result.output.wait
        record: dict[str, Any] = {"input": turn["input"]}
        if effects:
            record["effects"] = effects
        record["say"] = _render(result.output)
        record["wait"] = (
            None if wait is None else [wait.min_digits, wait.max_digits, wait.allow_star]
        )
        turns.append(record)
    return turns


class _Dumper(yaml.SafeDumper):
    """Short lists of scalars (waits, names) on one line, so diffs stay readable."""


def _list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flat = all(not isinstance(v, dict | list) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


def _dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    flat = all(not isinstance(v, dict | list) for v in data.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flat)


_Dumper.add_representer(list, _list)
_Dumper.add_representer(dict, _dict)


def _rewrite(path: Path, case: dict[str, Any]) -> None:
    text = path.read_text(encoding="utf-8")
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    body = yaml.dump(case, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)
    path.write_text(header + body, encoding="utf-8")


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_dialogue(path: Path) -> None:
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    played = _play(case)
    if UPDATE:
        case["turns"] = played
        _rewrite(path, case)
    assert played == case["turns"]


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 3
