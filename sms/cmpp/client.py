"""The SP side of one CMPP 2.0 long connection: connect, submit within a window, keep alive.

A thin Twisted shell over ``sms.cmpp.core`` (what each answer means) and the parts SMPP uses
too: the session states of ``sms.session`` (open -> binding = CONNECT sent -> bound =
connected -> unbinding = TERMINATE sent -> closed) and ``sms.window.SubmitWindow`` (window,
TPS bucket, pause after a flow-control answer).  Reconnecting is the sender's
``sms.link.LinkKeeper``'s job.  Every timer runs on the injected clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from automat import NoTransition
from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from sms import encoding
from sms.cmpp import core
from sms.cmpp.codec import (
    MAX_SEQ,
    VERSION_2,
    ActiveTest,
    ActiveTestResp,
    CodecError,
    Connect,
    ConnectResp,
    Deliver,
    DeliverResp,
    Pdu,
    Submit,
    SubmitResp,
    Terminate,
    TerminateResp,
    encode,
)
from sms.cmpp.framing import FrameReceiver
from sms.dlr import Receipt
from sms.esme_config import LinkLost, NotBound, ResponseTimeout
from sms.flow import Backoff, check_window
from sms.session import State, new_session
from sms.window import SubmitWindow

log = Logger(namespace="sms.cmpp")

OnReceipt = Callable[[Receipt], None]
_EARLY = 1e-6  # s: a timer that fires this close to a deadline has reached it (float sums)
OnDeliver = Callable[[Deliver, encoding.Decoded], None]  # an MO DELIVER and its text


class CmppError(Exception):
    """The ISMG refused a request: a CONNECT status or a SUBMIT_RESP Result."""

    def __init__(self, command: str, code: int, reason: str) -> None:
        super().__init__(f"{command} refused: {reason} ({code})")
        self.command, self.code, self.reason = command, code, reason

    @property
    def outcome(self) -> core.Outcome:
        return core.submit_outcome(self.code) if self.command == "submit" else core.Outcome.DEAD


def retryable(error: BaseException) -> bool:
    """The pump's rule for CMPP: no answer in time, or a Result worth another attempt."""
    return isinstance(error, ResponseTimeout) or (
        isinstance(error, CmppError) and error.outcome is core.Outcome.RETRY)


@dataclass(frozen=True, slots=True)
class CmppConfig:
    sp_id: str  # Source_Addr / Msg_src: the 6-digit SP code
    shared_secret: str
    service_id: str = ""
    src_id: str = ""  # the SP's service number patients see (and answer to)
    version: int = VERSION_2
    window: int = 16
    tps: float | None = None
    connect_timeout: float = 30.0
    response_timeout: float = 60.0
    terminate_timeout: float = 5.0
    heartbeat: core.Heartbeat = field(default_factory=core.Heartbeat)
    throttle_retries: int = 5
    throttle_backoff: Backoff = field(default_factory=Backoff)

    def __post_init__(self) -> None:
        check_window(self.window)
        if not (self.sp_id.isdigit() and len(self.sp_id) == 6):
            raise ValueError("sms.cmpp.sp_id must be the 6-digit SP code")
        if self.tps is not None and self.tps <= 0:
            raise ValueError(f"sms.cmpp tps must be > 0, got {self.tps}")
        if len(self.service_id) > 10 or len(self.src_id) > 21:
            raise ValueError("sms.cmpp: service_id is at most 10, src_id at most 21 characters")


@dataclass(slots=True)
class _Outstanding:
    name: str
    deferred: defer.Deferred[Any]
    timer: IDelayedCall | None  # None for a SUBMIT: its deadline is in the link's queue
    submit: Submit | None = None  # kept for a resubmission after a flow-control answer
    throttled: int = 0
    sent_at: float = 0.0


class CmppProtocol(FrameReceiver):
    def __init__(
        self,
        config: CmppConfig,
        clock: IReactorTime,
        *,
        on_receipt: OnReceipt | None = None,
        on_deliver: OnDeliver | None = None,
        on_lost: Callable[[CmppProtocol], None] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.on_receipt, self.on_deliver, self.on_lost = on_receipt, on_deliver, on_lost
        self._session, self._core = new_session()
        self._seq = 0
        self._outstanding: dict[int, _Outstanding] = {}
        self._window = SubmitWindow(config, clock, self._send_submit,  # type: ignore[arg-type]
                                    lambda: self._core.state is State.BOUND)
        self._idle: IDelayedCall | None = None
        self._heard = 0.0  # when the ISMG last sent anything
        self._unanswered = 0  # ACTIVE_TESTs timed out in a row
        # SUBMITs share one timeout, so their deadlines come in sending order: one timer for
        # the oldest instead of a timer per SUBMIT (set and cancelled thousands of times a s)
        self._deadlines: deque[tuple[float, int, _Outstanding]] = deque()
        self._sweeper: IDelayedCall | None = None
        self.throttled = 0
        self.refusal = ""  # why the last CONNECT failed (bad_authenticator, ...)
        self.latencies: list[float] | None = None

    @property
    def state(self) -> State:
        return self._core.state

    @property
    def in_flight(self) -> int:
        return self._window.in_flight

    # -- connection ------------------------------------------------------------------------
    def connectionMade(self) -> None:
        set_nodelay = getattr(self.transport, "setTcpNoDelay", None)
        if set_nodelay is not None:
            set_nodelay(True)
        self._touch()

    def connectionLost(self, reason: Failure | None = None) -> None:
        self._session.connection_lost()
        if self._idle is not None and self._idle.active():
            self._idle.cancel()
        self._idle = None
        if self._sweeper is not None and self._sweeper.active():
            self._sweeper.cancel()
        self._sweeper = None
        self._deadlines.clear()
        waiting = self._window.close()
        pending, self._outstanding = self._outstanding, {}
        for item in pending.values():
            if item.timer is not None and item.timer.active():
                item.timer.cancel()
            self._over(item)
            item.deferred.errback(LinkLost(f"link closed awaiting {item.name} answer"))
        for _, d, _n in waiting:
            d.errback(LinkLost("link closed before the SUBMIT was sent"))
        log.info("cmpp.link_closed")
        if self.on_lost is not None:
            self.on_lost(self)

    # -- callers ---------------------------------------------------------------------------
    def connect(self) -> defer.Deferred[None]:
        """CMPP_CONNECT; fails with ``CmppError``/``ResponseTimeout`` and closes the link."""
        try:
            self._session.bind_requested()
        except NoTransition:
            return defer.fail(NotBound(f"cannot connect a link that is {self.state.value}"))
        cfg = self.config
        request = core.connect_request(cfg.sp_id, cfg.shared_secret, self.clock.seconds())
        d = self._ask(Connect(cfg.sp_id, request.authenticator, cfg.version,
                              request.timestamp), cfg.connect_timeout, "connect")

        def answered(resp: ConnectResp) -> None:
            outcome = core.connect_outcome(resp, request.authenticator, cfg.shared_secret,
                                           cfg.version)
            if not outcome.ok:
                self.refusal = outcome.reason
                raise CmppError("connect", resp.status, outcome.reason)
            self._session.bind_accepted()
            log.info("cmpp.connect_ok sp_id={sp} version=0x{v:02X}", sp=cfg.sp_id,
                     v=resp.version)
            self._window.pump()

        def failed(f: Failure) -> Failure:
            if f.check(CmppError) and f.value.reason == "ismg_authenticator_mismatch":
                log.error("cmpp.ismg_not_authentic: the ISMG's AuthenticatorISMG does not match"
                          " our shared secret; refusing the link")
            elif f.check(CmppError):
                log.error("cmpp.connect_refused reason={why} status={s}", why=f.value.reason,
                          s=f.value.code)
            else:
                log.warn("cmpp.connect_failed why={why}", why=f.getErrorMessage())
            self._close()
            self._session.bind_failed()
            return f

        return d.addCallback(answered).addErrback(failed)

    def submit(self, submit: Submit) -> defer.Deferred[str]:
        """CMPP_SUBMIT; fires with the Msg_Id (decimal) once accepted.  Queues while the window
        is full; fails with ``CmppError`` (its ``outcome``), ``ResponseTimeout``, ``LinkLost``."""
        if self.state is not State.BOUND:
            return defer.fail(NotBound(f"link is {self.state.value}"))
        d: defer.Deferred[str] = defer.Deferred()
        self._window.add(submit, d)  # type: ignore[arg-type]
        return d

    def terminate(self) -> defer.Deferred[None]:
        """CMPP_TERMINATE, wait up to ``terminate_timeout`` for its answer, then close."""
        if self.state is not State.BOUND:
            self._close()
            return defer.succeed(None)
        self._session.unbind_requested()
        d = self._ask(Terminate(), self.config.terminate_timeout, "terminate")
        return d.addBoth(lambda _: self._close())

    # -- internals -------------------------------------------------------------------------
    def _next_seq(self) -> int:
        while True:
            self._seq = self._seq % MAX_SEQ + 1
            if self._seq not in self._outstanding:
                return self._seq

    def _request(self, pdu: Pdu, timeout: float, name: str, d: defer.Deferred[Any],
                 submit: Submit | None = None, throttled: int = 0) -> None:
        """Send ``pdu``; ``d`` fires with its answer (a SUBMIT's, given as ``submit``, with its
        Msg_Id once its window slot is free)."""
        seq = self._next_seq()
        item = _Outstanding(name, d, None, submit, throttled)  # type: ignore[arg-type]
        try:
            data = encode(seq, pdu)
        except CodecError as err:
            self._over(item)
            d.errback(ValueError(f"cannot encode {name}: {err}"))
            return
        item.sent_at = now = self.clock.seconds()
        if submit is None:
            item.timer = self.clock.callLater(timeout, self._timed_out, seq)
        else:
            deadlines = self._deadlines
            while deadlines and self._outstanding.get(deadlines[0][1]) is not deadlines[0][2]:
                deadlines.popleft()  # answered already
            deadlines.append((now + timeout, seq, item))
            if self._sweeper is None:
                self._sweeper = self.clock.callLater(timeout, self._sweep)
        self._outstanding[seq] = item
        if self.transport is not None:
            self.transport.write(data)

    def _ask(self, pdu: Pdu, timeout: float, name: str) -> defer.Deferred[Any]:
        d: defer.Deferred[Any] = defer.Deferred()
        self._request(pdu, timeout, name, d)
        return d

    def _send_submit(self, submit: Submit, caller: defer.Deferred[Any], throttled: int) -> None:
        self._request(submit, self.config.response_timeout, "submit", caller, submit, throttled)

    @staticmethod
    def _stop_timer(item: _Outstanding) -> None:
        if item.timer is not None:
            item.timer.cancel()

    def _over(self, item: _Outstanding) -> None:
        """A request is answered, failed or given up: a SUBMIT frees its window slot."""
        if item.submit is not None:
            self._window.release()

    def _sweep(self) -> None:
        """The oldest SUBMIT's deadline: time out every SUBMIT past its own, then wait for the
        next one still unanswered.  (``_sweeper`` stays set meanwhile: a SUBMIT sent by a
        caller of a timed-out one does not start a second timer.)"""
        deadlines = self._deadlines
        while deadlines:
            due, seq, item = deadlines[0]
            if self._outstanding.get(seq) is not item:
                deadlines.popleft()
            elif due - self.clock.seconds() <= _EARLY:
                deadlines.popleft()
                self._timed_out(seq)
            else:
                break
        self._sweeper = None
        if deadlines:
            self._sweeper = self.clock.callLater(deadlines[0][0] - self.clock.seconds(),
                                                 self._sweep)

    def _timed_out(self, seq: int) -> None:
        item = self._outstanding.pop(seq, None)
        if item is None:
            return
        if item.name == "active_test":
            self._unanswered += 1
            verdict = self.config.heartbeat.after_timeout(self._unanswered)
            log.warn("cmpp.active_test_unanswered tries={n} verdict={v}", n=self._unanswered,
                     v=verdict)
            if verdict == "dead":
                self._close()
            else:
                self._send_active_test()
            item.deferred.errback(ResponseTimeout("no ACTIVE_TEST_RESP"))
            return
        log.warn("cmpp.response_timeout command={c} seq={s}", c=item.name, s=seq)
        if item.name == "connect":
            self._close()
        self._over(item)
        item.deferred.errback(ResponseTimeout(f"no {item.name} answer within time"))

    def _close(self) -> None:
        if self.transport is not None and self.state is not State.CLOSED:
            self.transport.loseConnection()

    def _touch(self) -> None:
        """Something came from the ISMG: the link is alive; ACTIVE_TEST only after idling.
        Only the time is noted: the idle timer, when it fires, waits out the rest."""
        self._unanswered = 0
        self._heard = self.clock.seconds()
        if self._idle is None and self.state is not State.CLOSED:
            self._idle = self.clock.callLater(self.config.heartbeat.idle, self._idle_due)

    def _idle_due(self) -> None:
        rest = self._heard + self.config.heartbeat.idle - self.clock.seconds()
        if rest > _EARLY:  # heard from since the timer was set
            self._idle = self.clock.callLater(rest, self._idle_due)
            return
        self._idle = None
        if self.state is State.BOUND:
            self._send_active_test()

    def _send_active_test(self) -> None:
        if self.state is State.CLOSED:
            return
        d = self._ask(ActiveTest(), self.config.heartbeat.timeout, "active_test")
        d.addErrback(lambda f: None)  # the timeout decided already

    # -- wire ------------------------------------------------------------------------------
    def pduReceived(self, seq: int, pdu: Pdu) -> None:
        self._touch()
        if isinstance(pdu, ConnectResp | SubmitResp | TerminateResp | ActiveTestResp):
            self._response(seq, pdu)
        elif isinstance(pdu, ActiveTest):
            self.sendPdu(seq, ActiveTestResp())
        elif isinstance(pdu, Terminate):
            self.sendPdu(seq, TerminateResp())
            self._session.peer_unbind()
            log.info("cmpp.terminated_by_ismg")
            self._close()
        elif isinstance(pdu, Deliver):
            self.sendPdu(seq, DeliverResp(pdu.msg_id, 0))
            self._deliver(pdu)
        else:
            log.warn("cmpp.unexpected command={c} seq={s}", c=type(pdu).__name__, s=seq)

    def pduRejected(self, err: CodecError) -> None:
        super().pduRejected(err)
        if err.command_id == Deliver.COMMAND:  # answered, or the ISMG resends it forever
            self.sendPdu(err.seq, DeliverResp(0, 1))
        elif err.seq in self._outstanding and err.command_id & 0x80000000:
            item = self._outstanding.pop(err.seq)
            self._stop_timer(item)
            self._over(item)
            # Unknown whether the ISMG took it: -1 is no Result, so a SUBMIT is tried again
            item.deferred.errback(CmppError(item.name, -1, f"undecodable answer: {err.reason}"))

    def _response(self, seq: int, pdu: Pdu) -> None:
        item = self._outstanding.get(seq)
        if item is None:
            log.warn("cmpp.unexpected_response command={c} seq={s}", c=type(pdu).__name__,
                     s=seq)
            return
        if isinstance(pdu, SubmitResp) and pdu.result != 0:
            self._submit_refused(seq, item, pdu.result)
            return
        del self._outstanding[seq]
        self._stop_timer(item)
        if item.submit is not None:
            self._window.release()
            if not isinstance(pdu, SubmitResp):  # unknown whether the ISMG took it: try again
                item.deferred.errback(CmppError("submit", -1,
                                                f"answered with {type(pdu).__name__}"))
                return
            self._window.accepted()
            if self.latencies is not None:
                self.latencies.append(self.clock.seconds() - item.sent_at)
            item.deferred.callback(core.msg_id_text(pdu.msg_id))
            return
        item.deferred.callback(pdu)

    def _submit_refused(self, seq: int, item: _Outstanding, result: int) -> None:
        outcome = core.submit_outcome(result)
        if outcome is core.Outcome.THROTTLE:
            self.throttled += 1
            if item.submit is not None and item.throttled < self.config.throttle_retries:
                del self._outstanding[seq]
                self._window.requeue(item.submit, item.deferred,  # type: ignore[arg-type]
                                     item.throttled + 1, result)
                self._over(item)
                return
        del self._outstanding[seq]
        self._stop_timer(item)
        self._over(item)
        item.deferred.errback(CmppError("submit", result, core.describe_result(result)))

    def _deliver(self, pdu: Deliver) -> None:
        try:
            if pdu.registered_delivery == 1:
                receipt = core.receipt_of(pdu)
                if receipt is None:
                    log.warn("cmpp.bad_status_report octets={n}", n=len(pdu.msg_content))
                elif self.on_receipt is not None:
                    self.on_receipt(receipt)
            elif self.on_deliver is not None:
                self.on_deliver(pdu, core.decode_text(pdu.msg_fmt, pdu.tp_udhi,
                                                      pdu.msg_content))
        except Exception:
            log.failure("cmpp.deliver_callback_failed")
