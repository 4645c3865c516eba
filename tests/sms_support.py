"""Helpers for sms tests: split written bytes into PDUs, drive an ESME over StringTransport."""

from __future__ import annotations

import struct

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from sms.esme import EsmeConfig, EsmeProtocol
from sms.service import SmppSender
from sms.smpp.pdu import Pdu, decode_pdu, encode_pdu, response_for


def frames(data: bytes) -> list[Pdu]:
    out: list[Pdu] = []
    while data:
        (length,) = struct.unpack_from(">I", data)
        out.append(decode_pdu(data[:length]))
        data = data[length:]
    return out


def take(transport: StringTransport) -> list[Pdu]:
    """PDUs written since the last call."""
    pdus = frames(transport.value())
    transport.clear()
    return pdus


def feed(proto: EsmeProtocol, *pdus: Pdu) -> None:
    proto.dataReceived(b"".join(encode_pdu(p) for p in pdus))


def make_esme(**config: object) -> tuple[EsmeProtocol, StringTransport, Clock, dict]:
    seen: dict[str, list] = {"receipts": [], "messages": [], "lost": []}
    clock = Clock()
    cfg = EsmeConfig(**{"system_id": "hotline", "password": "secret", **config})  # type: ignore[arg-type]
    proto = EsmeProtocol(
        cfg, clock,
        on_receipt=seen["receipts"].append,
        on_message=lambda to, src, text: seen["messages"].append((to, src, text)),
        on_lost=seen["lost"].append,
    )
    transport = StringTransport()
    proto.makeConnection(transport)
    return proto, transport, clock, seen


def bound_esme(**config: object) -> tuple[EsmeProtocol, StringTransport, Clock, dict]:
    proto, transport, clock, seen = make_esme(**config)
    proto.bind()
    (bind,) = take(transport)
    feed(proto, response_for(bind, system_id="SMSC"))
    return proto, transport, clock, seen


def submit_params(text: bytes = b"hi") -> dict:
    return {"source_addr": "12580", "destination_addr": "8613800138000", "short_message": text,
            "registered_delivery": 1}


def outcome(d: object) -> list:
    """Collect a Deferred's result (or Failure) synchronously; [] while it has not fired."""
    box: list = []
    d.addBoth(box.append)  # type: ignore[attr-defined]
    return box


def sender_for(port: int, **kw: object) -> SmppSender:
    """A started SmppSender to a loopback SMSC with quick reconnects, as the socket tests use."""
    from twisted.internet import reactor

    s = SmppSender("127.0.0.1", port, "hotline", "secret", "12580", reactor=reactor,
                   retry_policy=lambda attempt: 0.05, **kw)  # type: ignore[arg-type]
    s.startService()
    return s
