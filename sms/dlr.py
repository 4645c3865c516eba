"""Delivery receipts: from a deliver_sm's TLVs and/or its SMPP 3.4 Appendix B text.  Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ESM_TYPE_MASK = 0x3C
ESM_SMSC_RECEIPT = 0x04

# message_state TLV values -> the stat words used in receipt text
_STATES = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV",
           6: "ACCEPTD", 7: "UNKNOWN", 8: "REJECTD"}
FINAL = frozenset({"DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "REJECTD"})
_FIELD = re.compile(r"(?i)\b(id|stat|err):(\S*)")


@dataclass(frozen=True, slots=True)
class Receipt:
    message_id: str  # normalised: lower-case, no leading zeros
    stat: str  # DELIVRD, UNDELIV, ... or UNKNOWN
    err: str = ""

    @property
    def final(self) -> bool:
        return self.stat in FINAL

    @property
    def delivered(self) -> bool:
        return self.stat == "DELIVRD"


def normalise_id(message_id: str) -> str:
    """SMSCs vary case and leading zeros between submit_sm_resp and the receipt."""
    return message_id.strip().lower().lstrip("0") or "0"


ID_BASES = ("same", "hex_to_dec", "dec_to_hex")


def receipt_form(message_id: str, bases: str = "same") -> str:
    """The id as this SMSC's receipts carry it, from the id in its submit_sm_resp: ``same``,
    ``hex_to_dec`` (resp in hex, receipts in decimal) or ``dec_to_hex`` (jasmin's
    dlr_msg_id_bases 0/1/2).  An id that does not parse in the expected base stays as it is."""
    n = normalise_id(message_id)
    try:
        if bases == "hex_to_dec":
            return str(int(n, 16))
        if bases == "dec_to_hex":
            return format(int(n, 10), "x")
    except ValueError:
        pass
    return n


def is_receipt(esm_class: int, params: dict[str, Any]) -> bool:
    return (esm_class & ESM_TYPE_MASK) == ESM_SMSC_RECEIPT or "receipted_message_id" in params


def parse_receipt(params: dict[str, Any], text: str) -> Receipt | None:
    """TLVs win over text; None when there is no message id anywhere."""
    fields = {k.lower(): v for k, v in _FIELD.findall(text)}
    message_id = params.get("receipted_message_id") or fields.get("id")
    if not message_id:
        return None
    stat = _STATES.get(params.get("message_state", 0)) or fields.get("stat", "").upper()
    return Receipt(normalise_id(str(message_id)), stat or "UNKNOWN", fields.get("err", ""))
