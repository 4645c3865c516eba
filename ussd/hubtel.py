"""``POST /ussd/hubtel``: a JSON gateway in the Hubtel "programmable services" style (docs/ussd.md).

Request (``application/json``, UTF-8)::

    {"Type": "Initiation" | "Response" | "Release" | "Timeout", "SessionId": "...",
     "Mobile": "8613800138000", "Message": "*125#" or the latest input, "Sequence": 2,
     "ServiceCode": "125", "Operator": "...", "ClientState": "..."}

Reply: ``{"SessionId", "Type": "response" | "release", "Message", "Label", "ClientState",
"DataType": "input", "FieldType": "text"}``. Unlike AT, ``Message`` is only the latest input;
a repeated ``Sequence`` is a retry and gets the stored reply. ``Release``/``Timeout`` (the
network ended the dialogue) are acknowledged and keep the record for a redial.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.logger import Logger

from pii import mask_tail
from ussd.at import BadRequest, form_msisdn
from ussd.gateway import HopReply
from ussd.httpbase import GatewayResource, answer_hop
from ussd.inputs import InputKind, dialed_entry
from ussd.wire import Answer, GatewayRequest, GatewayResponse, json_response

log = Logger(namespace="hotline.ussd.hubtel")

MAX_BODY = 8192
MAX_FIELD = 200
MAX_MESSAGE = 1000
_TYPES = {"initiation", "response", "release", "timeout"}


def parse_hop(raw: bytes, region: str = "CN") -> dict[str, Any]:
    """The checked request fields; raises BadRequest with a message safe to send back."""
    if len(raw) > MAX_BODY:
        raise BadRequest(f"body larger than {MAX_BODY} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("body is not UTF-8 JSON") from exc
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    out: dict[str, Any] = {}
    for name, limit in (("Type", 20), ("SessionId", MAX_FIELD), ("Mobile", MAX_FIELD),
                        ("Message", MAX_MESSAGE), ("ClientState", MAX_MESSAGE)):
        value = data.get(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise BadRequest(f"{name} must be a string")
        if len(value) > limit:
            raise BadRequest(f"{name} is longer than {limit} characters")
        out[name] = value
    kind = out["Type"].strip().lower()
    if kind not in _TYPES:
        raise BadRequest("Type must be Initiation, Response, Release or Timeout")
    out["Type"] = kind
    for name in ("SessionId", "Mobile"):
        if not out[name].strip():
            raise BadRequest(f"missing {name}")
    seq = data.get("Sequence")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)
                            or not 0 <= seq < 1_000_000):
        raise BadRequest("Sequence must be a small whole number")
    out["Sequence"] = seq
    mobile = out["Mobile"].strip()
    if mobile.isdigit():  # gateways send E.164 digits without '+'; a national number also works
        try:
            out["msisdn"] = form_msisdn("+" + mobile, region)
        except BadRequest:
            out["msisdn"] = form_msisdn(mobile, region)
    else:
        out["msisdn"] = form_msisdn(mobile, region)
    return out


def reply_json(session_id: str, reply: HopReply, client_state: str = "") -> dict[str, Any]:
    return {
        "SessionId": session_id,
        "Type": "release" if reply.final else "response",
        "Message": reply.screen,
        "Label": reply.screen.split("\n", 1)[0][:60],
        "ClientState": client_state,
        "DataType": "input",
        "FieldType": "text",
    }


class HubtelUssdResource(GatewayResource):
    """The JSON gateway over the same ``UssdGateway`` (its own Redis namespace ``hubtel``)."""

    gateway_name = "hubtel"

    def handle(self, request: GatewayRequest) -> Answer:
        if request.method != b"POST":
            return json_response(400, {"error": "use POST with a JSON body"})
        try:
            hop = parse_hop(request.body, self.region)
        except BadRequest as exc:
            return json_response(400, {"error": str(exc)})
        sid, msisdn = hop["SessionId"], hop["msisdn"]
        if hop["Type"] in ("release", "timeout"):
            log.info("ussd hubtel session end session={sid} msisdn={msisdn} type={type}",
                     sid=sid[-12:], msisdn=mask_tail(msisdn), type=hop["Type"])
            self.gateway.record_event(msisdn, "-", InputKind.END, hop["Type"], 0.0)
            self.gateway.store.forget(self.gateway.gateway, msisdn)
            return json_response(200, {"SessionId": sid, "Type": "release", "Message": "",
                                       "ClientState": hop["ClientState"]})
        value = None if hop["Type"] == "initiation" else hop["Message"]
        # the initiation's Message is the string dialed: "*12580*12#" chose hospital 12
        entry = dialed_entry(hop["Message"]) if value is None else ""
        work = self.gateway.hop_input(sid, msisdn, value, seq=hop["Sequence"], entry=entry)
        state = hop["ClientState"]

        def spell(reply: HopReply) -> GatewayResponse:
            if reply.status != 200:
                return json_response(reply.status, {"error": reply.body})
            return json_response(200, reply_json(sid, reply, state))

        return answer_hop(self.gateway, self.clock, self.hop_timeout_s, msisdn, work, spell)
