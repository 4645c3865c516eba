"""Pure SMPP 3.4 PDU codec: bytes <-> frozen ``Pdu`` values with plain int/str/bytes params.

smpp.pdu3 supplies the command table (which mandatory fields each command has, in order) and
its C-octet-string/short_message field encoders (adapted in ``sms.smpp.fields``).  We own the
rest because it falls short: its header codec turns unknown command_status values into
placeholders, its enum fields are awkward values, it has no USSD TLVs (ussd_service_op 0x0501,
its_session_info 0x1383), it rejects PDUs that carry TLVs it does not know, and it decodes
data_coding 0 as ASCII (GSM 03.38 lives in ``sms.gsm0338``).  Every decode failure becomes a
``PduError`` carrying the command_status to answer with, never another exception type.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from typing import Any

from smpp.pdu import constants

from sms.smpp import status as st
from sms.smpp.fields import INT1_FIELDS, encoders, pdu_class

HEADER = struct.Struct(">IIII")
HEADER_LEN = HEADER.size
RESPONSE_BIT = 0x80000000
MAX_SEQ = 0x7FFFFFFF

COMMAND_IDS: dict[str, int] = dict(constants.command_id_name_map)
COMMAND_NAMES: dict[int, str] = {v: k for k, v in COMMAND_IDS.items()}

# Responses that may omit their body when command_status != 0 (SMPP 3.4 4.1.2, 4.4.2).
_BODYLESS_ON_ERROR = {
    "bind_receiver_resp",
    "bind_transmitter_resp",
    "bind_transceiver_resp",
    "submit_sm_resp",
    "data_sm_resp",
}

# TLVs we understand: name -> (tag, kind).  Kinds: int1/int2/int4 (fixed width), cstr, octets.
TLVS: dict[str, tuple[int, str]] = {
    "payload_type": (0x0019, "int1"),
    "receipted_message_id": (0x001E, "cstr"),
    "user_message_reference": (0x0204, "int2"),
    "source_port": (0x020A, "int2"),
    "destination_port": (0x020B, "int2"),
    "sar_msg_ref_num": (0x020C, "int2"),
    "sar_total_segments": (0x020E, "int1"),
    "sar_segment_seqnum": (0x020F, "int1"),
    "sc_interface_version": (0x0210, "int1"),
    "network_error_code": (0x0423, "octets"),
    "message_payload": (0x0424, "octets"),
    "more_messages_to_send": (0x0426, "int1"),
    "message_state": (0x0427, "int1"),
    "ussd_service_op": (0x0501, "int1"),
    "its_reply_type": (0x1380, "int1"),
    "its_session_info": (0x1383, "octets2"),
}
_TLV_BY_TAG = {tag: (name, kind) for name, (tag, kind) in TLVS.items()}
_WIDTH = {"int1": 1, "int2": 2, "int4": 4, "octets2": 2}


@dataclass(frozen=True, slots=True)
class Pdu:
    """One SMPP PDU.  ``params`` holds mandatory fields and TLVs by name; an unknown TLV is kept
    as ``tlv_XXXX`` (hex tag) -> bytes so it survives a round trip."""

    command: str
    seq: int
    status: int = 0
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def command_id(self) -> int:
        return COMMAND_IDS[self.command]

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & RESPONSE_BIT)

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


class PduError(Exception):
    """A PDU we cannot accept; ``status`` is what to put in the generic_nack (or response)."""

    def __init__(self, status: int, reason: str, *, seq: int = 0, command_id: int = 0) -> None:
        super().__init__(f"{reason} (command_status 0x{status:02X})")
        self.status = status
        self.reason = reason
        self.seq = seq
        self.command_id = command_id


def response_for(request: Pdu, status: int = 0, **params: Any) -> Pdu:
    """The response PDU to ``request``: same seq, command id with the response bit set."""
    name = COMMAND_NAMES.get(request.command_id | RESPONSE_BIT)
    if name is None or request.is_response:
        raise ValueError(f"{request.command} has no response")
    return Pdu(name, request.seq, status, params)


def encode_pdu(pdu: Pdu) -> bytes:
    """Serialise ``pdu``; missing mandatory fields take their empty/zero value."""
    if pdu.command == "deliver_sm_resp" and not pdu.params and 0 <= pdu.seq <= 0xFFFFFFFF:
        return HEADER.pack(HEADER_LEN + 1, 0x80000005, pdu.status, pdu.seq) + b"\0"  # hot path
    klass = pdu_class(pdu.command)
    fields = encoders(pdu.command)
    body = bytearray()
    bodyless = pdu.status != 0 and pdu.command in _BODYLESS_ON_ERROR and not pdu.params
    if not bodyless:
        for name in klass.mandatoryParams:
            value = pdu.params.get(name)
            if value is None and name in INT1_FIELDS:
                value = 0x34 if name == "interface_version" else 0
            body += fields[name].encode(value)
    for name, value in pdu.params.items():
        if name in klass.mandatoryParams or value is None:
            continue
        body += _encode_tlv(name, value)
    lowest = 0 if pdu.is_response else 1  # a response echoes whatever seq it answers
    if not lowest <= pdu.seq <= 0xFFFFFFFF:
        raise ValueError(f"sequence_number {pdu.seq} out of range")
    return HEADER.pack(HEADER_LEN + len(body), pdu.command_id, pdu.status, pdu.seq) + bytes(body)


def _encode_tlv(name: str, value: Any) -> bytes:
    if name.startswith("tlv_"):
        tag, kind = int(name[4:], 16), "octets"
    elif name in TLVS:
        tag, kind = TLVS[name]
    else:
        raise ValueError(f"unknown parameter {name!r}")
    if kind in ("int1", "int2", "int4"):
        raw = int(value).to_bytes(_WIDTH[kind], "big")
    elif kind == "cstr":
        raw = (value.encode("latin-1") if isinstance(value, str) else bytes(value)) + b"\0"
    else:
        raw = bytes(value)
        if kind == "octets2" and len(raw) != 2:
            raise ValueError(f"{name} must be 2 octets, got {len(raw)}")
    return struct.pack(">HH", tag, len(raw)) + raw


def decode_pdu(data: bytes) -> Pdu:
    """Parse exactly one PDU (``data`` = one frame, command_length included)."""
    if len(data) < HEADER_LEN:
        raise PduError(st.RINVCMDLEN, f"PDU shorter than its header: {len(data)} octets")
    length, command_id, status, seq = HEADER.unpack_from(data)
    if length != len(data):
        raise PduError(st.RINVCMDLEN, f"command_length {length} != {len(data)} octets", seq=seq)
    command = COMMAND_NAMES.get(command_id)
    if command is None:
        raise PduError(
            st.RINVCMDID, f"unknown command_id 0x{command_id:08X}", seq=seq, command_id=command_id
        )
    if command in _ID_ONLY and status == 0:  # hot path: submit_sm_resp and friends
        fast = _decode_id_only(data, seq)
        if fast is not None:
            return Pdu(command, seq, status, fast)
    elif command in _SM_COMMANDS:  # hot path: receipts and MO (deliver_sm), submit_sm
        fast = _decode_sm(data)
        if fast is not None:
            return Pdu(command, seq, status, fast)
    body = io.BytesIO(data[HEADER_LEN:])
    try:
        params = _decode_body(command, status, body, len(data) - HEADER_LEN)
    except PduError as err:
        err.seq, err.command_id = seq, command_id
        raise
    except Exception as err:  # pdu3 field encoders raise their own types, some without status
        raw = getattr(err, "status", None)
        code = constants.command_status_name_map.get(getattr(raw, "name", ""), st.RINVMSGLEN)
        raise PduError(
            code or st.RINVMSGLEN, f"{command}: {err}", seq=seq, command_id=command_id
        ) from err
    return Pdu(command, seq, status, params)


_ID_ONLY = {"submit_sm_resp", "data_sm_resp"}


def _decode_id_only(data: bytes, seq: int) -> dict[str, Any] | None:
    """message_id C-string and no TLVs (the usual resp); None = take the general path."""
    end = data.find(b"\0", HEADER_LEN)
    if end != len(data) - 1 or end - HEADER_LEN > 64:
        return None
    return {"message_id": data[HEADER_LEN:end].decode("latin-1")}


_SM_COMMANDS = {"submit_sm", "deliver_sm"}
# (name, None = one octet | max C-string length incl. NUL), up to sm_length, SMPP 3.4 4.4.1/4.6.1
_SM_FIELDS: tuple[tuple[str, int | None], ...] = (
    ("service_type", 6), ("source_addr_ton", None), ("source_addr_npi", None),
    ("source_addr", 21), ("dest_addr_ton", None), ("dest_addr_npi", None),
    ("destination_addr", 21), ("esm_class", None), ("protocol_id", None),
    ("priority_flag", None), ("schedule_delivery_time", 17), ("validity_period", 17),
    ("registered_delivery", None), ("replace_if_present_flag", None), ("data_coding", None),
    ("sm_default_msg_id", None),
)


def _decode_sm(data: bytes) -> dict[str, Any] | None:
    """Mandatory fields of submit_sm/deliver_sm by slicing, then TLVs; None = anything odd
    (the general path then produces the precise error)."""
    params: dict[str, Any] = {}
    i, end = HEADER_LEN, len(data)
    for name, limit in _SM_FIELDS:
        if limit is None:
            if i >= end:
                return None
            params[name] = data[i]
            i += 1
        else:
            nul = data.find(b"\0", i, i + limit)
            if nul < 0:
                return None
            params[name] = data[i:nul].decode("latin-1")
            i = nul + 1
    if i >= end:
        return None
    length = data[i]
    i += 1
    if i + length > end:
        return None
    params["short_message"] = data[i:i + length]
    i += length
    try:
        while i < end:
            if end - i < 4:
                return None
            tag, size = struct.unpack_from(">HH", data, i)
            raw = data[i + 4:i + 4 + size]
            if len(raw) < size:
                return None
            name, value = _decode_tlv(tag, raw)
            params[name] = value
            i += 4 + size
    except PduError:
        return None
    return params


def _decode_body(command: str, status: int, body: io.BytesIO, size: int) -> dict[str, Any]:
    if size == 0 and (status != 0 and command in _BODYLESS_ON_ERROR):
        return {}
    params: dict[str, Any] = {}
    fields = encoders(command)
    for name in pdu_class(command).mandatoryParams:
        if body.tell() >= size:
            raise PduError(st.RINVMSGLEN, f"{command}: body ends before {name}")
        value = fields[name].decode(body)
        if isinstance(value, bytes) and name != "short_message":
            value = value.decode("latin-1")
        params[name] = value
    while body.tell() < size:
        head = body.read(4)
        if len(head) < 4:
            raise PduError(st.RINVOPTPARSTREAM, f"{command}: truncated TLV header")
        tag, length = struct.unpack(">HH", head)
        raw = body.read(length)
        if len(raw) < length:
            raise PduError(st.RINVOPTPARSTREAM, f"{command}: TLV 0x{tag:04X} overruns the PDU")
        name, value = _decode_tlv(tag, raw)
        params[name] = value
    return params


def _decode_tlv(tag: int, raw: bytes) -> tuple[str, Any]:
    known = _TLV_BY_TAG.get(tag)
    if known is None:
        return f"tlv_{tag:04x}", raw  # unknown TLVs are kept, never fatal
    name, kind = known
    width = _WIDTH.get(kind)
    if width is not None and len(raw) != width:
        raise PduError(st.RINVPARLEN, f"TLV {name} has {len(raw)} octets, expected {width}")
    if kind == "cstr":
        return name, raw.split(b"\0", 1)[0].decode("latin-1")
    if kind in ("int1", "int2", "int4"):
        return name, int.from_bytes(raw, "big")
    return name, raw
