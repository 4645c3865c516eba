"""``OutboxPump``: how an outbox sender (``sms.service.SmppSender``, the CMPP sender) takes
messages from its outbox and what becomes of each one.

Kept apart from the sender's lifecycle, link and receipt handling so the pacing (one take at
a time, at most ``prefetch`` messages out) and the outcome rules (done, retry later, resend
after the next bind, or dead) read in one place.  The sender hands it what it needs as
callables (the bound link, whether taking may start, a timer, the id -> key map), so the pump
can be driven on its own with a fake link and a ``Clock``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from pii import mask_tail
from sms import encoding
from sms.api import OutgoingSms
from sms.dlr import receipt_form
from sms.esme import (
    THROTTLES,
    EsmeProtocol,
    LinkLost,
    NotBound,
    ResponseTimeout,
    SmppError,
    State,
)
from sms.outbox import Outbox

log = Logger(namespace="sms.service")  # the sender's namespace: its log lines read as before

Later = Callable[..., None]  # (delay, f, *args): call f(*args) after delay seconds
Remember = Callable[[str, str], str]  # (message_id, key) -> message_id, in a submit's callback
# (link, message, concatenation ref) -> one Deferred message id per part; ValueError: unsendable
SubmitParts = Callable[[Any, OutgoingSms, int], list[defer.Deferred[str]]]
Retryable = Callable[[BaseException], bool]  # a failed submit's error: worth another attempt?


def smpp_retryable(error: BaseException) -> bool:
    """No resp in time, or an SMSC status that may pass later (a throttle that outlasted its
    resubmissions is not: the SMSC keeps saying no)."""
    if isinstance(error, SmppError) and error.status in THROTTLES:
        return False
    return isinstance(error, ResponseTimeout) or (isinstance(error, SmppError)
                                                  and error.retryable)


class OutboxPump:
    """Takes messages from the outbox while taking may go on and settles each one there."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        link: Callable[[], EsmeProtocol | None],
        may_take: Callable[[], bool],
        later: Later,
        remember: Remember,
        source_addr: str,
        source_ton_npi: tuple[int, int] = (0, 0),
        receipt_ids: str = "same",
        prefetch: int = 32,
        max_attempts: int = 5,
        retry_delay: float = 5.0,
        submit_parts: SubmitParts | None = None,
        retryable: Retryable = smpp_retryable,
    ) -> None:
        """``link`` is the ESME to submit on (None while down); ``may_take`` says whether the
        sender is running, bound and past its start-up recovery; ``later`` is the sender's
        timer (cancelled when it stops); ``remember`` maps each part's message id to its key
        as its resp arrives; ``receipt_ids`` is the form done ids are recorded in.
        ``submit_parts`` and ``retryable`` speak another protocol (CMPP) over the same pump:
        by default a message becomes submit_sm PDUs and SMPP statuses decide on retries."""
        self.outbox = outbox
        self._link = link
        self._may_take = may_take
        self._later = later
        self._remember = remember
        self.source_addr = source_addr
        self.source_ton_npi = source_ton_npi
        self.receipt_ids = receipt_ids
        self.prefetch = prefetch  # taken ahead so the window never waits on Redis
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay  # seconds, times the attempt number
        self.active = 0  # messages taken from the outbox and not settled yet
        self._resting = 0  # of those, waiting on a timer to go back to the outbox
        self._attempts: dict[str, int] = {}  # key -> failed retryable attempts so far
        self._submit_parts = submit_parts or self._submit_sm
        self._retryable = retryable
        self._ref = 0  # the last 8-bit concatenation reference
        self._taking = False
        self._missed = False

    def flush(self) -> None:
        """Take a batch from the outbox when allowed and below the prefetch limit (one take at
        a time); each taken message goes to the ESME, whose window and TPS bucket pace it.
        Waits until a quarter of the prefetch is free (unless the link is running short):
        fewer, larger takes, each one a Redis script call and a write to disk, while three
        quarters still cover the window during the take."""
        room = self.prefetch - self.active
        if self._taking:
            self._missed = True  # something arrived while a take was out: take again after it
            return
        if not self._may_take() or room <= 0:
            return
        quarter = self.prefetch // 4
        if room < quarter and self.active - self._resting >= quarter:
            return
        self._taking, self._missed = True, False
        d = defer.maybeDeferred(self.outbox.take, room)

        def taken(messages: list[OutgoingSms]) -> None:
            self._taking = False
            for message in messages:
                self._submit(message)
            if messages or self._missed:
                self.flush()

        def failed(f: Failure) -> None:
            self._taking = False
            log.error("sms.outbox_take_failed why={why}", why=f.getErrorMessage())
            self._later(1.0, self.flush)

        d.addCallbacks(taken, failed)

    def _submit(self, message: OutgoingSms) -> None:
        esme = self._link()
        self.active += 1
        if esme is None or esme.state is not State.BOUND:
            self._settle(self.outbox.retry, message)
            return
        try:
            if not (message.to.isdigit() and len(message.to) <= 20):
                raise ValueError(f"destination {mask_tail(message.to)!r} is not 1-20 digits")
            submits = self._submit_parts(esme, message, self._next_ref())
        except ValueError as err:
            log.error("sms.unsendable key={key} why={why}", key=message.key, why=str(err))
            self._settle(self.outbox.dead, message, str(err))
            return
        if len(submits) == 1:  # the common case, without a DeferredList
            submits[0].addCallbacks(self._one_submitted, self._one_failed,
                                    callbackArgs=(message,), errbackArgs=(message,))
            return
        for d in submits:  # map ids as each resp arrives: a part's receipt may beat the rest
            d.addCallback(self._remember, message.key)
        done = defer.DeferredList(submits, consumeErrors=True)
        done.addCallback(self._submitted, message)

    def _submit_sm(self, esme: EsmeProtocol, message: OutgoingSms,
                   ref: int) -> list[defer.Deferred[str]]:
        ton, npi = self.source_ton_npi
        return [
            esme.submit({
                "source_addr_ton": ton, "source_addr_npi": npi, "source_addr": self.source_addr,
                "dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": message.to,
                "esm_class": part.esm_class, "registered_delivery": 1,
                "data_coding": part.data_coding, "short_message": part.short_message,
            })
            for part in encoding.split(message.text, ref)
        ]

    def _settle(self, call: Callable[..., Any], message: OutgoingSms, *args: Any) -> None:
        """Record the message's outcome in the outbox, then free its prefetch slot."""
        d = defer.maybeDeferred(call, message, *args)

        def settled(_: Any) -> None:
            self.active -= 1
            self.flush()

        def failed(f: Failure) -> None:  # the outbox keeps it in flight: recovered on restart
            log.error("sms.outbox_write_failed key={key} why={why}", key=message.key,
                      why=f.getErrorMessage())
            self.active -= 1

        d.addCallbacks(settled, failed)

    def _one_submitted(self, message_id: str, message: OutgoingSms) -> None:
        self._submitted([(True, self._remember(message_id, message.key))], message)

    def _one_failed(self, failure: Failure, message: OutgoingSms) -> None:
        self._submitted([(False, failure)], message)

    def _submitted(self, results: list[tuple[bool, Any]], message: OutgoingSms) -> None:
        failures = [r for ok, r in results if not ok]
        if not failures:
            self._attempts.pop(message.key, None)
            ids = [receipt_form(str(r), self.receipt_ids) for _, r in results]
            # The SMSC has it: free the slot now and record the fact in the background (a
            # crash before the write re-sends it: the at-least-once case, a duplicate).
            self.active -= 1
            d = defer.maybeDeferred(self.outbox.done, message, ids)
            d.addErrback(lambda f: log.error("sms.outbox_write_failed key={key} why={why}",
                                             key=message.key, why=f.getErrorMessage()))
            self.flush()
            return
        failure: Failure = failures[0]
        if failure.check(LinkLost, NotBound):
            self._settle(self.outbox.retry, message)  # resent after the next bind
            return
        error = failure.value
        retryable = self._retryable(error)
        attempts = self._attempts[message.key] = self._attempts.get(message.key, 0) + 1
        if not retryable or attempts >= self.max_attempts:
            self._attempts.pop(message.key, None)
            why = f"{error} (attempt {attempts})"
            log.error("sms.failed to={to} why={why}", to=mask_tail(message.to), why=why)
            self._settle(self.outbox.dead, message, why)
            return
        log.warn("sms.retry to={to} why={why}", to=mask_tail(message.to), why=str(error))
        self._resting += 1
        self._later(self.retry_delay * attempts, self._retry_later, message)

    def _retry_later(self, message: OutgoingSms) -> None:
        self._resting -= 1
        self._settle(self.outbox.retry, message)

    def _next_ref(self) -> int:
        self._ref = (self._ref + 1) % 256
        return self._ref
