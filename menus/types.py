"""Values that cross the boundary between the menu engine and the channels.

The engine is a pure function ``step(definition, session, input) -> Step``. Channels (ivr/, ussd/)
turn bytes into the inputs below, render ``Output`` and run ``Effect``s through booking; the result
of an effect comes back as the next input (``EffectResult``), so the engine never calls booking.
Everything here is plain, frozen data and JSON-serialisable through ``to_dict``/``from_dict``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any

# ---------------------------------------------------------------- inputs (what happened)


@dataclass(frozen=True, slots=True)
class Start:
    """A new session begins (a USSD dial, an answered call)."""


@dataclass(frozen=True, slots=True)
class Digits:
    """Keys the caller entered (DTMF) or the text of one USSD reply. ``*`` and ``#`` may appear."""

    value: str


@dataclass(frozen=True, slots=True)
class NoInput:
    """The caller said nothing before the timeout."""


@dataclass(frozen=True, slots=True)
class HangUp:
    """The caller hung up or the gateway ended the session."""


@dataclass(frozen=True, slots=True)
class EffectResult:
    """What running the last ``Effect`` gave: ``ok`` with ``value`` or not ok with ``error``."""

    ok: bool
    value: Any = None
    error: str | None = None  # a stable code, e.g. "full", "duplicate", "timeout"


Input = Start | Digits | NoInput | HangUp | EffectResult

# ---------------------------------------------------------------- outputs (what to do)


@dataclass(frozen=True, slots=True)
class Slot:
    """A value a template put into a sentence, as rendered (``text``) with its filter."""

    text: str
    filter: str | None = None


@dataclass(frozen=True, slots=True)
class Say:
    """A piece of speech/text in the session's language; ``prompt`` names a recorded file.

    ``bargein=False``: voice plays it to the end, keys pressed meanwhile are dropped (legal
    notices); other channels ignore it. ``slots``: for a sentence with call data, its static
    parts (str) and values (``Slot``) in order, so voice can play it as pieces (``ivr.compose``);
    empty for a static sentence. Not part of equality: the text is what was said.
    """

    text: str
    prompt: str | None = None
    bargein: bool = True
    slots: tuple[str | Slot, ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class SayDigits:
    """A code, phone or ID number to be read digit by digit (voice) or shown as is (USSD)."""

    digits: str


@dataclass(frozen=True, slots=True)
class Wait:
    """How to collect the next input. ``allow_star``: ``*`` is input (an ID's X), not 'back'.
    ``star_digits``: a ``*`` as the first key starts a longer entry of up to this many keys,
    the ``*`` included (a code keyed instead of an option number); 0: no such entry."""

    min_digits: int = 1
    max_digits: int = 1
    allow_star: bool = False
    first_timeout_s: float = 5.0
    inter_timeout_s: float = 3.0
    star_digits: int = 0


@dataclass(frozen=True, slots=True)
class Output:
    """What the caller sees/hears now. ``wait is None`` means the session ends after this."""

    parts: tuple[Say | SayDigits, ...]
    wait: Wait | None

    @property
    def ends(self) -> bool:
        return self.wait is None

    def text(self) -> str:
        """The output as one screen of text (USSD, logs, simulators)."""
        return "\n".join(p.text if isinstance(p, Say) else p.digits for p in self.parts)


@dataclass(frozen=True, slots=True)
class Effect:
    """A request to the world, e.g. ``Effect("book", {...})``. Names are listed in docs/menus.md."""

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- session and step


@dataclass(frozen=True, slots=True)
class Session:
    """Everything the engine needs to continue a dialogue, on any node of the cluster."""

    menu: str
    version: str  # content hash of the definition the session started on
    node: str
    lang: str = "zh"
    channel: str = "ussd"  # "ussd" | "ivr"
    msisdn: str = ""  # E.164 digits without '+', '' when withheld
    vars: Mapping[str, Any] = field(default_factory=dict)
    counters: Mapping[str, int] = field(default_factory=dict)
    pending: tuple[Say | SayDigits, ...] = ()
    history: tuple[str, ...] = ()  # back stack of node ids
    ended: bool = False

    def evolve(self, **changes: Any) -> Session:
        """A copy with ``changes`` (like ``dataclasses.replace``, which was a large part of an
        engine step: the engine evolves a session several times per input).

        The copy's slots are filled through their descriptors: a frozen dataclass's
        ``__init__`` goes through ``object.__setattr__`` by name per field, which is slower."""
        if not changes.keys() <= _SESSION_FIELDS:
            return replace(self, **changes)  # raises the usual TypeError for a bad name
        get = changes.get
        new = _new_session(Session)
        _SET.menu(new, get("menu", self.menu))
        _SET.version(new, get("version", self.version))
        _SET.node(new, get("node", self.node))
        _SET.lang(new, get("lang", self.lang))
        _SET.channel(new, get("channel", self.channel))
        _SET.msisdn(new, get("msisdn", self.msisdn))
        _SET.vars(new, get("vars", self.vars))
        _SET.counters(new, get("counters", self.counters))
        _SET.pending(new, get("pending", self.pending))
        _SET.history(new, get("history", self.history))
        _SET.ended(new, get("ended", self.ended))
        return new

    def to_dict(self) -> dict[str, Any]:
        return {
            "menu": self.menu,
            "version": self.version,
            "node": self.node,
            "lang": self.lang,
            "channel": self.channel,
            "msisdn": self.msisdn,
            "vars": dict(self.vars),
            "counters": dict(self.counters),
            "pending": [_part_to_dict(p) for p in self.pending],
            "history": list(self.history),
            "ended": self.ended,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Session:
        return cls(
            menu=data["menu"],
            version=data["version"],
            node=data["node"],
            lang=data.get("lang", "zh"),
            channel=data.get("channel", "ussd"),
            msisdn=data.get("msisdn", ""),
            vars=dict(data.get("vars", {})),
            counters=dict(data.get("counters", {})),
            pending=tuple(_part_from_dict(p) for p in data.get("pending", ())),
            history=tuple(data.get("history", ())),
            ended=bool(data.get("ended", False)),
        )


_SESSION_FIELDS = frozenset(Session.__dataclass_fields__)
assert len(_SESSION_FIELDS) == 11, "Session.evolve names every field: add the new one there"
_new_session = object.__new__
# the slot setters of Session, by field name: _SET.node(session, value)
_SET = SimpleNamespace(**{name: Session.__dict__[name].__set__ for name in _SESSION_FIELDS})


@dataclass(frozen=True, slots=True)
class Step:
    """One engine step: either an ``effect`` to run (feed back an EffectResult) or an ``output``."""

    session: Session
    output: Output | None = None
    effect: Effect | None = None


def _part_to_dict(part: Say | SayDigits) -> dict[str, Any]:
    if isinstance(part, SayDigits):
        return {"digits": part.digits}
    out: dict[str, Any] = {"text": part.text, "prompt": part.prompt}
    if not part.bargein:
        out["bargein"] = False
    if part.slots:
        out["slots"] = [s if isinstance(s, str) else [s.text, s.filter] for s in part.slots]
    return out


def _part_from_dict(data: Mapping[str, Any]) -> Say | SayDigits:
    if "digits" in data:
        return SayDigits(data["digits"])
    slots = tuple(
        s if isinstance(s, str) else Slot(str(s[0]), s[1]) for s in data.get("slots", ())
    )
    return Say(data["text"], data.get("prompt"), bool(data.get("bargein", True)), slots)
