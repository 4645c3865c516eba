"""A loopback SMSC simulator for ``hotline demo`` and tests (not an independent peer).

Accepts bind_transceiver (optionally checking system_id/password), answers submit_sm with a
hex message_id, reassembles UDH-concatenated parts, calls ``on_message(to, from, text)`` once
per whole message and sends a delivery receipt deliver_sm.  Answers enquire_link and unbind.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory
from twisted.logger import Logger

from sms import encoding, gsm0338
from sms.smpp import status as st
from sms.smpp.framing import PduReceiver
from sms.smpp.pdu import MAX_SEQ, Pdu, response_for

log = Logger(namespace="sms.smsc")

OnMessage = Callable[[str, str, str], None]  # (to, from, text)


class SmscProtocol(PduReceiver):
    factory: SmscFactory

    def __init__(self) -> None:
        self.bound = False
        self._seq = 0
        self._parts: dict[tuple[str, str, int, int], dict[int, str]] = {}

    def connectionMade(self) -> None:
        self.factory.connections.add(self)

    def connectionLost(self, reason: object = None) -> None:
        self.factory.connections.discard(self)

    def pduReceived(self, pdu: Pdu) -> None:
        if pdu.is_response:
            return  # deliver_sm_resp / enquire_link_resp: nothing to do
        if pdu.command == "bind_transceiver":
            self._bind(pdu)
        elif pdu.command == "enquire_link":
            self.sendPdu(response_for(pdu))
        elif pdu.command == "unbind":
            self.sendPdu(response_for(pdu))
            self.factory.unbinds += 1
            self.bound = False
            self.transport.loseConnection()
        elif pdu.command == "submit_sm":
            if not self.bound:
                self.sendPdu(response_for(pdu, st.RINVBNDSTS))
            else:
                self._submit(pdu)
        else:
            self.sendPdu(Pdu("generic_nack", pdu.seq, st.RINVCMDID))

    def _bind(self, pdu: Pdu) -> None:
        expected = self.factory.credentials
        if self.bound:
            self.sendPdu(response_for(pdu, st.RALYBND))
        elif expected is not None and pdu.get("system_id") != expected[0]:
            self.sendPdu(response_for(pdu, st.RINVSYSID))
        elif expected is not None and pdu.get("password") != expected[1]:
            self.sendPdu(response_for(pdu, st.RINVPASWD))
        else:
            self.bound = True
            self.sendPdu(response_for(pdu, system_id=self.factory.system_id))

    def _submit(self, pdu: Pdu) -> None:
        self.factory.submits.append(pdu)
        message_id = f"{next(self.factory.ids):x}"
        self.sendPdu(response_for(pdu, message_id=message_id))
        to, source = pdu.get("destination_addr", ""), pdu.get("source_addr", "")
        body = pdu.get("short_message") or pdu.get("message_payload") or b""
        decoded = encoding.decode(int(pdu.get("data_coding", 0)), int(pdu.get("esm_class", 0)),
                                  body)
        text: str | None = decoded.text
        if decoded.concat is not None:
            text = self._reassemble(to, source, decoded.concat, decoded.text)
        if text is not None:
            try:
                self.factory.on_message(to, source, text)
            except Exception:
                log.failure("smsc.on_message_failed")
        if pdu.get("registered_delivery", 0) & 0x03:
            self._receipt(to, source, message_id)

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

    def _receipt(self, to: str, source: str, message_id: str) -> None:
        self._seq = self._seq % MAX_SEQ + 1
        text = (f"id:{message_id} sub:001 dlvrd:001 submit date:2601011200 "
                f"done date:2601011200 stat:DELIVRD err:000 text:")
        self.sendPdu(Pdu("deliver_sm", self._seq, 0, {
            "source_addr": to, "destination_addr": source, "esm_class": 0x04,
            "short_message": text.encode("ascii"), "receipted_message_id": message_id,
            "message_state": 2,
        }))


class SmscFactory(Factory):
    protocol = SmscProtocol

    def __init__(self, on_message: OnMessage, *, credentials: tuple[str, str] | None = None,
                 system_id: str = "SIMSMSC") -> None:
        self.on_message = on_message
        self.credentials = credentials
        self.system_id = system_id
        self.submits: list[Pdu] = []  # every submit_sm received, for tests
        self.ids = itertools.count(0x1000)
        self.connections: set[SmscProtocol] = set()
        self.unbinds = 0

    def buildProtocol(self, addr: Any) -> SmscProtocol:
        proto: SmscProtocol = self.protocol()
        proto.factory = self
        return proto

    def deliver(self, to: str, source: str, text: str) -> None:
        """Send a mobile-originated message (one deliver_sm, GSM or UCS2) to every bound
        client, as a patient's phone texting ``to`` would (tests: MO commands)."""
        coding = encoding.choose_coding(text)
        body = (text.encode("utf-16-be") if coding == encoding.DC_UCS2
                else gsm0338.encode(text))
        if len(body) > 254:
            raise ValueError("one deliver_sm holds at most 254 octets")
        for proto in list(self.connections):
            if proto.bound:
                proto._seq = proto._seq % MAX_SEQ + 1
                proto.sendPdu(Pdu("deliver_sm", proto._seq, 0, {
                    "source_addr": source, "destination_addr": to, "esm_class": 0,
                    "data_coding": coding, "short_message": body}))

    def drop_all(self) -> None:
        """Cut every client connection (tests: the SMSC "crashes")."""
        for proto in list(self.connections):
            if proto.transport is not None:
                proto.transport.abortConnection()


def log_received(to: str, source: str, text: str) -> None:
    """A simulator's ``on_message`` when nobody prints the messages: one line per message
    received, without its number or its text."""
    log.info("smsc.received from={source} chars={n}", source=source, n=len(text))


def start_smsc(reactor: Any, port: int, on_message: OnMessage, *, interface: str = "127.0.0.1",
               credentials: tuple[str, str] | None = None) -> IListeningPort:
    """Listen on ``port`` (0 = any); the factory is ``listening.factory``."""
    factory = SmscFactory(on_message, credentials=credentials)
    listening: IListeningPort = reactor.listenTCP(port, factory, interface=interface)
    return listening
