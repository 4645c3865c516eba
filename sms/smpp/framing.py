"""SMPP framing in Twisted's ``IntNStringReceiver`` shape, with SMPP's twist: command_length
counts its own four octets.  Bytes in, whole ``Pdu`` values out; hostile lengths close the link."""

from __future__ import annotations

import struct

from twisted.internet.protocol import Protocol
from twisted.logger import Logger

from sms.smpp import status as st
from sms.smpp.pdu import HEADER_LEN, Pdu, PduError, decode_pdu, encode_pdu

log = Logger(namespace="sms.smpp")
MAX_PDU_LENGTH = 64 * 1024
_LENGTH = struct.Struct(">I")


class PduReceiver(Protocol):
    """Buffers a byte stream and calls ``pduReceived`` once per complete, decoded PDU.

    A command_length below 16 or above ``MAX_LENGTH`` means the stream is lost: we answer
    generic_nack (ESME_RINVCMDLEN) and close.  A well-framed PDU that does not decode is
    answered by ``pduRejected`` (generic_nack by default) and the stream goes on.
    """

    MAX_LENGTH = MAX_PDU_LENGTH
    _buffer: bytes = b""
    _broken: bool = False

    def dataReceived(self, data: bytes) -> None:
        if self._broken:
            return
        buf = self._buffer + data
        offset = 0
        while len(buf) - offset >= 4 and not self._broken:
            (length,) = _LENGTH.unpack_from(buf, offset)
            if length < HEADER_LEN or length > self.MAX_LENGTH:
                seq = 0
                if len(buf) - offset >= HEADER_LEN:
                    seq = _LENGTH.unpack_from(buf, offset + 12)[0]
                self._buffer = b""
                self.lengthLimitExceeded(length, seq)
                return
            if len(buf) - offset < length:
                break
            frame = buf[offset : offset + length]
            offset += length
            self.frameReceived(frame)
        self._buffer = buf[offset:]

    def frameReceived(self, frame: bytes) -> None:
        try:
            pdu = decode_pdu(frame)
        except PduError as err:
            self.pduRejected(err)
            return
        try:
            self.pduReceived(pdu)
        except Exception:  # a bug in one handler must not take the link's framing with it
            log.failure("smpp.handler_failed command={command}", command=pdu.command)

    def lengthLimitExceeded(self, length: int, seq: int) -> None:
        """The framing is lost: nack and drop the connection."""
        self._broken = True
        self.sendPdu(Pdu("generic_nack", seq, st.RINVCMDLEN))
        if self.transport is not None:
            self.transport.loseConnection()

    def pduRejected(self, err: PduError) -> None:
        """Default: generic_nack with the error's status (never nack a nack: no ping-pong)."""
        if err.command_id != 0x80000000:
            self.sendPdu(Pdu("generic_nack", err.seq, err.status))

    def pduReceived(self, pdu: Pdu) -> None:
        raise NotImplementedError

    def sendPdu(self, pdu: Pdu) -> None:
        if self.transport is not None:
            self.transport.write(encode_pdu(pdu))
