"""The scripted caller's steps for ``ivr.simulator`` (see its docstring for their meaning)."""

from __future__ import annotations

from dataclasses import dataclass

from ivr.simulator_rules import Press


@dataclass(frozen=True, slots=True)
class TypeAhead:
    """Keys pressed at once: they end the next prompt that accepts them and then feed GET DATA."""

    keys: str


@dataclass(frozen=True, slots=True)
class Keys:
    """Keys typed once the next GET DATA listens: the first after ``after`` s, then each ``gap``."""

    keys: str
    after: float = 0.0
    gap: float = 0.0

    def presses(self) -> list[Press]:
        return [(k, self.after if i == 0 else self.gap) for i, k in enumerate(self.keys)]


@dataclass(frozen=True, slots=True)
class Dial:
    """What the next ``EXEC Dial`` gives: DIALSTATUS and, when answered, the talk time."""

    status: str = "ANSWER"
    talk_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Garbage:
    """A line that is not AGI, written before the next reply."""

    line: str


@dataclass(frozen=True, slots=True)
class _Marker:
    name: str

    def __repr__(self) -> str:
        return self.name


SILENCE = _Marker("SILENCE")
HANGUP = _Marker("HANGUP")
CallerStep = str | Keys | TypeAhead | Dial | Garbage | _Marker
