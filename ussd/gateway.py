"""One USSD hop, independent of how a gateway spells it on the wire (AT form, JSON, SMPP).

A hop: find the caller's record, work out the one new input, step the menu ``Dialogue`` once (or
turn a page, or answer a retry from the record), store the new record, answer. A retried hop
(AT: same session id and same cumulative text) gets the stored reply and the menu is not stepped
again. Long screens are paged here (``ussd.paging``): ``98``/``00`` never reach the menu.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from menus.types import Digits, Input, Output, Session
from pii import mask_tail
from ussd.inputs import follows, input_kind, new_input
from ussd.paging import BACK_KEY, NEXT_KEY, ScreenLimits, paginate
from ussd.render import end_body, message, screen_lines
from ussd.sessions import UssdRecord, UssdSessionStore

log = Logger(namespace="hotline.ussd")


class DialogueLike(Protocol):
    """The part of ``menus.driver.Dialogue`` a USSD gateway needs."""

    async def begin(
        self, menu: str, *, channel: str, msisdn: str, lang: str | None = None
    ) -> tuple[Session, Output]: ...

    async def resume(self, session: Session, inp: Input) -> tuple[Session, Output]: ...


@dataclass(frozen=True, slots=True)
class HopReply:
    """What to answer the gateway: HTTP-like ``status`` and the body ("CON ..."/"END ...")."""

    status: int
    body: str
    kind: str  # new|step|page|retry|offer|resumed|expired|ended|stale|mismatch (logs, tests)

    @property
    def final(self) -> bool:
        return self.body.startswith("END")

    @property
    def screen(self) -> str:
        """The text to show, without the CON/END marker."""
        return self.body[4:] if self.body[:4] in ("CON ", "END ") else self.body


@dataclass(frozen=True, slots=True)
class HopEvent:
    """Per-hop telemetry: no input values (they may be ID numbers), phone masked."""

    gateway: str
    msisdn: str  # masked to the last 4 digits
    node: str  # the menu node after the hop ("-" when there is no session)
    input: str  # start|digits|star|text|more|back|empty (the kind, never the value)
    outcome: str  # HopReply.kind, or error/busy/abort/timeout from the wire adapters
    ms: float


class _Retry(Exception):
    """The record changed under us (another node, expiry): reload and decide again."""


class UssdGateway:
    """Serves hops of one gateway (``gateway`` names it in the Redis key) for one menu.

    ``timeout_s``: a dialogue idle longer than this is over (sliding, like the network's 180 s).
    ``resume_s``: a caller who dials again within this time is offered to continue.
    """

    def __init__(
        self,
        dialogue: DialogueLike,
        store: UssdSessionStore,
        menu_name: str = "booking",
        *,
        gateway: str = "at",
        default_lang: str = "zh",
        limits: ScreenLimits | None = None,
        clock: Any = None,
        timeout_s: float = 180.0,
        resume_s: float = 600.0,
        on_hop: Callable[[HopEvent], None] | None = None,
    ) -> None:
        self.dialogue = dialogue
        self.store = store
        self.menu_name = menu_name
        self.gateway = gateway
        self.default_lang = default_lang
        self.limits = limits or ScreenLimits()
        self._now: Callable[[], float] = clock.seconds if clock is not None else time.time
        self.timeout_s = timeout_s
        self.resume_s = resume_s
        self.on_hop = on_hop
        # callers with a hop in progress -> hops of theirs waiting for it (one hop at a time per
        # caller, so a retry sees the first try's result); a dict, not a DeferredLock per hop
        self._busy: dict[str, list[Deferred[None]]] = {}

    async def hop(self, session_id: str, msisdn: str, text: str) -> HopReply:
        """A hop in the AT convention: ``text`` is every input so far joined by ``*``."""
        return await self._locked(session_id, msisdn, text, cumulative=True)

    async def hop_input(
        self, session_id: str, msisdn: str, value: str | None, *, seq: int | None = None
    ) -> HopReply:
        """A hop from a gateway that sends only the latest input (None: the dialogue starts).

        ``seq``: the gateway's hop number, when it sends one; a request repeating the last
        answered ``seq`` is a retry and gets the stored reply. Without it no retry is detected.
        """
        return await self._locked(session_id, msisdn, value, cumulative=False, seq=seq)

    def notice(self, name: str, lang: str | None = None) -> str:
        """An END body with one of our own notices (expired, error, busy ...)."""
        return end_body(message(name, lang or self.default_lang))

    def record_event(self, msisdn: str, node: str, inp: str, outcome: str, ms: float) -> None:
        """Telemetry for one hop (also used by the wire adapters for abort/timeout/error)."""
        masked, ms = mask_tail(msisdn), round(ms, 2)
        # one pre-formatted field: formatting an event field by field costs more than the hop's
        # own Python work (bench/ussd_http.py profile)
        log.info("{hop}", hop=f"ussd.hop gateway={self.gateway} msisdn={masked} node={node} "
                 f"input={inp} outcome={outcome} ms={ms}")
        if self.on_hop is not None:
            self.on_hop(HopEvent(self.gateway, masked, node, inp, outcome, ms))

    async def _locked(
        self, session_id: str, msisdn: str, raw: str | None, *, cumulative: bool,
        seq: int | None = None,
    ) -> HopReply:
        started = time.monotonic()
        waiting = self._busy.get(msisdn)
        if waiting is None:  # the usual case: no other hop of this caller in progress
            self._busy[msisdn] = []
        else:  # a retry arrived while the first try runs: queue behind it
            turn: Deferred[None] = Deferred()
            waiting.append(turn)
            await turn
        meta: dict[str, str] = {"node": "-", "input": "start" if not raw else "?"}
        try:
            reply = await self._hop(session_id, msisdn, raw, cumulative, meta, seq)
        finally:
            queue = self._busy[msisdn]
            if queue:
                queue.pop(0).callback(None)  # hand the caller's turn to the next hop
            else:
                del self._busy[msisdn]
        self.record_event(msisdn, meta["node"], meta["input"], reply.kind,
                          (time.monotonic() - started) * 1000)
        return reply

    async def _hop(
        self, session_id: str, msisdn: str, raw: str | None, cumulative: bool,
        meta: dict[str, str], seq: int | None,
    ) -> HopReply:
        record = self.store.cached(self.gateway, msisdn)
        if record is not None and not follows(record, session_id, raw, cumulative, seq):
            record = None  # the request does not follow what this node saw last: read Redis
        fresh = record is None
        if fresh:
            record = await self.store.load(self.gateway, msisdn)
        for _attempt in range(3):
            try:
                return await self._decide(record, session_id, msisdn, raw, cumulative, meta,
                                          fresh, seq)
            except _Retry:
                record, fresh = await self.store.load(self.gateway, msisdn), True
        raise RuntimeError("USSD record kept changing under this hop")

    async def _decide(
        self, rec: UssdRecord | None, session_id: str, msisdn: str, raw: str | None,
        cumulative: bool, meta: dict[str, str], fresh: bool, seq: int | None = None,
    ) -> HopReply:
        now = self._now()
        same = rec is not None and rec.session_id == session_id
        value: str | None
        if cumulative:
            text = raw or ""
            if rec is not None and same and text == rec.text:
                meta.update(node=rec.session.node, input="retry")
                return HopReply(200, rec.reply, "retry")
            value = None if text == "" else (new_input(rec.text, text) if same and rec else None)
            starting = text == ""
        else:
            starting = raw is None
            value = raw
            if seq is not None:  # the gateway numbers its hops: that number detects a retry
                text = f"#{seq}"
                if rec is not None and same and text == rec.text:
                    meta.update(node=rec.session.node, input="retry")
                    return HopReply(200, rec.reply, "retry")
            else:
                text = "" if starting or rec is None else f"{rec.text}*{raw}"
        shown = value if value is not None or starting else text.rsplit("*", 1)[-1]
        meta["input"] = input_kind(None if starting else shown,
                                   bool(rec and same and len(rec.pages) > 1))
        if starting:
            if rec is not None and not same and self._resumable(rec, now):
                return await self._offer(rec, session_id, msisdn, text, now, meta)
            return await self._begin(rec, session_id, msisdn, text, now, meta)
        lang = rec.session.lang if rec is not None else None
        if rec is None or not same:
            return self._checked(HopReply(200, self.notice("expired", lang), "expired"), fresh)
        meta["node"] = rec.session.node
        if now - rec.at > self.timeout_s:
            return self._checked(HopReply(200, self.notice("expired", lang), "expired"), fresh)
        if rec.final:
            return self._checked(HopReply(200, self.notice("ended", lang), "ended"), fresh)
        if value is None:
            stale = HopReply(409, "stale request: text does not extend the previous hop", "stale")
            return self._checked(stale, fresh)
        if rec.resume is not None:
            return await self._answer_offer(rec, msisdn, value, text, now, meta)
        if len(rec.pages) > 1 and value in (NEXT_KEY, BACK_KEY):
            step = 1 if value == NEXT_KEY else -1
            page = min(max(rec.page + step, 0), len(rec.pages) - 1)
            return await self._save(msisdn, replace(rec, text=text, page=page, at=now), "page")
        if rec.ends:  # an ending screen still being paged: only 98/00 mean anything
            return await self._save(msisdn, replace(rec, text=text, at=now), "page")
        session, output = await self.dialogue.resume(rec.session, Digits(value))
        meta["node"] = session.node
        return await self._save(msisdn, self._record(rec, session_id, session, output, text, now),
                                "step")

    def _checked(self, reply: HopReply, fresh: bool) -> HopReply:
        """A refusal decided on this node's cached copy is re-checked against Redis first."""
        if not fresh:
            raise _Retry()
        return reply

    def _resumable(self, rec: UssdRecord, now: float) -> bool:
        return (not rec.final and not rec.session.ended and rec.resume is None
                and rec.steps > 0 and now - rec.at <= self.resume_s)

    def _record(
        self, prev: UssdRecord | None, session_id: str, session: Session, output: Output,
        text: str, now: float,
    ) -> UssdRecord:
        pages = paginate(screen_lines(output), self.limits, session.lang, ends=output.ends)
        steps = prev.steps + 1 if prev is not None and prev.session_id == session_id else 0
        return UssdRecord(session_id=session_id, session=session, text=text, pages=pages,
                          page=0, ends=output.ends, at=now, hop=prev.hop if prev else 0,
                          steps=steps)

    async def _begin(
        self, rec: UssdRecord | None, session_id: str, msisdn: str, text: str, now: float,
        meta: dict[str, str],
    ) -> HopReply:
        session, output = await self.dialogue.begin(self.menu_name, channel="ussd", msisdn=msisdn)
        meta["node"] = session.node
        record = replace(self._record(rec, session_id, session, output, text, now), steps=0)
        return await self._save(msisdn, record, "new")

    async def _offer(
        self, rec: UssdRecord, session_id: str, msisdn: str, text: str, now: float,
        meta: dict[str, str],
    ) -> HopReply:
        meta["node"] = rec.session.node
        saved = {"p": list(rec.pages), "i": rec.page, "e": rec.ends}
        offer = replace(rec, session_id=session_id, text=text, at=now, page=0, ends=False,
                        pages=(message("resume_offer", rec.session.lang),), resume=saved)
        return await self._save(msisdn, offer, "offer")

    async def _answer_offer(
        self, rec: UssdRecord, msisdn: str, value: str, text: str, now: float,
        meta: dict[str, str],
    ) -> HopReply:
        old = rec.resume or {}
        if value == "1":
            back = replace(rec, text=text, at=now, pages=tuple(old["p"]), page=int(old["i"]),
                           ends=bool(old["e"]), resume=None)
            return await self._save(msisdn, back, "resumed")
        if value == "2":
            session, output = await self.dialogue.begin(self.menu_name, channel="ussd",
                                                        msisdn=msisdn)
            meta["node"] = session.node
            fresh = replace(self._record(rec, rec.session_id, session, output, text, now),
                            steps=0, resume=None)
            return await self._save(msisdn, fresh, "new")
        return await self._save(msisdn, replace(rec, text=text, at=now), "offer")

    async def _save(self, msisdn: str, record: UssdRecord, kind: str) -> HopReply:
        stored = await self.store.save(self.gateway, msisdn, record)
        if stored is None:
            raise _Retry()  # another node or an expiry moved the key on: reload, decide again
        return HopReply(200, stored.reply, kind)
