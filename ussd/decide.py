"""What one USSD hop does, decided from the caller's record, the request and the time (pure).

``decide(record, hop, now)`` reads nothing and writes nothing: it returns one ``Decision``, and
``ussd.gateway`` carries it out (steps the menu for ``Begin``/``Step``, saves the new record,
answers). The rules in order:

- a gateway's retry of the last hop (AT: same session id and same cumulative text; others: the
  same hop number) gets the stored reply again (``Replay``) and nothing runs twice;
- a dial (no input) begins the menu (``Begin``), or, when the same caller broke off a dialogue
  with at least one step taken within ``resume_s``, offers to continue it (``Save``, OFFER);
- an input with no dialogue of this session, idle longer than ``timeout_s``, after the final
  screen, or that does not extend the last hop gets a notice (``Refuse``); on a node-local copy
  of the record the gateway re-reads Redis before refusing;
- the answer to a resume offer: ``1`` restores the old screen, ``2`` begins again;
- ``98``/``00`` on a paged screen turn the page (``Save``, PAGE): they never reach the menu;
- any other input steps the menu (``Step``).

Golden cases: tests/ussd/hops/ (``tests/ussd/test_decide.py --update`` rewrites them).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import ClassVar

from menus.types import Output, Session
from ussd.inputs import InputKind, input_kind, new_input
from ussd.paging import BACK_KEY, NEXT_KEY, ScreenLimits, paginate
from ussd.render import end_body, message, screen_lines
from ussd.sessions import UssdRecord

__all__ = ["Begin", "Decision", "Hop", "HopRules", "Outcome", "Refuse", "Replay", "Save", "Step",
           "decide"]

STALE_BODY = "stale request: text does not extend the previous hop"


class Outcome(StrEnum):
    """How a hop ended, for the logs, the metrics and the tests."""

    NEW = "new"  # the menu began (a dial, or "start over" after a resume offer)
    STEP = "step"  # the menu took the input
    PAGE = "page"  # 98/00 turned the page (or any key on an ending screen still being paged)
    RETRY = "retry"  # the gateway repeated the last hop: the stored reply again
    OFFER = "offer"  # a redial was offered to continue the broken-off dialogue
    RESUMED = "resumed"  # the offer was taken: the old screen again
    EXPIRED = "expired"  # no dialogue for this session, or idle past the timeout
    ENDED = "ended"  # an input after the final screen
    STALE = "stale"  # the text does not extend the last hop (409)
    BUSY = "busy"  # the hop ran past the gateway's patience (answered by the wire adapter)
    ERROR = "error"  # the hop failed (answered by the wire adapter)


@dataclass(frozen=True, slots=True)
class Hop:
    """One request as the gateway sent it.

    ``cumulative`` (AT convention): ``raw`` is every input so far joined by ``*`` (``''`` or
    None on the dial). Otherwise ``raw`` is the latest input alone (None on the dial), and
    ``seq`` the gateway's hop number when it sends one (a repeated ``seq`` is a retry).
    """

    session_id: str
    raw: str | None
    cumulative: bool = True
    seq: int | None = None
    entry: str = ""  # what the dial chose (``ussd.inputs.dialed_entry``): the menu's {entry}


@dataclass(frozen=True, slots=True)
class HopRules:
    """A gateway's settings that the decision depends on."""

    timeout_s: float = 180.0  # a dialogue idle longer than this is over (sliding)
    resume_s: float = 600.0  # a redial within this time is offered to continue
    default_lang: str = "zh"  # the notices' language when there is no dialogue to take it from
    limits: ScreenLimits = field(default_factory=ScreenLimits)


@dataclass(frozen=True, slots=True)
class Replay:
    """Answer the stored reply again: the gateway retried a hop we already answered."""

    reply: str
    node: str
    outcome: ClassVar[Outcome] = Outcome.RETRY
    input: ClassVar[InputKind] = InputKind.RETRY


@dataclass(frozen=True, slots=True)
class Refuse:
    """Answer a notice and store nothing; ``node`` is "-" when there is no dialogue."""

    outcome: Outcome
    status: int
    body: str
    node: str
    input: InputKind


@dataclass(frozen=True, slots=True)
class Save:
    """Store ``record`` and answer its current page; the menu is not stepped."""

    record: UssdRecord
    outcome: Outcome
    input: InputKind

    @property
    def node(self) -> str:
        return self.record.session.node


@dataclass(frozen=True, slots=True)
class Begin:
    """Begin the menu, then store ``record(session, output, limits)`` and answer it.

    ``prev``: the record this one replaces (its save number is the compare-and-set token).
    """

    prev: UssdRecord | None
    session_id: str
    text: str
    at: float
    input: InputKind
    outcome: ClassVar[Outcome] = Outcome.NEW

    def record(self, session: Session, output: Output, limits: ScreenLimits) -> UssdRecord:
        return _screen(self.session_id, session, output, self.text, self.at,
                       self.prev.hop if self.prev is not None else 0, 0, limits)


@dataclass(frozen=True, slots=True)
class Step:
    """Feed ``value`` to the menu (``prev.session``), then store ``record(...)`` and answer it."""

    prev: UssdRecord
    value: str
    text: str
    at: float
    input: InputKind
    outcome: ClassVar[Outcome] = Outcome.STEP

    def record(self, session: Session, output: Output, limits: ScreenLimits) -> UssdRecord:
        prev = self.prev
        return _screen(prev.session_id, session, output, self.text, self.at, prev.hop,
                       prev.steps + 1, limits)


Decision = Replay | Refuse | Save | Begin | Step
DEFAULT_RULES = HopRules()


def decide(
    record: UssdRecord | None, hop: Hop, now: float, rules: HopRules = DEFAULT_RULES
) -> Decision:
    """The one thing to do for ``hop`` given the caller's ``record`` (None: there is none)."""
    rec = record
    same = rec is not None and rec.session_id == hop.session_id
    value: str | None
    if hop.cumulative:
        text = hop.raw or ""
        if same and text == rec.text:
            return Replay(rec.reply, rec.session.node)
        starting = text == ""
        value = None if starting else (new_input(rec.text, text) if same else None)
    else:
        starting = hop.raw is None
        value = hop.raw
        if hop.seq is not None:  # the gateway numbers its hops: that number detects a retry
            text = f"#{hop.seq}"
            if same and text == rec.text:
                return Replay(rec.reply, rec.session.node)
        else:
            text = "" if starting or rec is None else f"{rec.text}*{hop.raw}"
    shown = value if value is not None or starting else text.rsplit("*", 1)[-1]
    kind = input_kind(None if starting else shown, same and len(rec.pages) > 1)
    if starting:
        if rec is not None and not same and _resumable(rec, now, rules):
            return Save(_offer(rec, hop.session_id, text, now), Outcome.OFFER, kind)
        return Begin(rec, hop.session_id, text, now, kind)
    if rec is None or not same:
        lang = rec.session.lang if rec is not None else ""
        return Refuse(Outcome.EXPIRED, 200, _notice("expired", lang, rules), "-", kind)
    node = rec.session.node
    if now - rec.at > rules.timeout_s:
        return Refuse(Outcome.EXPIRED, 200, _notice("expired", rec.session.lang, rules), node, kind)
    if rec.final:
        return Refuse(Outcome.ENDED, 200, _notice("ended", rec.session.lang, rules), node, kind)
    if value is None:
        return Refuse(Outcome.STALE, 409, STALE_BODY, node, kind)
    if rec.resume is not None:
        return _answer_offer(rec, value, text, now, kind)
    if len(rec.pages) > 1 and value in (NEXT_KEY, BACK_KEY):
        page = min(max(rec.page + (1 if value == NEXT_KEY else -1), 0), len(rec.pages) - 1)
        return Save(replace(rec, text=text, page=page, at=now), Outcome.PAGE, kind)
    if rec.ends:  # an ending screen still being paged: only 98/00 mean anything
        return Save(replace(rec, text=text, at=now), Outcome.PAGE, kind)
    return Step(rec, value, text, now, kind)


def _notice(name: str, lang: str, rules: HopRules) -> str:
    return end_body(message(name, lang or rules.default_lang))


def _resumable(rec: UssdRecord, now: float, rules: HopRules) -> bool:
    return (not rec.final and not rec.session.ended and rec.resume is None
            and rec.steps > 0 and now - rec.at <= rules.resume_s)


def _offer(rec: UssdRecord, session_id: str, text: str, now: float) -> UssdRecord:
    """The broken-off dialogue under the new session id, its screen put aside for the offer."""
    saved = {"p": list(rec.pages), "i": rec.page, "e": rec.ends}
    return replace(rec, session_id=session_id, text=text, at=now, page=0, ends=False,
                   pages=(message("resume_offer", rec.session.lang),), resume=saved)


def _answer_offer(rec: UssdRecord, value: str, text: str, now: float, kind: InputKind) -> Decision:
    if value == "1":
        old = rec.resume or {}
        back = replace(rec, text=text, at=now, pages=tuple(old["p"]), page=int(old["i"]),
                       ends=bool(old["e"]), resume=None)
        return Save(back, Outcome.RESUMED, kind)
    if value == "2":
        return Begin(rec, rec.session_id, text, now, kind)
    return Save(replace(rec, text=text, at=now), Outcome.OFFER, kind)


def _screen(
    session_id: str, session: Session, output: Output, text: str, at: float, hop: int,
    steps: int, limits: ScreenLimits,
) -> UssdRecord:
    pages = paginate(screen_lines(output), limits, session.lang, ends=output.ends)
    return UssdRecord(session_id=session_id, session=session, text=text, pages=pages, page=0,
                      ends=output.ends, at=at, hop=hop, steps=steps)
