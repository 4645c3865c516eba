"""USSD carried in SMPP: a transceiver bind of its own to the operator's USSD centre (USSDC).

The USSDC sends what the handset keyed as ``deliver_sm`` with the ``ussd_service_op`` TLV
(op codes per vendor, ``UssdOpCodes``; default 1 = new dialogue, 18 = the user's answer) and
``its_session_info`` (octet 1: the dialogue number; octet 2: sequence << 1 | end bit). We
answer with ``submit_sm`` to the caller: op 2 (USSR request: show and wait) or op 17 (PSSR
response: show and close), echoing ``its_session_info`` with the end bit set on the last screen.
A vendor abort op code (the user pressed cancel) or our own sliding timeout (the network gave
up) ends the dialogue; the caller's record stays, so a redial within ``resume_s`` may continue.
The TLVs and the link (bind, window, enquire_link) come from ``sms.smpp`` and ``sms.esme``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from pii import mask_tail
from sms import encoding, gsm0338
from sms.esme import EsmeConfig, EsmeProtocol, State
from sms.flow import reconnect_policy
from sms.link import LinkKeeper
from sms.smpp.pdu import Pdu
from ussd.gateway import HopReply, UssdGateway
from ussd.inputs import InputKind, dialed_entry

log = Logger(namespace="hotline.ussd.smpp")


@dataclass(frozen=True, slots=True)
class UssdOpCodes:
    """What ``ussd_service_op`` values mean at this USSDC (SMPP 3.4 5.3.2.44 plus vendor codes)."""

    new: Collection[int] = (1,)  # PSSR indication: the user dialled the service code
    cont: Collection[int] = (18,)  # USSR confirm: the user's answer to our screen
    abort: Collection[int] = (0x81,)  # vendor: the user cancelled (Mica/6D convention)
    timeout: Collection[int] = ()  # vendor: the network timed the dialogue out
    reply_continue: int = 2  # USSR request: show and wait for an answer
    reply_end: int = 17  # PSSR response: show and close

    @classmethod
    def from_settings(cls, raw: dict[str, Any] | None) -> UssdOpCodes:
        raw = raw or {}
        known = {"new", "cont", "abort", "timeout", "reply_continue", "reply_end"}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown USSD op-code setting(s): {', '.join(sorted(unknown))}")

        def codes(name: str, default: Collection[int]) -> tuple[int, ...]:
            value = raw.get(name, default)
            values = value if isinstance(value, list | tuple) else [value]
            if not all(isinstance(v, int) and 0 <= v <= 255 for v in values):
                raise ValueError(f"ussd op code {name} must be 0-255")
            return tuple(values)

        base = cls()
        return cls(
            new=codes("new", base.new), cont=codes("cont", base.cont),
            abort=codes("abort", base.abort), timeout=codes("timeout", base.timeout),
            reply_continue=codes("reply_continue", (base.reply_continue,))[0],
            reply_end=codes("reply_end", (base.reply_end,))[0],
        )


def session_info(raw: bytes | None) -> tuple[int | None, int]:
    """(dialogue number, sequence) from ``its_session_info``; (None, 0) when absent."""
    if raw is None or len(raw) != 2:
        return None, 0
    return raw[0], raw[1] >> 1


def reply_session_info(raw: bytes | None, end: bool) -> bytes | None:
    """The MO's ``its_session_info`` echoed, with bit 0 of octet 2 set on the last screen."""
    if raw is None or len(raw) != 2:
        return None
    return bytes([raw[0], (raw[1] & 0xFE) | (1 if end else 0)])


def encode_screen(text: str) -> tuple[int, bytes]:
    """(data_coding, short_message): GSM 03.38 unpacked when it fits the alphabet, else UCS2."""
    if gsm0338.can_encode(text):
        return encoding.DC_GSM, gsm0338.encode(text)
    return encoding.DC_UCS2, text.encode("utf-16-be")


@dataclass
class _Dialogue:
    msisdn: str
    info: bytes | None
    service: str  # our address at the USSDC (the dialled code), the reply's source_addr
    timer: IDelayedCall | None = field(default=None)


class UssdEsme(EsmeProtocol):
    """The ESME link, taking USSD ``deliver_sm`` for the service instead of SMS handling."""

    service: UssdSmppService

    def _deliver(self, pdu: Pdu) -> None:
        if pdu.get("ussd_service_op") is None:
            log.warn("ussd.smpp non-USSD deliver_sm ignored from={msisdn}",
                     msisdn=mask_tail(str(pdu.get("source_addr", ""))))
            return
        try:
            self.service.deliver(pdu)
        except Exception:
            log.failure("ussd.smpp deliver failed")


class _Factory(Factory):
    def __init__(self, service: UssdSmppService) -> None:
        self.service = service

    def buildProtocol(self, addr: Any) -> UssdEsme:
        proto = UssdEsme(self.service.config, self.service.clock, on_lost=self.service._lost)
        proto.service = self.service
        return proto


class UssdSmppService(Service):
    """Keeps the USSD bind up (backoff 1 s -> 60 s) and turns USSD PDUs into gateway hops."""

    def __init__(
        self,
        gateway: UssdGateway,
        host: str,
        port: int,
        system_id: str,
        password: str,
        *,
        reactor: Any,
        clock: IReactorTime | None = None,
        ops: UssdOpCodes | None = None,
        system_type: str = "USSD",
        endpoint: IStreamClientEndpoint | None = None,
        timeout_s: float | None = None,
        retry_policy: Any = None,
    ) -> None:
        self.gateway = gateway
        self.clock: IReactorTime = clock if clock is not None else reactor
        self.config = EsmeConfig(system_id, password, system_type)
        self.ops = ops or UssdOpCodes()
        self.timeout_s = timeout_s if timeout_s is not None else gateway.timeout_s
        self._esme: UssdEsme | None = None
        self._dialogues: dict[str, _Dialogue] = {}
        self._keeper: LinkKeeper[Any] = LinkKeeper(
            endpoint if endpoint is not None else HostnameEndpoint(reactor, host, port),
            _Factory(self), self._prepare,
            retry_policy or reconnect_policy(), self.clock, name="ussd.smpp")
        self.bound_once: defer.Deferred[None] = defer.Deferred()

    @property
    def bound(self) -> bool:
        return self._esme is not None and self._esme.state is State.BOUND

    def startService(self) -> None:
        super().startService()
        self._keeper.start()

    @defer.inlineCallbacks
    def stopService(self) -> Any:
        super().stopService()
        for dialogue in self._dialogues.values():
            if dialogue.timer is not None and dialogue.timer.active():
                dialogue.timer.cancel()
        self._dialogues.clear()
        esme = self._esme
        if esme is not None and esme.state is State.BOUND:
            yield esme.unbind()
        yield self._keeper.stop()

    def _prepare(self, esme: UssdEsme) -> defer.Deferred[None]:
        return esme.bind().addCallback(lambda _: self._bound(esme))

    def _bound(self, esme: UssdEsme) -> None:
        self._esme = esme
        log.info("ussd.smpp bound system_id={sid}", sid=self.config.system_id)
        if not self.bound_once.called:
            self.bound_once.callback(None)

    def _lost(self, esme: EsmeProtocol) -> None:
        if self._esme is esme:
            self._esme = None
        self._keeper.lost(esme)

    # -- dialogues ---------------------------------------------------------------------
    def deliver(self, pdu: Pdu) -> None:
        """One USSD MO: start, continue or end a dialogue (the deliver_sm_resp is already sent)."""
        op = int(pdu.get("ussd_service_op"))
        msisdn = str(pdu.get("source_addr", ""))
        raw_info = pdu.get("its_session_info")
        number, _seq = session_info(raw_info)
        session_id = f"{msisdn}:{number if number is not None else '-'}"
        if not msisdn.isdigit():
            log.warn("ussd.smpp deliver_sm without a usable source_addr ignored")
            return
        if op in self.ops.abort or op in self.ops.timeout:
            self._end(session_id, "abort" if op in self.ops.abort else "timeout")
            return
        entry = ""
        if op in self.ops.new:
            value: str | None = None
            # a PSSR indication carries the string dialed: "*12580*12#" chose hospital 12
            body = pdu.get("short_message") or pdu.get("message_payload") or b""
            entry = dialed_entry(encoding.decode_text(int(pdu.get("data_coding", 0)), body))
        elif op in self.ops.cont:
            body = pdu.get("short_message") or pdu.get("message_payload") or b""
            value = encoding.decode_text(int(pdu.get("data_coding", 0)), body).strip()
        else:
            log.warn("ussd.smpp unknown ussd_service_op={op} from={msisdn}", op=op,
                     msisdn=mask_tail(msisdn))
            return
        dialogue = self._dialogues.get(session_id)
        if dialogue is None:
            dialogue = self._dialogues[session_id] = _Dialogue(
                msisdn, raw_info, str(pdu.get("destination_addr", "")))
        dialogue.info = raw_info
        self._arm(session_id, dialogue)
        d = defer.Deferred.fromCoroutine(self.gateway.hop_input(session_id, msisdn, value,
                                                                entry=entry))
        d.addCallback(self._answer, session_id, dialogue)
        d.addErrback(self._failed, session_id, dialogue)

    def _answer(self, reply: HopReply, session_id: str, dialogue: _Dialogue) -> Any:
        end = reply.final or reply.status != 200
        text = reply.screen if reply.status == 200 else self.gateway.notice("error")[4:]
        if end:
            self._forget(session_id)
        return self._submit(dialogue, text, end)

    def _failed(self, failure: Failure, session_id: str, dialogue: _Dialogue) -> Any:
        log.failure("ussd.smpp hop failed (session kept)", failure)
        self._forget(session_id)
        return self._submit(dialogue, self.gateway.notice("error")[4:], True)

    def _submit(self, dialogue: _Dialogue, text: str, end: bool) -> Any:
        esme = self._esme
        if esme is None or esme.state is not State.BOUND:
            log.warn("ussd.smpp reply dropped: not bound to={msisdn}",
                     msisdn=mask_tail(dialogue.msisdn))
            return None
        coding, body = encode_screen(text)
        params: dict[str, Any] = {
            "service_type": "USSD", "source_addr": dialogue.service, "dest_addr_ton": 1,
            "dest_addr_npi": 1, "destination_addr": dialogue.msisdn, "data_coding": coding,
            "short_message": body,
            "ussd_service_op": self.ops.reply_end if end else self.ops.reply_continue,
        }
        info = reply_session_info(dialogue.info, end)
        if info is not None:
            params["its_session_info"] = info
        d = esme.submit(params)
        d.addErrback(lambda f: log.warn("ussd.smpp submit failed to={msisdn}: {why}",
                                        msisdn=mask_tail(dialogue.msisdn),
                                        why=f.getErrorMessage()))
        return d

    def _arm(self, session_id: str, dialogue: _Dialogue) -> None:
        """(Re)start the sliding timeout: no answer from the user within it ends the dialogue."""
        if dialogue.timer is not None and dialogue.timer.active():
            dialogue.timer.reset(self.timeout_s)
        else:
            dialogue.timer = self.clock.callLater(self.timeout_s, self._end, session_id,
                                                  "timeout")

    def _end(self, session_id: str, why: str) -> None:
        """The user aborted or the network timed out: forget the dialogue, keep the record."""
        dialogue = self._forget(session_id)
        msisdn = dialogue.msisdn if dialogue else session_id.split(":", 1)[0]
        log.info("ussd.smpp dialogue ended by {why} msisdn={msisdn}", why=why,
                 msisdn=mask_tail(msisdn))
        self.gateway.record_event(msisdn, "-", InputKind.END, why, 0.0)
        self.gateway.store.forget(self.gateway.gateway, msisdn)

    def _forget(self, session_id: str) -> _Dialogue | None:
        dialogue = self._dialogues.pop(session_id, None)
        if dialogue is not None and dialogue.timer is not None and dialogue.timer.active():
            dialogue.timer.cancel()
        return dialogue

    @property
    def open_dialogues(self) -> int:
        return len(self._dialogues)
