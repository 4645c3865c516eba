"""Mandatory-field encoders for SMPP 3.4, adapted from smpp.pdu3's tables.

smpp.pdu3 supplies the command table (which mandatory fields each command has, in order) and its
C-octet-string/short_message field encoders.  Its enum-typed fields become plain one-octet ints
here and its time fields stay raw strings, so a ``Pdu``'s params are plain int/str/bytes.  Kept
apart from ``sms.smpp.pdu`` so the codec reads without this table wrangling.
"""

from __future__ import annotations

from typing import Any

from smpp.pdu import operations
from smpp.pdu.pdu_encoding import COctetStringEncoder, Int1Encoder, PDUEncoder

# Enum-typed fields in smpp.pdu3 become plain one-octet ints here; time fields stay raw strings.
INT1_FIELDS = [
    "interface_version",
    "addr_ton",
    "addr_npi",
    "source_addr_ton",
    "source_addr_npi",
    "dest_addr_ton",
    "dest_addr_npi",
    "esm_class",
    "esme_addr_ton",
    "esme_addr_npi",
    "protocol_id",
    "priority_flag",
    "registered_delivery",
    "replace_if_present_flag",
    "data_coding",
    "sm_default_msg_id",
    "message_state",
    "error_code",
]
_FIELD_ENCODERS: dict[str, Any] = {
    **PDUEncoder.DefaultRequiredParamEncoders,
    **{name: Int1Encoder() for name in INT1_FIELDS},
    "schedule_delivery_time": COctetStringEncoder(17),
    "validity_period": COctetStringEncoder(17),
    "final_date": COctetStringEncoder(17),
}
# Per-command field overrides from smpp.pdu3 (65-octet addresses in data_sm, NULL message_id
# in deliver_sm_resp); its deliver_sm time overrides are dropped because we keep times raw.
_CUSTOM_ENCODERS: dict[str, dict[str, Any]] = {
    cmd.name: {
        k: v
        for k, v in enc.items()
        if k not in INT1_FIELDS and not k.endswith("_time") and k != "validity_period"
    }
    for cmd, enc in PDUEncoder.CustomRequiredParamEncoders.items()
}


def pdu_class(command: str) -> Any:
    """smpp.pdu3's class for ``command``: its ``mandatoryParams`` are the fields, in order."""
    return operations.getPDUClass(getattr(operations.CommandId, command))


def encoders(command: str) -> dict[str, Any]:
    """Field name -> encoder for ``command``'s mandatory fields."""
    return {**_FIELD_ENCODERS, **_CUSTOM_ENCODERS.get(command, {})}
