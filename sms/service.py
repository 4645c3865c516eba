"""``SmppSender``: the ``sms.api.Sender`` hotline uses.  ``send`` never waits on the SMSC.

Its protocol-independent part is ``LinkSender``, which ``sms.cmpp.service.CmppSender`` shares.

Messages go into an ``Outbox`` (``sms.redis_outbox.RedisOutbox`` in production: on disk before
the SMSC sees them) and are taken from it in batches through one ESME transceiver link whenever
it is bound (``sms.sending.OutboxPump``: the taking loop and what becomes of each message).
``sms.link.LinkKeeper`` keeps the link up (``reconnect_policy``: 1 s -> 60 s, jittered) and
runs bind_transceiver on each new connection, so a connection only counts once it is bound.
A submit lost with the link goes back to the outbox and is sent after the next bind.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from pii import mask_tail
from sms import encoding
from sms.api import OutgoingSms
from sms.dlr import ID_BASES, Receipt, receipt_form
from sms.esme import EsmeConfig, EsmeProtocol, State
from sms.flow import Backoff, check_window, reconnect_policy
from sms.link import LinkKeeper
from sms.mo import Reassembler
from sms.outbox import MemoryOutbox, Outbox
from sms.sending import OutboxPump
from sms.smpp.pdu import Pdu

log = Logger(namespace="sms.service")
__all__ = ["SmppSender", "reconnect_policy"]

OnReceipt = Callable[[str, Receipt], None]  # (message key, receipt)
OnMessage = Callable[[str, str, str], Any]  # (to, from, text): a whole MO message


class _LinkFactory(Factory):
    def __init__(self, sender: LinkSender) -> None:
        self.sender = sender

    def buildProtocol(self, addr: Any) -> Any:
        proto = self.sender._build_link()
        proto.latencies = self.sender.latencies
        return proto


class LinkSender(Service):
    """Implements ``sms.api.Sender`` over one kept-up link, whatever its protocol: the outbox,
    start-up recovery, reconnecting, receipts (also one that beats its submit's answer) and
    whole MO messages.  A subclass builds the link protocol (``_build_link``), opens it
    (``_open``: bind or connect) and says goodbye (``_goodbye``); the link has a
    ``sms.session.State`` ``state`` and reports ``_receipt``, ``mo_received`` and ``_lost``.
    Taking from the outbox and settling each message is its ``pump``'s part (``OutboxPump``)."""

    early_receipt_ttl = 300.0  # a receipt that beat its submit's answer waits this long

    def __init__(
        self,
        endpoint: IStreamClientEndpoint,
        *,
        clock: IReactorTime,
        window: int,
        outbox: Outbox | None = None,
        retry_policy: Callable[[int], float] | None = None,
        on_receipt: OnReceipt | None = None,
        on_message: OnMessage | None = None,
        receipt_ids: str = "same",
        pump_options: dict[str, Any] | None = None,
    ) -> None:
        self.clock = clock
        self.outbox: Outbox = outbox if outbox is not None else MemoryOutbox(clock=self.clock)
        self.on_receipt = on_receipt
        self.on_message = on_message  # (to, from, text) of each whole MO message
        if receipt_ids not in ID_BASES:
            raise ValueError(f"receipt_ids must be one of {ID_BASES}, got {receipt_ids!r}")
        self.receipt_ids = receipt_ids
        self._reassembler = Reassembler()
        self._esme: Any = None  # the open link (bound / connected), else None
        self._timers: set[IDelayedCall] = set()
        self._keys_by_id: OrderedDict[str, str] = OrderedDict()
        self._early: OrderedDict[str, tuple[float, Receipt]] = OrderedDict()
        self._ready = False  # the outbox's leftovers are recovered
        self.pump = OutboxPump(
            self.outbox, link=lambda: self._esme, may_take=self._may_take, later=self._later,
            remember=self._remember, receipt_ids=receipt_ids,
            prefetch=max(8 * window, 64),  # taken ahead so the window never waits on Redis
            **(pump_options or {}))
        self.latencies: list[float] | None = None  # a list: every link appends submit->resp s
        self._keeper: LinkKeeper[Any] = LinkKeeper(
            endpoint, _LinkFactory(self), self._prepare,
            retry_policy or reconnect_policy(), self.clock, name="sms")

    # -- what a protocol adds ----------------------------------------------------------------
    def _build_link(self) -> Any:
        raise NotImplementedError

    def _open(self, link: Any) -> defer.Deferred[Any]:
        raise NotImplementedError

    def _goodbye(self, link: Any) -> defer.Deferred[Any]:
        raise NotImplementedError

    # -- sms.api.Sender --------------------------------------------------------------------
    def send(self, message: OutgoingSms) -> defer.Deferred[bool]:
        """Returns at once; the Deferred (optional to wait on) fires once the outbox has it."""
        d = defer.maybeDeferred(self.outbox.put, message)
        return d.addCallbacks(self._added, self._put_failed, callbackArgs=(message,),
                              errbackArgs=(message,))

    def _added(self, fresh: bool, message: OutgoingSms) -> bool:
        if not fresh:
            log.debug("sms.duplicate key={key}", key=message.key)
        self.pump.flush()
        return fresh

    def _put_failed(self, f: Failure, message: OutgoingSms) -> Failure:
        log.error("sms.outbox_put_failed key={key} why={why}", key=message.key,
                  why=f.getErrorMessage())
        return f

    # -- service ---------------------------------------------------------------------------
    @property
    def bound(self) -> bool:
        return self._esme is not None and self._esme.state is State.BOUND

    def startService(self) -> None:
        super().startService()
        start = getattr(self.outbox, "start", None)  # a shared outbox: keep our claims alive
        if start is not None:
            start()
        self._recover()
        self._keeper.start()

    def _take_back(self, method: str = "recover") -> defer.Deferred[int]:
        """The outbox's ``recover`` (at start: in-flight messages back to waiting) or
        ``reclaim`` (others' lapsed claims), if it has one."""
        call = getattr(self.outbox, method, None)
        return defer.maybeDeferred(call) if call is not None else defer.succeed(0)

    def _recover(self) -> None:
        """In-flight leftovers of a previous run go back to waiting before anything is taken."""
        d = self._take_back()

        def recovered(n: int) -> None:
            if n:
                log.info("sms.recovered in_flight={n}", n=n)
            self._ready = True
            self.pump.flush()

        def failed(f: Failure) -> None:  # Redis down at start: try again shortly
            log.error("sms.recover_failed why={why}", why=f.getErrorMessage())
            if self.running:
                self._later(1.0, self._recover)

        d.addCallbacks(recovered, failed)

    def reclaim(self) -> defer.Deferred[int]:
        """Take back what another sender left in flight past its lease (run periodically when
        several nodes share the outbox), then send it; how many came back.  What this sender
        holds itself stays: its leases are renewed."""
        d = self._take_back("reclaim")

        def back(n: int) -> int:
            if n:
                log.warn("sms.reclaimed in_flight={n} (a sender stopped mid-send)", n=n)
                self.pump.flush()
            return int(n)

        return d.addCallback(back)

    @defer.inlineCallbacks
    def stopService(self) -> Any:
        super().stopService()
        stop = getattr(self.outbox, "stop", None)
        if stop is not None:
            stop()
        for timer in self._timers:
            if timer.active():
                timer.cancel()
        self._timers.clear()
        esme = self._esme
        if esme is not None and esme.state is State.BOUND:
            yield self._goodbye(esme)
        yield self._keeper.stop()

    def _may_take(self) -> bool:
        """The pump takes only once leftovers are recovered, while running and bound."""
        return bool(self._ready and self.running and self.bound)

    def _later(self, delay: float, f: Callable[..., Any], *args: Any) -> None:
        self._timers = {t for t in self._timers if t.active()}
        self._timers.add(self.clock.callLater(delay, f, *args))

    # -- link ------------------------------------------------------------------------------
    def _prepare(self, esme: Any) -> defer.Deferred[None]:
        return self._open(esme).addCallback(lambda _: self._bound(esme))

    def _bound(self, esme: Any) -> None:
        self._esme = esme
        log.info("sms.link_up")
        self.pump.flush()

    def _lost(self, esme: Any) -> None:
        if self._esme is esme:
            self._esme = None
        self._keeper.lost(esme)

    # -- mobile-originated -----------------------------------------------------------------
    def mo_received(self, source: str, dest: str, decoded: encoding.Decoded) -> None:
        """One MO message or part from the link: reassembled, then to ``on_message``."""
        text: str | None = decoded.text
        if decoded.concat is not None:
            text = self._reassembler.add(source, dest, decoded.concat, decoded.text,
                                         self.clock.seconds())
        if text is None or self.on_message is None:
            return
        log.info("sms.mo from={src} chars={n}", src=mask_tail(source), n=len(text))
        try:
            d = defer.maybeDeferred(self.on_message, dest, source, text)
        except Exception:  # pragma: no cover - maybeDeferred catches
            return
        d.addErrback(lambda f: log.failure("sms.mo_handler_failed", f))

    # -- receipts --------------------------------------------------------------------------
    def _receipt(self, receipt: Receipt) -> None:
        key = self._keys_by_id.get(receipt.message_id, "")
        d = defer.maybeDeferred(self.outbox.receipt, key, receipt.message_id, receipt.stat)
        d.addCallbacks(self._recorded, _receipt_failed, callbackArgs=(receipt, key))

    def _recorded(self, state: str, receipt: Receipt, key: str) -> None:
        if not state and not key:  # beat its submit_sm_resp (or unknown): hold it a while
            if receipt.message_id in self._keys_by_id:  # the resp came meanwhile
                self._receipt(receipt)
                return
            now = self.clock.seconds()
            self._early[receipt.message_id] = (now + self.early_receipt_ttl, receipt)
            while self._early and (len(self._early) > 10_000
                                   or next(iter(self._early.values()))[0] < now):
                self._early.popitem(last=False)
            return
        self._report(key or self._keys_by_id.get(receipt.message_id, ""), receipt, state)

    def _report(self, key: str, receipt: Receipt, state: str = "") -> None:
        if self.on_receipt is not None and key:
            try:
                self.on_receipt(key, receipt)
            except Exception:
                log.failure("sms.on_receipt_failed key={key}", key=key)

    def _remember(self, message_id: str, key: str) -> str:
        normalised = receipt_form(message_id, self.receipt_ids)
        self._keys_by_id[normalised] = key
        while len(self._keys_by_id) > 100_000:
            self._keys_by_id.popitem(last=False)
        early = self._early.pop(normalised, None)
        if early is not None and early[0] >= self.clock.seconds():
            self._receipt(early[1])
        return message_id


def _receipt_failed(f: Failure) -> None:
    log.error("sms.receipt_failed why={why}", why=f.getErrorMessage())


class SmppSender(LinkSender):
    """``LinkSender`` over SMPP 3.4: bind_transceiver, submit_sm with registered_delivery=1,
    deliver_sm receipts and MO, unbind on stop."""

    def __init__(
        self,
        host: str,
        port: int,
        system_id: str,
        password: str,
        source_addr: str,
        *,
        reactor: Any,
        clock: IReactorTime | None = None,
        system_type: str = "",
        window: int = 10,
        tps: float | None = None,
        outbox: Outbox | None = None,
        retry_policy: Callable[[int], float] | None = None,
        on_receipt: OnReceipt | None = None,
        endpoint: IStreamClientEndpoint | None = None,
        source_addr_ton: int = 0,
        source_addr_npi: int = 0,
        response_timeout: float = 30.0,
        on_message: OnMessage | None = None,
        throttle_backoff: Backoff | None = None,
        receipt_ids: str = "same",
    ) -> None:
        self.config = EsmeConfig(system_id, password, system_type, window=check_window(window),
                                 tps=tps, response_timeout=response_timeout,
                                 throttle_backoff=throttle_backoff or Backoff())
        super().__init__(
            endpoint if endpoint is not None else HostnameEndpoint(reactor, host, port),
            clock=clock if clock is not None else reactor, window=window, outbox=outbox,
            retry_policy=retry_policy, on_receipt=on_receipt, on_message=on_message,
            receipt_ids=receipt_ids,
            pump_options={"source_addr": source_addr,
                          "source_ton_npi": (source_addr_ton, source_addr_npi)})

    def _build_link(self) -> EsmeProtocol:
        return EsmeProtocol(self.config, self.clock, on_receipt=self._receipt,
                            on_lost=self._lost, on_deliver=self._mo)

    def _open(self, link: EsmeProtocol) -> defer.Deferred[Any]:
        return link.bind()

    def _goodbye(self, link: EsmeProtocol) -> defer.Deferred[Any]:
        return link.unbind()

    def _mo(self, pdu: Pdu, decoded: encoding.Decoded) -> None:
        self.mo_received(str(pdu.get("source_addr", "")), str(pdu.get("destination_addr", "")),
                         decoded)

