"""The decisions of a CMPP 2.0 SP client, as plain functions over values.  Pure.

What a CONNECT_RESP means (and whether the ISMG proved it knows our secret), what becomes of a
message after each SUBMIT_RESP result, how a text is cut into SUBMITs, what a DELIVER carries
(a status report or a patient's message), and when the heartbeat gives up on a link.  The
Twisted shell (``sms.cmpp.client``) feeds these from the wire and its timers.
"""

from __future__ import annotations

import datetime as dt
import enum
import hmac
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sms import encoding
from sms.cmpp.codec import (
    MAX_CONTENT,
    CodecError,
    ConnectResp,
    Deliver,
    StatusReport,
    authenticator_ismg,
    authenticator_source,
    decode_report,
)
from sms.dlr import Receipt

FMT_ASCII, FMT_BINARY, FMT_UCS2, FMT_GB = 0, 4, 8, 15
UDH_LEN = 6  # 05 00 03 ref total seq
MAX_PARTS = 255
CHINA = ZoneInfo("Asia/Shanghai")  # the ISMG's clock for the CONNECT timestamp

# -- CONNECT ---------------------------------------------------------------------------------
CONNECT_STATUS = {
    0: "ok",
    1: "bad_structure",
    2: "bad_source_address",
    3: "bad_authenticator",
    4: "version_too_high",
}


def timestamp(now: float, tz: dt.tzinfo = CHINA) -> str:
    """MMDDHHMMSS of ``now`` (unix seconds) on the ISMG's clock."""
    return dt.datetime.fromtimestamp(now, tz).strftime("%m%d%H%M%S")


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    source_addr: str
    authenticator: bytes
    timestamp: int


def connect_request(sp_id: str, secret: str, now: float) -> ConnectRequest:
    stamp = timestamp(now)
    return ConnectRequest(sp_id, authenticator_source(sp_id, secret, stamp), int(stamp))


@dataclass(frozen=True, slots=True)
class ConnectOutcome:
    ok: bool
    event: str  # the log event: cmpp.connect_ok, cmpp.connect_refused ...
    reason: str  # bad_source_address, bad_authenticator, version_too_high, ...


def connect_outcome(resp: ConnectResp, sent: bytes, secret: str, version: int) -> ConnectOutcome:
    """Accepted only with status 0 *and* AuthenticatorISMG = MD5(Status + ours + secret): an
    ISMG that does not know the secret (a wrong host, a man in the middle) is refused too."""
    if resp.status != 0:
        reason = CONNECT_STATUS.get(resp.status, f"status_{resp.status}")
        return ConnectOutcome(False, "cmpp.connect_refused", reason)
    expected = authenticator_ismg(resp.status, sent, secret)
    if not hmac.compare_digest(expected, resp.authenticator):
        return ConnectOutcome(False, "cmpp.ismg_not_authentic", "ismg_authenticator_mismatch")
    if resp.version > version:
        return ConnectOutcome(False, "cmpp.connect_refused", "ismg_version_higher")
    return ConnectOutcome(True, "cmpp.connect_ok", "ok")


def check_connect(sp_id: str, secret: str, authenticator: bytes, stamp: int,
                  version: int, highest: int) -> int:
    """The ISMG's side (the simulator): the CONNECT_RESP status for a CONNECT."""
    if version > highest:
        return 4
    if not (sp_id.isdigit() and len(sp_id) == 6):
        return 2
    expected = authenticator_source(sp_id, secret, f"{stamp:010d}")
    return 0 if hmac.compare_digest(expected, authenticator) else 3


# -- SUBMIT_RESP -----------------------------------------------------------------------------
class Outcome(enum.StrEnum):
    OK = "ok"
    RETRY = "retry"  # later, counted against max attempts
    THROTTLE = "throttle"  # pause the window and resubmit
    DEAD = "dead"  # this message will never be accepted as it is


SUBMIT_RESULTS = {
    0: "ok", 1: "bad structure", 2: "bad command", 3: "duplicate sequence",
    4: "bad message length", 5: "bad fee code", 6: "message too long", 7: "bad service id",
    8: "flow control", 9: "not allowed for this SP", 10: "bad Src_Id", 11: "bad Msg_src",
    12: "bad Fee_terminal_Id", 13: "bad Dest_terminal_Id",
}
_DEAD = frozenset({1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 13})


def submit_outcome(result: int) -> Outcome:
    """0 sent; 8 (flow control) throttles; a fault in our PDU or our rights is dead (sending
    it again changes nothing); the rest (3, gateway-specific codes) is retried a few times."""
    if result == 0:
        return Outcome.OK
    if result == 8:
        return Outcome.THROTTLE
    if result in _DEAD:
        return Outcome.DEAD
    return Outcome.RETRY


def describe_result(result: int) -> str:
    return SUBMIT_RESULTS.get(result, f"result {result}")


# -- splitting -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Part:
    msg_fmt: int
    tp_udhi: int
    content: bytes
    pk_total: int = 1
    pk_number: int = 1


def _is_ascii(text: str) -> bool:
    return all(ord(c) < 0x80 for c in text)


def split(text: str, ref: int) -> list[Part]:
    """The SUBMITs for ``text``: ASCII (Msg_Fmt 0) when every character is ASCII; UCS2 (8)
    when it fits one SUBMIT; GB18030 (15) when only that fits one SUBMIT (mixed text, fewer
    octets than UCS2); else UCS2 parts of 67 units behind the UDH ``05 00 03 ref total seq``
    (134 octets a part for long ASCII).  A surrogate pair is never cut."""
    if _is_ascii(text):
        raw = text.encode("ascii")
        if len(raw) <= MAX_CONTENT:
            return [Part(FMT_ASCII, 0, raw)]
        size = MAX_CONTENT - UDH_LEN
        pieces = [raw[i:i + size] for i in range(0, len(raw), size)]
        return _concat(FMT_ASCII, pieces, ref)
    ucs2 = text.encode("utf-16-be")
    if len(ucs2) <= MAX_CONTENT:
        return [Part(FMT_UCS2, 0, ucs2)]
    try:
        gb = text.encode("gb18030")
    except UnicodeEncodeError:  # pragma: no cover - gb18030 covers all of Unicode
        gb = b""
    if gb and len(gb) <= MAX_CONTENT:
        return [Part(FMT_GB, 0, gb)]
    chunks = encoding.chunk(text, encoding.DC_UCS2, (MAX_CONTENT - UDH_LEN) // 2)
    return _concat(FMT_UCS2, [c.encode("utf-16-be") for c in chunks], ref)


def _concat(fmt: int, pieces: list[bytes], ref: int) -> list[Part]:
    total = len(pieces)
    if total > MAX_PARTS:
        raise ValueError(f"message needs {total} parts, more than {MAX_PARTS}")
    return [Part(fmt, 1, bytes([5, 0, 3, ref & 0xFF, total, seq]) + piece, total, seq)
            for seq, piece in enumerate(pieces, start=1)]


def decode_text(msg_fmt: int, tp_udhi: int, content: bytes) -> encoding.Decoded:
    """A DELIVER's text and concatenation info.  Never raises: bad octets give U+FFFD."""
    concat, body = encoding.split_udh(content) if tp_udhi & 1 else (None, content)
    if msg_fmt == FMT_UCS2:
        text = body.decode("utf-16-be", "replace")
    elif msg_fmt == FMT_GB:
        text = body.decode("gb18030", "replace")
    elif msg_fmt == FMT_ASCII:
        text = body.decode("ascii", "replace")
    else:
        text = body.decode("latin-1")
    return encoding.Decoded(text, concat)


# -- DELIVER ---------------------------------------------------------------------------------
def msg_id_text(msg_id: int) -> str:
    """The form Msg_Ids are kept in (the outbox, the receipt index): decimal, which is
    ``sms.dlr.normalise_id``'s form already (no sign, no leading zero, no letters)."""
    return str(msg_id)


def receipt_of(deliver: Deliver) -> Receipt | None:
    """A status report DELIVER as the receipt the outbox understands; None when the report is
    malformed (it is still answered, and logged by the shell)."""
    try:
        report: StatusReport = decode_report(deliver.msg_content)
    except CodecError:
        return None
    stat = report.stat.strip().upper() or "UNKNOWN"
    return Receipt(msg_id_text(report.msg_id), stat)


# -- heartbeat ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Heartbeat:
    """ACTIVE_TEST after ``idle`` seconds without any PDU from the ISMG; each unanswered one is
    sent again after ``timeout``; after ``tries`` unanswered the link is dead."""

    idle: float = 180.0
    timeout: float = 60.0
    tries: int = 3

    def after_timeout(self, unanswered: int) -> str:
        """``unanswered`` ACTIVE_TESTs have timed out in a row: "resend" or "dead"."""
        return "dead" if unanswered >= self.tries else "resend"
