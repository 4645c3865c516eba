"""A loopback ISMG (China Mobile's SMS gateway) for ``hotline demo`` and tests.

Stricter than a real gateway where that catches our mistakes: CONNECT must carry the right
MD5 authenticator for the configured SP code and secret and a real MMDDHHMMSS; a SUBMIT before
CONNECT closes the link; each SUBMIT is checked (Msg_src is our SP code, Pk_total/Pk_number and
the UDH agree, the content decodes in its Msg_Fmt) and answered with a Msg_Id laid out as the
specification says; whole messages (parts reassembled) go to ``on_message(to, from, text)``;
with Registered_Delivery 1 a status report DELIVER follows, and every DELIVER_RESP must name the
Msg_Id it answers.  ``deliver_mo`` sends a patient's message to every connected SP.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory
from twisted.logger import Logger

from sms.cmpp import core
from sms.cmpp.codec import (
    MAX_SEQ,
    VERSION_2,
    ActiveTest,
    ActiveTestResp,
    Cancel,
    CancelResp,
    CodecError,
    Connect,
    ConnectResp,
    Deliver,
    DeliverResp,
    Pdu,
    Query,
    QueryResp,
    StatusReport,
    Submit,
    SubmitResp,
    Terminate,
    TerminateResp,
    authenticator_ismg,
    encode_report,
    make_msg_id,
)
from sms.cmpp.framing import FrameReceiver

log = Logger(namespace="sms.ismg")

OnMessage = Callable[[str, str, str], None]  # (to, from, text)
# A test's say on one SUBMIT: its Result (0 accepts), or None: taken, but the answer is lost
Verdict = Callable[[Submit], int | None]


def _stamp_ok(stamp: int) -> bool:
    text = f"{stamp:010d}"
    try:
        dt.datetime.strptime("2000" + text, "%Y%m%d%H%M%S")  # 2000: leap, so 0229 passes
    except ValueError:
        return False
    return len(text) == 10


class IsmgProtocol(FrameReceiver):
    factory: IsmgFactory

    def __init__(self) -> None:
        self.logged_in = False
        self._seq = 0
        self.sp_id = ""
        self._parts: dict[tuple[str, str, int, int], dict[int, str]] = {}
        self.unanswered: dict[int, int] = {}  # our DELIVER seq -> the Msg_Id it carried

    def connectionMade(self) -> None:
        set_nodelay = getattr(self.transport, "setTcpNoDelay", None)
        if set_nodelay is not None:  # answers are small: Nagle would only hold them back
            set_nodelay(True)
        self.factory.connections.add(self)

    def connectionLost(self, reason: object = None) -> None:
        self.factory.connections.discard(self)

    def _next_seq(self) -> int:
        self._seq = self._seq % MAX_SEQ + 1
        return self._seq

    def pduReceived(self, seq: int, pdu: Pdu) -> None:
        f = self.factory
        if isinstance(pdu, Connect):
            self._connect(seq, pdu)
        elif not self.logged_in:
            f.violations.append(f"{type(pdu).__name__} before CONNECT")
            self.transport.loseConnection()
        elif isinstance(pdu, Submit):
            self._submit(seq, pdu)
        elif isinstance(pdu, DeliverResp):
            expected = self.unanswered.pop(seq, None)
            if expected is None or expected != pdu.msg_id or pdu.result != 0:
                f.violations.append(f"DELIVER_RESP seq={seq} msg_id={pdu.msg_id} "
                                    f"result={pdu.result} (sent {expected})")
        elif isinstance(pdu, ActiveTest):
            f.active_tests += 1
            self.sendPdu(seq, ActiveTestResp())
        elif isinstance(pdu, Terminate):
            f.terminates += 1
            self.sendPdu(seq, TerminateResp())
            self.logged_in = False
            self.transport.loseConnection()
        elif isinstance(pdu, Query):
            self.sendPdu(seq, QueryResp(pdu.time, pdu.query_type, pdu.query_code,
                                        mt_tlmsg=len(f.submits), mt_scs=len(f.submits)))
        elif isinstance(pdu, Cancel):
            self.sendPdu(seq, CancelResp(1))  # every message is delivered at once: too late
        elif isinstance(pdu, ActiveTestResp | TerminateResp):
            pass
        else:
            f.violations.append(f"unexpected {type(pdu).__name__}")

    def pduRejected(self, err: CodecError) -> None:
        super().pduRejected(err)
        self.factory.violations.append(f"undecodable 0x{err.command_id:08X}: {err.reason}")
        if err.command_id == Submit.COMMAND:
            self.sendPdu(err.seq, SubmitResp(0, 1))

    def _connect(self, seq: int, pdu: Connect) -> None:
        f = self.factory
        if self.logged_in or not _stamp_ok(pdu.timestamp):
            status = 1
        elif pdu.source_addr != f.sp_id:
            status = 2
        else:
            status = core.check_connect(pdu.source_addr, f.secret, pdu.authenticator,
                                        pdu.timestamp, pdu.version, VERSION_2)
        proof = authenticator_ismg(status, pdu.authenticator, f.secret)
        self.sendPdu(seq, ConnectResp(status, proof, VERSION_2))
        f.connects.append(status)
        if status == 0:
            self.logged_in, self.sp_id = True, pdu.source_addr
        else:
            self.transport.loseConnection()

    def _check(self, pdu: Submit) -> int:
        """The Result for a SUBMIT this gateway would refuse; 0 when it is fine."""
        f = self.factory
        if pdu.msg_src != self.sp_id:
            return 11
        if f.service_id and pdu.service_id != f.service_id:
            return 7
        if not pdu.dest_terminal_ids or not all(d.isdigit() for d in pdu.dest_terminal_ids):
            return 13
        if not 1 <= pdu.pk_number <= pdu.pk_total or pdu.registered_delivery not in (0, 1, 2):
            return 1
        if pdu.msg_fmt not in (core.FMT_ASCII, core.FMT_BINARY, core.FMT_UCS2, core.FMT_GB):
            return 1
        decoded = core.decode_text(pdu.msg_fmt, pdu.tp_udhi, pdu.msg_content)
        if pdu.pk_total > 1 and (decoded.concat is None
                                 or decoded.concat[1:] != (pdu.pk_total, pdu.pk_number)):
            return 1
        if "\ufffd" in decoded.text:
            return 1
        return 0

    def _submit(self, seq: int, pdu: Submit) -> None:
        f = self.factory
        f.submits.append(pdu)
        result, answer = self._check(pdu), True
        if result == 0 and f.verdict is not None:
            verdict = f.verdict(pdu)
            answer, result = verdict is not None, verdict or 0  # None: taken, answer lost
        if result != 0:
            self.sendPdu(seq, SubmitResp(0, result))
            return
        msg_id = f.next_msg_id()
        report = pdu.registered_delivery == 1 and answer
        if report and f.report_first:
            self._report(pdu, msg_id)  # the report overtakes the answer
        if answer:
            self.sendPdu(seq, SubmitResp(msg_id, 0))
        to = pdu.dest_terminal_ids[0]
        decoded = core.decode_text(pdu.msg_fmt, pdu.tp_udhi, pdu.msg_content)
        text: str | None = decoded.text
        if decoded.concat is not None:
            text = self._reassemble(to, pdu.src_id, decoded.concat, decoded.text)
        if text is not None:
            try:
                f.on_message(to, pdu.src_id, text)
            except Exception:
                log.failure("ismg.on_message_failed")
        if report and not f.report_first:
            self._report(pdu, msg_id)

    def _reassemble(self, to: str, source: str, concat: tuple[int, int, int],
                    text: str) -> str | None:
        ref, total, seq = concat
        key = (to, source, ref, total)
        parts = self._parts.setdefault(key, {})
        parts[seq] = text
        if len(parts) < total:
            return None
        del self._parts[key]
        return "".join(parts[i] for i in sorted(parts))

    def _report(self, pdu: Submit, msg_id: int) -> None:
        f = self.factory
        stamp = dt.datetime.fromtimestamp(f.clock.seconds(), core.CHINA).strftime("%y%m%d%H%M")
        report = StatusReport(msg_id, f.stat, stamp, stamp, pdu.dest_terminal_ids[0],
                              next(f.smsc_seq))
        self._send_deliver(Deliver(f.next_msg_id(), dest_id=pdu.src_id,
                                   src_terminal_id=pdu.dest_terminal_ids[0],
                                   msg_content=encode_report(report),
                                   service_id=pdu.service_id, registered_delivery=1))

    def _send_deliver(self, deliver: Deliver) -> None:
        seq = self._next_seq()
        self.unanswered[seq] = deliver.msg_id
        self.sendPdu(seq, deliver)


class IsmgFactory(Factory):
    protocol = IsmgProtocol

    def __init__(self, on_message: OnMessage, *, sp_id: str, secret: str, clock: Any,
                 service_id: str = "", gateway: int = 0x12580) -> None:
        self.on_message = on_message
        self.sp_id, self.secret, self.service_id = sp_id, secret, service_id
        self.clock = clock
        self.gateway = gateway
        self.submits: list[Submit] = []
        self.connects: list[int] = []  # each CONNECT's status
        self.violations: list[str] = []  # what a real ISMG would have refused or choked on
        self.connections: set[IsmgProtocol] = set()
        self.active_tests = self.terminates = 0
        self.verdict: Verdict | None = None
        self.report_first = False
        self.stat = "DELIVRD"
        self.smsc_seq = itertools.count(1)
        self._msg_seq = itertools.count(1)

    def buildProtocol(self, addr: Any) -> IsmgProtocol:
        proto: IsmgProtocol = self.protocol()
        proto.factory = self
        return proto

    def next_msg_id(self) -> int:
        now = dt.datetime.fromtimestamp(self.clock.seconds(), core.CHINA)
        return make_msg_id(now.month, now.day, now.hour, now.minute, now.second, self.gateway,
                           next(self._msg_seq) & 0xFFFF)

    def deliver_mo(self, source: str, dest: str, text: str, ref: int = 1) -> int:
        """A patient's message ``text`` from ``source`` to the SP number ``dest``, split like
        an MT one; sent on every connected link; how many links it went to."""
        sent = 0
        for proto in list(self.connections):
            if not proto.logged_in:
                continue
            for part in core.split(text, ref):
                proto._send_deliver(Deliver(self.next_msg_id(), dest_id=dest,
                                            src_terminal_id=source, msg_content=part.content,
                                            msg_fmt=part.msg_fmt, tp_udhi=part.tp_udhi,
                                            service_id=self.service_id))
            sent += 1
        return sent

    def drop_all(self) -> None:
        """Cut every connection (tests: the ISMG "crashes")."""
        for proto in list(self.connections):
            if proto.transport is not None:
                proto.transport.abortConnection()


def start_ismg(reactor: Any, port: int, on_message: OnMessage, *, sp_id: str, secret: str,
               service_id: str = "", interface: str = "127.0.0.1") -> IListeningPort:
    """Listen on ``port`` (0 = any); the factory is ``listening.factory``."""
    factory = IsmgFactory(on_message, sp_id=sp_id, secret=secret, clock=reactor,
                          service_id=service_id)
    listening: IListeningPort = reactor.listenTCP(port, factory, interface=interface)
    return listening
