"""One USSD hop, independent of how a gateway spells it on the wire (AT form, JSON, SMPP).

A hop: find the caller's record, let ``ussd.decide.decide`` say what to do (step the menu
``Dialogue`` once, turn a page, answer a retry from the record, refuse), carry it out, store the
new record, answer. This module is the shell around that pure decision: the node-local cache
and Redis, one hop at a time per caller, the menu's effects, telemetry. A retried hop (AT: same
session id and same cumulative text) gets the stored reply and the menu is not stepped again.
Long screens are paged (``ussd.paging``): ``98``/``00`` never reach the menu.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from menus.driver import DialogueLike
from menus.types import Digits
from pii import mask_tail
from ussd.decide import Begin, Decision, Hop, HopRules, Outcome, Refuse, Replay, Save, Step, decide
from ussd.inputs import InputKind, follows
from ussd.paging import ScreenLimits
from ussd.render import end_body, message
from ussd.sessions import UssdSessionStore

log = Logger(namespace="hotline.ussd")


@dataclass(frozen=True, slots=True)
class HopReply:
    """What to answer the gateway: HTTP-like ``status`` and the body ("CON ..."/"END ...")."""

    status: int
    body: str
    kind: Outcome

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
    input: str  # an InputKind (the kind, never the value)
    outcome: str  # an Outcome, or abort/timeout/release from the wire adapters
    ms: float


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
        self.rules = HopRules(timeout_s, resume_s, default_lang, self.limits)
        self.on_hop = on_hop
        # callers with a hop in progress -> hops of theirs waiting for it (one hop at a time per
        # caller, so a retry sees the first try's result); a dict, not a DeferredLock per hop
        self._busy: dict[str, list[Deferred[None]]] = {}

    async def hop(self, session_id: str, msisdn: str, text: str, *, entry: str = "") -> HopReply:
        """A hop in the AT convention: ``text`` is every input so far joined by ``*``;
        ``entry``: what the dialed service code chose (``ussd.inputs.dialed_entry``)."""
        return await self._locked(msisdn, Hop(session_id, text, entry=entry))

    async def hop_input(
        self, session_id: str, msisdn: str, value: str | None, *, seq: int | None = None,
        entry: str = "",
    ) -> HopReply:
        """A hop from a gateway that sends only the latest input (None: the dialogue starts).

        ``seq``: the gateway's hop number, when it sends one; a request repeating the last
        answered ``seq`` is a retry and gets the stored reply. Without it no retry is detected.
        """
        return await self._locked(msisdn, Hop(session_id, value, False, seq, entry))

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

    async def _locked(self, msisdn: str, hop: Hop) -> HopReply:
        started = time.monotonic()
        waiting = self._busy.get(msisdn)
        if waiting is None:  # the usual case: no other hop of this caller in progress
            self._busy[msisdn] = []
        else:  # a retry arrived while the first try runs: queue behind it
            turn: Deferred[None] = Deferred()
            waiting.append(turn)
            await turn
        try:
            reply, node, kind = await self._hop(msisdn, hop)
        finally:
            queue = self._busy[msisdn]
            if queue:
                queue.pop(0).callback(None)  # hand the caller's turn to the next hop
            else:
                del self._busy[msisdn]
        self.record_event(msisdn, node, kind, reply.kind, (time.monotonic() - started) * 1000)
        return reply

    async def _hop(self, msisdn: str, hop: Hop) -> tuple[HopReply, str, InputKind]:
        """Decide on the freshest record we can trust, carry it out; when the record moved on
        under us (another node, an expiry) reload it from Redis and decide again."""
        record = self.store.cached(self.gateway, msisdn)
        if record is not None and not follows(record, hop.session_id, hop.raw, hop.cumulative,
                                              hop.seq):
            record = None  # the request does not follow what this node saw last: read Redis
        fresh = record is None
        if fresh:
            record = await self.store.load(self.gateway, msisdn)
        for _attempt in range(3):
            decision = decide(record, hop, self._now(), self.rules)
            # a refusal decided on this node's cached copy is re-checked against Redis first
            if fresh or not isinstance(decision, Refuse):
                done = await self._carry_out(decision, msisdn, hop.entry)
                if done is not None:
                    return done[0], done[1], decision.input
            record, fresh = await self.store.load(self.gateway, msisdn), True
        raise RuntimeError("USSD record kept changing under this hop")

    async def _carry_out(
        self, decision: Decision, msisdn: str, entry: str = ""
    ) -> tuple[HopReply, str] | None:
        """The reply and the menu node after it; None when the save lost the compare-and-set.
        ``entry`` reaches the menu when it begins (a dialogue's later hops carry it too)."""
        if isinstance(decision, Step):
            session, output = await self.dialogue.resume(decision.prev.session,
                                                         Digits(decision.value))
            record = decision.record(session, output, self.limits)
        elif isinstance(decision, Save):
            record = decision.record
        elif isinstance(decision, Begin):
            chosen = {"entry": entry} if entry else {}  # dialogues that know no entry work
            session, output = await self.dialogue.begin(self.menu_name, channel="ussd",
                                                        msisdn=msisdn, **chosen)
            record = decision.record(session, output, self.limits)
        elif isinstance(decision, Replay):
            return HopReply(200, decision.reply, Outcome.RETRY), decision.node
        else:
            return HopReply(decision.status, decision.body, decision.outcome), decision.node
        stored = await self.store.save(self.gateway, msisdn, record)
        if stored is None:
            return None  # another node or an expiry moved the key on: reload, decide again
        return HopReply(200, stored.reply, decision.outcome), stored.session.node
