"""``SmppSender``: the ``sms.api.Sender`` hotline uses.  ``send`` never waits on the SMSC.

Messages go into an ``Outbox`` (in memory today; a Redis-backed durable outbox implements the
same protocol later) and are flushed through one ESME transceiver link whenever it is bound.
``ClientService`` keeps the link up (``reconnect_policy``: 1 s -> 60 s, jittered); its
``prepareConnection`` hook is where bind_transceiver happens, so a connection only counts once
it is bound.  A submit
lost with the link goes back to the outbox and is sent after the next bind.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from twisted.application.internet import ClientService
from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from sms import encoding
from sms.api import OutgoingSms
from sms.dlr import Receipt, normalise_id
from sms.esme import (
    EsmeConfig,
    EsmeProtocol,
    LinkLost,
    NotBound,
    ResponseTimeout,
    SmppError,
    State,
)
from sms.outbox import MemoryOutbox, Outbox

log = Logger(namespace="sms.service")

OnReceipt = Callable[[str, Receipt], None]  # (message key, receipt)


def reconnect_policy(initial: float = 1.0, cap: float = 60.0, factor: float = 2.0,
                     jitter: float = 0.2, rng: Callable[[], float] = random.random,
                     ) -> Callable[[int], float]:
    """Delay before reconnect attempt n (n >= 1 failures): 1, 2, 4 ... 60 s, each stretched by
    up to ``jitter`` (20 %) so many senders do not reconnect in step."""

    def policy(attempt: int) -> float:
        return min(initial * factor ** max(attempt - 1, 0), cap) * (1 + jitter * rng())

    return policy


def mask(msisdn: str) -> str:
    return "*" * max(len(msisdn) - 4, 0) + msisdn[-4:]


class _EsmeFactory(Factory):
    def __init__(self, sender: SmppSender) -> None:
        self.sender = sender

    def buildProtocol(self, addr: Any) -> EsmeProtocol:
        s = self.sender
        return EsmeProtocol(s.config, s.clock, on_receipt=s._receipt, on_lost=s._lost)


class SmppSender(Service):
    """Implements ``sms.api.Sender`` over SMPP 3.4 (bind_transceiver, registered_delivery=1)."""

    max_attempts = 5
    retry_delay = 5.0

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
        outbox: Outbox | None = None,
        retry_policy: Callable[[int], float] | None = None,
        on_receipt: OnReceipt | None = None,
        endpoint: IStreamClientEndpoint | None = None,
        source_addr_ton: int = 0,
        source_addr_npi: int = 0,
    ) -> None:
        self.clock: IReactorTime = clock if clock is not None else reactor
        self.config = EsmeConfig(system_id, password, system_type, window=window)
        self.source_addr = source_addr
        self.source_ton_npi = (source_addr_ton, source_addr_npi)
        self.outbox: Outbox = outbox if outbox is not None else MemoryOutbox()
        self.on_receipt = on_receipt
        self._esme: EsmeProtocol | None = None
        self._ref = 0
        self._attempts: dict[str, int] = {}
        self._timers: set[IDelayedCall] = set()
        self._keys_by_id: OrderedDict[str, str] = OrderedDict()
        self._early: OrderedDict[str, Receipt] = OrderedDict()  # receipts before their resp
        self._client = ClientService(
            endpoint if endpoint is not None else HostnameEndpoint(reactor, host, port),
            _EsmeFactory(self),
            retryPolicy=retry_policy or reconnect_policy(),
            clock=self.clock,
            prepareConnection=self._prepare,
        )

    # -- sms.api.Sender --------------------------------------------------------------------
    def send(self, message: OutgoingSms) -> None:
        if not self.outbox.put(message):
            log.debug("sms.duplicate key={key}", key=message.key)
            return
        self._flush()

    # -- service ---------------------------------------------------------------------------
    @property
    def bound(self) -> bool:
        return self._esme is not None and self._esme.state is State.BOUND

    def startService(self) -> None:
        super().startService()
        self._client.startService()

    @defer.inlineCallbacks
    def stopService(self) -> Any:
        super().stopService()
        for timer in self._timers:
            if timer.active():
                timer.cancel()
        self._timers.clear()
        esme = self._esme
        if esme is not None and esme.state is State.BOUND:
            yield esme.unbind()
        yield self._client.stopService()

    # -- link ------------------------------------------------------------------------------
    def _prepare(self, esme: EsmeProtocol) -> defer.Deferred[None]:
        return esme.bind().addCallback(lambda _: self._bound(esme))

    def _bound(self, esme: EsmeProtocol) -> None:
        self._esme = esme
        log.info("sms.link_up waiting={n}", n=len(self.outbox))
        self._flush()

    def _lost(self, esme: EsmeProtocol) -> None:
        if self._esme is esme:
            self._esme = None

    def _receipt(self, receipt: Receipt) -> None:
        log.info("sms.receipt id={id} stat={stat}", id=receipt.message_id, stat=receipt.stat)
        key = self._keys_by_id.get(receipt.message_id)
        if key is None:  # SMSCs may send the receipt before submit_sm_resp: hold it briefly
            self._early[receipt.message_id] = receipt
            while len(self._early) > 1000:
                self._early.popitem(last=False)
            return
        self._report(key, receipt)

    def _report(self, key: str, receipt: Receipt) -> None:
        if self.on_receipt is not None:
            try:
                self.on_receipt(key, receipt)
            except Exception:
                log.failure("sms.on_receipt_failed key={key}", key=key)

    # -- sending ---------------------------------------------------------------------------
    def _flush(self) -> None:
        while self.bound and (message := self.outbox.take()) is not None:
            self._submit(message)

    def _submit(self, message: OutgoingSms) -> None:
        esme = self._esme
        assert esme is not None
        try:
            if not (message.to.isdigit() and len(message.to) <= 20):
                raise ValueError(f"destination {mask(message.to)!r} is not 1-20 digits")
            parts = encoding.split(message.text, self._next_ref())
        except ValueError as err:
            self.outbox.dead(message, str(err))
            log.error("sms.unsendable key={key} why={why}", key=message.key, why=str(err))
            return
        ton, npi = self.source_ton_npi
        submits = [
            esme.submit({
                "source_addr_ton": ton, "source_addr_npi": npi, "source_addr": self.source_addr,
                "dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": message.to,
                "esm_class": part.esm_class, "registered_delivery": 1,
                "data_coding": part.data_coding, "short_message": part.short_message,
            })
            for part in parts
        ]
        for d in submits:  # map ids as each resp arrives: a part's receipt may beat the rest
            d.addCallback(self._remember, message.key)
        done = defer.DeferredList(submits, consumeErrors=True)
        done.addCallback(self._submitted, message)

    def _submitted(self, results: list[tuple[bool, Any]], message: OutgoingSms) -> None:
        failures = [r for ok, r in results if not ok]
        if not failures:
            self.outbox.done(message)
            self._attempts.pop(message.key, None)
            log.info("sms.submitted to={to} parts={n}", to=mask(message.to), n=len(results))
            return
        failure: Failure = failures[0]
        if failure.check(LinkLost, NotBound):
            self.outbox.retry(message)  # resent after the next bind
            self._flush()
            return
        error = failure.value
        retryable = isinstance(error, ResponseTimeout) or (
            isinstance(error, SmppError) and error.retryable)
        attempts = self._attempts[message.key] = self._attempts.get(message.key, 0) + 1
        if not retryable or attempts >= self.max_attempts:
            self._attempts.pop(message.key, None)
            self.outbox.dead(message, str(error))
            log.error("sms.failed to={to} why={why}", to=mask(message.to), why=str(error))
            return
        log.warn("sms.retry to={to} why={why}", to=mask(message.to), why=str(error))
        timer = self.clock.callLater(self.retry_delay * attempts, self._retry, message)
        self._timers.add(timer)

    def _retry(self, message: OutgoingSms) -> None:
        self._timers = {t for t in self._timers if t.active()}
        self.outbox.retry(message)
        self._flush()

    def _next_ref(self) -> int:
        self._ref = (self._ref + 1) % 256
        return self._ref

    def _remember(self, message_id: str, key: str) -> str:
        normalised = normalise_id(message_id)
        self._keys_by_id[normalised] = key
        early = self._early.pop(normalised, None)
        if early is not None:
            self._report(key, early)
        while len(self._keys_by_id) > 100_000:
            self._keys_by_id.popitem(last=False)
        return message_id
