"""SMPP 3.4 wire layer shared by the SMS ESME and (later) USSD over SMPP: PDUs and framing."""

from sms.smpp.framing import MAX_PDU_LENGTH, PduReceiver
from sms.smpp.pdu import Pdu, PduError, decode_pdu, encode_pdu, response_for

__all__ = [
    "MAX_PDU_LENGTH",
    "Pdu",
    "PduError",
    "PduReceiver",
    "decode_pdu",
    "encode_pdu",
    "response_for",
]
