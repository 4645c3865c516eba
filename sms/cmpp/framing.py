"""CMPP framing: Total_Length counts its own four octets (as in SMPP).  Bytes in, decoded PDUs
out; a length no CMPP 2.0 frame can have means the stream is lost and the link is closed."""

from __future__ import annotations

import struct

from twisted.internet.protocol import Protocol
from twisted.logger import Logger

from sms.cmpp.codec import HEADER_LEN, CodecError, Pdu, decode, encode

log = Logger(namespace="sms.cmpp")
MAX_FRAME = 4096  # the longest 2.0 PDU (a SUBMIT to 99 numbers) is well under this
_LENGTH = struct.Struct(">I")


class FrameReceiver(Protocol):
    """Calls ``pduReceived(seq, pdu)`` per whole frame, ``pduRejected(err)`` for a well-framed
    one that does not decode (the stream goes on), and closes on a hostile Total_Length."""

    _buffer: bytes = b""
    _broken: bool = False

    def dataReceived(self, data: bytes) -> None:
        if self._broken:
            return
        buf = self._buffer + data
        offset = 0
        while len(buf) - offset >= 4:
            (length,) = _LENGTH.unpack_from(buf, offset)
            if length < HEADER_LEN or length > MAX_FRAME:
                self._broken, self._buffer = True, b""
                log.warn("cmpp.framing_lost total_length={n}", n=length)
                if self.transport is not None:
                    self.transport.loseConnection()
                return
            if len(buf) - offset < length:
                break
            frame = buf[offset:offset + length]
            offset += length
            try:
                seq, pdu = decode(frame)
            except CodecError as err:
                self.pduRejected(err)
                continue
            try:
                self.pduReceived(seq, pdu)
            except Exception:  # one handler's bug must not take the framing with it
                log.failure("cmpp.handler_failed command={c}", c=type(pdu).__name__)
        self._buffer = buf[offset:]

    def pduReceived(self, seq: int, pdu: Pdu) -> None:
        raise NotImplementedError

    def pduRejected(self, err: CodecError) -> None:
        log.warn("cmpp.pdu_rejected command=0x{c:08X} seq={s} why={why}", c=err.command_id,
                 s=err.seq, why=err.reason)

    def sendPdu(self, seq: int, pdu: Pdu) -> None:
        if self.transport is not None:
            self.transport.write(encode(seq, pdu))
