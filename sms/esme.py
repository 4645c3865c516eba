"""The ESME side of one SMPP 3.4 transceiver link: bind, submit within a window, keep alive.

States: open -> binding -> bound -> unbinding -> closed (drawn in docs/sms.md).  Inputs come
from the wire (responses, enquire_link, unbind, deliver_sm), from timers (bind/response
timeouts, idle enquire_link) and from callers (``bind``, ``submit``, ``unbind``).  The clock is
injected; reconnecting is ``sms.service``'s job (sms.link.LinkKeeper), not this protocol's, and
pacing submit_sm (window, TPS, throttle pause) is ``sms.window.SubmitWindow``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from automat import NoTransition
from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from sms import encoding
from sms.dlr import Receipt, is_receipt, parse_receipt
from sms.esme_config import EsmeConfig, LinkLost, NotBound, ResponseTimeout, SmppError
from sms.session import State, new_session
from sms.smpp import status as st
from sms.smpp.framing import PduReceiver
from sms.smpp.pdu import MAX_SEQ, RESPONSE_BIT, Pdu, PduError, encode_pdu, response_for
from sms.window import THROTTLES, SubmitWindow

log = Logger(namespace="sms.esme")
__all__ = ["THROTTLES", "EsmeConfig", "EsmeProtocol", "LinkLost", "NotBound", "ResponseTimeout",
           "SmppError", "State"]

OnReceipt = Callable[[Receipt], None]
OnMessage = Callable[[str, str, str], None]  # (to, from, text) for mobile-originated SMS
OnDeliver = Callable[[Pdu, encoding.Decoded], None]  # the raw MO deliver_sm and its decoding


@dataclass(slots=True)
class _Outstanding:
    command: str
    deferred: defer.Deferred[Pdu]
    timer: IDelayedCall
    params: dict[str, Any] | None = None  # submit_sm: kept for a resubmission after a throttle
    throttled: int = 0
    sent_at: float = 0.0


class EsmeProtocol(PduReceiver):
    def __init__(
        self,
        config: EsmeConfig,
        clock: IReactorTime,
        *,
        on_receipt: OnReceipt | None = None,
        on_message: OnMessage | None = None,
        on_lost: Callable[[EsmeProtocol], None] | None = None,
        on_deliver: OnDeliver | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.on_receipt = on_receipt
        self.on_message = on_message
        self.on_lost = on_lost
        self.on_deliver = on_deliver  # wins over on_message: sees UDH concat info and TLVs
        self._session, self._core = new_session()  # sms.session: the explicit machine
        self._seq = 0
        self._outstanding: dict[int, _Outstanding] = {}
        self._window = SubmitWindow(config, clock, self._send_submit, self._bound)
        self._idle: IDelayedCall | None = None
        self.throttled = 0  # throttle responses seen on this link (observability)
        self.latencies: list[float] | None = None  # set to a list: submit_sm -> resp seconds

    @property
    def state(self) -> State:
        return self._core.state

    # -- connection ----------------------------------------------------------------------
    def connectionMade(self) -> None:
        set_nodelay = getattr(self.transport, "setTcpNoDelay", None)
        if set_nodelay is not None:  # PDUs are small and answered: Nagle only adds latency
            set_nodelay(True)
        self._touch()

    def connectionLost(self, reason: Failure | None = None) -> None:
        self._session.connection_lost()
        if self._idle is not None and self._idle.active():
            self._idle.cancel()
        self._idle = None
        waiting = self._window.close()
        pending, self._outstanding = self._outstanding, {}
        for item in pending.values():
            if item.timer.active():
                item.timer.cancel()
            self._over(item)
            item.deferred.errback(LinkLost(f"link closed awaiting {item.command}_resp"))
        for _, d, _n in waiting:
            d.errback(LinkLost("link closed before submit_sm was sent"))
        log.info("smpp.link_closed")
        if self.on_lost is not None:
            self.on_lost(self)

    # -- callers -------------------------------------------------------------------------
    def bind(self) -> defer.Deferred[None]:
        """bind_transceiver; fails with SmppError/ResponseTimeout and then closes the link."""
        try:
            self._session.bind_requested()
        except NoTransition:
            return defer.fail(NotBound(f"cannot bind a link that is {self.state.value}"))
        cfg = self.config
        d = self._ask(
            Pdu("bind_transceiver", 0, 0, {
                "system_id": cfg.system_id, "password": cfg.password,
                "system_type": cfg.system_type, "interface_version": 0x34,
            }),
            cfg.bind_timeout,
        )

        def bound(resp: Pdu) -> None:
            self._session.bind_accepted()
            log.info("smpp.bind_ok system_id={sid}", sid=resp.get("system_id", ""))
            self._window.pump()

        def failed(f: Failure) -> Failure:
            log.warn("smpp.bind_failed {why}", why=f.getErrorMessage())
            self._close()
            self._session.bind_failed()
            return f

        return d.addCallbacks(bound, failed)

    def submit(self, params: dict[str, Any]) -> defer.Deferred[str]:
        """submit_sm; fires with the SMSC's message_id.  Queues while the window is full."""
        if self.state is not State.BOUND:
            return defer.fail(NotBound(f"link is {self.state.value}"))
        d: defer.Deferred[Pdu] = defer.Deferred()
        self._window.add(params, d)
        return d.addCallback(lambda resp: str(resp.get("message_id") or ""))

    def unbind(self) -> defer.Deferred[None]:
        """Polite goodbye: unbind, wait up to unbind_timeout for unbind_resp, then close."""
        if self.state is not State.BOUND:
            self._close()
            return defer.succeed(None)
        self._session.unbind_requested()
        d = self._ask(Pdu("unbind", 0), self.config.unbind_timeout)
        return d.addBoth(lambda _: self._close())

    @property
    def in_flight(self) -> int:
        return self._window.in_flight

    @property
    def queued(self) -> int:
        return len(self._window.waiting)

    # -- internals -----------------------------------------------------------------------
    def _next_seq(self) -> int:
        while True:
            self._seq = self._seq % MAX_SEQ + 1
            if self._seq not in self._outstanding:
                return self._seq

    def _request(self, pdu: Pdu, timeout: float, d: defer.Deferred[Pdu],
                 params: dict[str, Any] | None = None, throttled: int = 0) -> None:
        """Send ``pdu``; ``d`` fires with its response (a submit_sm's, given its ``params``,
        once its window slot is free)."""
        seq = self._next_seq()
        item = _Outstanding(pdu.command, d, None, params, throttled)  # type: ignore[arg-type]
        try:
            data = encode_pdu(Pdu(pdu.command, seq, 0, pdu.params))
        except (ValueError, TypeError) as err:  # e.g. a 30-digit destination_addr
            self._over(item)
            d.errback(ValueError(f"cannot encode {pdu.command}: {err}"))
            return
        item.timer = self.clock.callLater(timeout, self._timed_out, seq)
        item.sent_at = self.clock.seconds()
        self._outstanding[seq] = item
        if self.transport is not None:
            self.transport.write(data)

    def _ask(self, pdu: Pdu, timeout: float) -> defer.Deferred[Pdu]:
        d: defer.Deferred[Pdu] = defer.Deferred()
        self._request(pdu, timeout, d)
        return d

    def _bound(self) -> bool:
        return self._core.state is State.BOUND

    def _send_submit(
        self, params: dict[str, Any], caller: defer.Deferred[Pdu], throttled: int
    ) -> None:
        """One submit_sm handed over by the window; kept with its request for a resubmission.
        Its answer fires ``caller`` once its window slot is released (``_over``)."""
        self._request(Pdu("submit_sm", 0, 0, params), self.config.response_timeout, caller,
                      params, throttled)

    def _over(self, item: _Outstanding) -> None:
        """A request is answered, failed or given up: a submit_sm frees its window slot."""
        if item.params is not None:
            self._window.release()

    def _throttled(self, seq: int, item: _Outstanding, status: int) -> bool:
        """RTHROTTLED/RMSGQFUL: pause the whole window and resubmit this PDU (new seq) first.
        False once it was throttled ``throttle_retries`` times: then it fails."""
        self.throttled += 1
        if item.params is None or item.throttled >= self.config.throttle_retries:
            return False
        del self._outstanding[seq]
        item.timer.cancel()
        self._window.requeue(item.params, item.deferred, item.throttled + 1, status)
        self._over(item)  # frees its window slot; the pause holds the rest
        return True

    def _timed_out(self, seq: int) -> None:
        item = self._outstanding.pop(seq, None)
        if item is None:
            return
        log.warn("smpp.response_timeout command={cmd} seq={seq}", cmd=item.command, seq=seq)
        if item.command in ("enquire_link", "bind_transceiver"):
            self._close()  # a dead link: enquire_link unanswered, or no bind_resp
        self._over(item)
        item.deferred.errback(ResponseTimeout(f"no {item.command}_resp within time"))

    def _close(self) -> None:
        if self.transport is not None and self.state is not State.CLOSED:
            self.transport.loseConnection()

    def _touch(self) -> None:
        """Restart the idle timer: enquire_link only when nothing arrived for a while."""
        if self._idle is not None and self._idle.active():
            self._idle.reset(self.config.enquire_link_interval)
        elif self.state is not State.CLOSED:
            self._idle = self.clock.callLater(self.config.enquire_link_interval, self._idle_due)

    def _idle_due(self) -> None:
        self._idle = None
        if self.state in (State.BOUND, State.BINDING):
            d = self._ask(Pdu("enquire_link", 0), self.config.response_timeout)
            d.addErrback(lambda f: None)  # timeout already closed the link
        self._touch()

    # -- wire ----------------------------------------------------------------------------
    def pduReceived(self, pdu: Pdu) -> None:
        self._touch()
        if pdu.is_response:
            self._response(pdu)
        elif pdu.command == "enquire_link":
            self.sendPdu(response_for(pdu))
        elif pdu.command == "unbind":
            self.sendPdu(response_for(pdu))
            self._session.peer_unbind()
            self._close()
        elif pdu.command == "deliver_sm":
            self.sendPdu(response_for(pdu))
            self._deliver(pdu)
        else:
            self.sendPdu(Pdu("generic_nack", pdu.seq, st.RINVCMDID))

    def pduRejected(self, err: PduError) -> None:
        if err.command_id & RESPONSE_BIT and err.seq in self._outstanding:
            self._fail(err.seq, SmppError(f"undecodable response 0x{err.command_id:08X}",
                                          err.status))
            return
        log.warn("smpp.pdu_rejected {why}", why=err.reason)
        super().pduRejected(err)

    def _response(self, pdu: Pdu) -> None:
        item = self._outstanding.get(pdu.seq)
        if item is None:
            log.warn("smpp.unexpected_response command={c} seq={s}", c=pdu.command, s=pdu.seq)
            return
        if (pdu.status in THROTTLES and item.command == "submit_sm"
                and self._throttled(pdu.seq, item, pdu.status)):
            return
        if item.command == "submit_sm" and pdu.status == 0:
            self._window.accepted()
        if pdu.status != 0 or pdu.command == "generic_nack":
            self._fail(pdu.seq, SmppError(item.command, pdu.status))
            return
        del self._outstanding[pdu.seq]
        item.timer.cancel()
        if self.latencies is not None and item.command == "submit_sm":
            self.latencies.append(self.clock.seconds() - item.sent_at)
        self._over(item)
        item.deferred.callback(pdu)

    def _fail(self, seq: int, error: Exception) -> None:
        item = self._outstanding.pop(seq)
        item.timer.cancel()
        self._over(item)
        item.deferred.errback(error)

    def _deliver(self, pdu: Pdu) -> None:
        esm_class = int(pdu.get("esm_class", 0))
        body = pdu.get("short_message") or pdu.get("message_payload") or b""
        decoded = encoding.decode(int(pdu.get("data_coding", 0)), esm_class, body)
        try:
            if is_receipt(esm_class, pdu.params):
                receipt = parse_receipt(pdu.params, decoded.text)
                if receipt is not None and self.on_receipt is not None:
                    self.on_receipt(receipt)
            elif self.on_deliver is not None:
                self.on_deliver(pdu, decoded)
            elif self.on_message is not None:
                self.on_message(pdu.get("destination_addr", ""), pdu.get("source_addr", ""),
                                decoded.text)
        except Exception:
            log.failure("smpp.deliver_callback_failed")
