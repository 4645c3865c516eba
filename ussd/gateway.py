"""One USSD hop, independent of how a gateway spells it on the wire (AT form, JSON, ...).

A hop is: read the gateway session, work out the one new input from the cumulative ``text``,
step the menu ``Dialogue`` once, store the new menu session together with the text and reply,
answer. A retried hop (same text as last time) gets the stored reply and the menu is not stepped
again, so a booking is never made twice because a gateway retried.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from twisted.internet.defer import DeferredLock
from twisted.logger import Logger

from menus.types import Digits, Input, Output, Session
from ussd.render import end_body, message, over_limit, reply_body
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
    kind: str  # new | step | retry | expired | ended | stale | mismatch (for logs and tests)


def mask(msisdn: str) -> str:
    """Phone numbers never reach the logs whole: keep the last 4 digits."""
    return "*" * max(len(msisdn) - 4, 0) + msisdn[-4:]


def new_input(previous: str, text: str) -> str | None:
    """The input added since ``previous``: the suffix after ``previous + '*'``.

    Because we keep the whole previous text, an input that itself contains ``*`` (an ID's X keyed
    as ``*``) comes out whole. None when ``text`` does not extend ``previous`` (a stale request).
    """
    if previous == "":
        return text
    if text.startswith(previous + "*"):
        return text[len(previous) + 1 :]
    return None


class UssdGateway:
    """Serves hops of one gateway (``gateway`` names it in the Redis key) for one menu."""

    def __init__(
        self,
        dialogue: DialogueLike,
        store: UssdSessionStore,
        menu_name: str = "booking",
        *,
        gateway: str = "at",
        default_lang: str = "zh",
    ) -> None:
        self.dialogue = dialogue
        self.store = store
        self.menu_name = menu_name
        self.gateway = gateway
        self.default_lang = default_lang
        self._locks: dict[str, DeferredLock] = {}

    async def hop(self, session_id: str, msisdn: str, text: str) -> HopReply:
        """Answer one hop; hops of the same session on this node run one after another."""
        started = time.monotonic()
        lock = self._locks.setdefault(session_id, DeferredLock())
        await lock.acquire()
        try:
            reply = await self._hop(session_id, msisdn, text)
        finally:
            lock.release()
            if not lock.locked and not lock.waiting:
                self._locks.pop(session_id, None)
        log.info(
            "ussd hop {gateway} session={session_id} msisdn={msisdn} kind={kind} "
            "status={status} ends={ends} ms={ms:.1f}",
            gateway=self.gateway, session_id=session_id[-12:], msisdn=mask(msisdn),
            kind=reply.kind, status=reply.status, ends=reply.body.startswith("END"),
            ms=(time.monotonic() - started) * 1000,
        )
        return reply

    def notice(self, name: str, lang: str | None = None) -> str:
        """An END body with one of our own notices (expired, error, busy ...)."""
        return end_body(message(name, lang or self.default_lang))

    async def _hop(self, session_id: str, msisdn: str, text: str) -> HopReply:
        record = await self.store.load(self.gateway, session_id)
        if record is None:
            if text != "":
                return HopReply(200, self.notice("expired"), "expired")
            session, output = await self.dialogue.begin(
                self.menu_name, channel="ussd", msisdn=msisdn
            )
            return await self._store(session_id, session, output, text, 0, "new")
        lang = record.session.lang
        if record.session.msisdn != msisdn:
            # Never continue someone else's dialogue, and do not say that it exists.
            return HopReply(200, self.notice("expired", lang), "mismatch")
        if text == record.text:
            return HopReply(200, record.reply, "retry")
        if record.reply.startswith("END"):
            return HopReply(200, self.notice("ended", lang), "ended")
        value = new_input(record.text, text)
        if value is None:
            return HopReply(409, "stale request: text does not extend the previous hop", "stale")
        session, output = await self.dialogue.resume(record.session, Digits(value))
        return await self._store(session_id, session, output, text, record.hop, "step")

    async def _store(
        self, session_id: str, session: Session, output: Output, text: str, hop: int, kind: str
    ) -> HopReply:
        body = reply_body(output)
        if over_limit(body[4:]):
            log.warn(
                "ussd screen of {chars} chars at node {node} exceeds one USSD string "
                "(sent whole; paging is not implemented yet)",
                chars=len(body) - 4, node=session.node,
            )
        saved = await self.store.save(
            self.gateway, session_id, session, text, body, expected_hop=hop
        )
        if saved is not None:
            return HopReply(200, body, kind)
        # Another node answered this session meanwhile: if it was the same hop, agree with it.
        winner: UssdRecord | None = await self.store.load(self.gateway, session_id)
        if winner is not None and winner.text == text:
            return HopReply(200, winner.reply, "retry")
        return HopReply(409, "stale request: the session moved on", "stale")
