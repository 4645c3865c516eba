"""CMPP 2.0 PDUs as values, and their exact bytes.  Pure: no Twisted, no clock.

Every PDU is a frozen dataclass whose ``LAYOUT`` lists its body fields in wire order (the
tables of the CMPP 2.0 specification, section 7.4).  Integers are big-endian; an octet string
``sN`` is ASCII, NUL-padded to N octets; ``bN`` is raw octets.  Two fields are variable:
``dests`` (DestUsr_tl then 21 octets per number) and ``content`` (Msg_Length then the octets).

``encode(seq, pdu)`` gives the whole frame (Total_Length, Command_Id, Sequence_Id, body);
``decode(frame)`` gives ``(seq, pdu)`` or raises ``CodecError`` naming the command and seq,
so a peer can answer a well-framed but broken request instead of dropping the link.
"""

from __future__ import annotations

import dataclasses
import hashlib
import operator
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

HEADER = struct.Struct(">III")
HEADER_LEN = HEADER.size
RESPONSE_BIT = 0x80000000
VERSION_2 = 0x20
MAX_SEQ = 0x7FFFFFFF
MAX_CONTENT = 140  # Msg_Length of one SUBMIT/DELIVER
MAX_DESTS = 99  # DestUsr_tl < 100
REPORT_LEN = 60  # the status report inside a DELIVER with Registered_Delivery 1

Layout = tuple[tuple[str, str], ...]


class CodecError(ValueError):
    """A frame that does not decode (or a value that does not encode)."""

    def __init__(self, reason: str, command_id: int = 0, seq: int = 0) -> None:
        super().__init__(reason)
        self.reason, self.command_id, self.seq = reason, command_id, seq


@dataclass(frozen=True, slots=True)
class Connect:
    COMMAND: ClassVar[int] = 0x00000001
    LAYOUT: ClassVar[Layout] = (("source_addr", "s6"), ("authenticator", "b16"),
                                ("version", "u1"), ("timestamp", "u4"))
    source_addr: str
    authenticator: bytes
    version: int = VERSION_2
    timestamp: int = 0  # MMDDHHMMSS read as a decimal number


@dataclass(frozen=True, slots=True)
class ConnectResp:
    COMMAND: ClassVar[int] = 0x80000001
    LAYOUT: ClassVar[Layout] = (("status", "u1"), ("authenticator", "b16"), ("version", "u1"))
    status: int
    authenticator: bytes = bytes(16)
    version: int = VERSION_2


@dataclass(frozen=True, slots=True)
class Terminate:
    COMMAND: ClassVar[int] = 0x00000002
    LAYOUT: ClassVar[Layout] = ()


@dataclass(frozen=True, slots=True)
class TerminateResp:
    COMMAND: ClassVar[int] = 0x80000002
    LAYOUT: ClassVar[Layout] = ()


@dataclass(frozen=True, slots=True)
class Submit:
    COMMAND: ClassVar[int] = 0x00000004
    LAYOUT: ClassVar[Layout] = (
        ("msg_id", "u8"), ("pk_total", "u1"), ("pk_number", "u1"),
        ("registered_delivery", "u1"), ("msg_level", "u1"), ("service_id", "s10"),
        ("fee_user_type", "u1"), ("fee_terminal_id", "s21"), ("tp_pid", "u1"),
        ("tp_udhi", "u1"), ("msg_fmt", "u1"), ("msg_src", "s6"), ("fee_type", "s2"),
        ("fee_code", "s6"), ("valid_time", "s17"), ("at_time", "s17"), ("src_id", "s21"),
        ("dest_terminal_ids", "dests"), ("msg_content", "content"), ("reserve", "b8"))
    dest_terminal_ids: tuple[str, ...]
    msg_content: bytes
    msg_fmt: int = 0
    tp_udhi: int = 0
    pk_total: int = 1
    pk_number: int = 1
    registered_delivery: int = 1
    msg_level: int = 0
    service_id: str = ""
    fee_user_type: int = 2  # the SP pays (hospital notices are free to the patient)
    fee_terminal_id: str = ""
    tp_pid: int = 0
    msg_src: str = ""  # the SP_Id
    fee_type: str = "01"  # free
    fee_code: str = "000000"
    valid_time: str = ""
    at_time: str = ""
    src_id: str = ""
    msg_id: int = 0
    reserve: bytes = bytes(8)


@dataclass(frozen=True, slots=True)
class SubmitResp:
    COMMAND: ClassVar[int] = 0x80000004
    LAYOUT: ClassVar[Layout] = (("msg_id", "u8"), ("result", "u1"))
    msg_id: int
    result: int = 0


@dataclass(frozen=True, slots=True)
class Query:
    COMMAND: ClassVar[int] = 0x00000006
    LAYOUT: ClassVar[Layout] = (("time", "s8"), ("query_type", "u1"), ("query_code", "s10"),
                                ("reserve", "b8"))
    time: str  # YYYYMMDD
    query_type: int = 0  # 0 totals, 1 by Service_Id
    query_code: str = ""
    reserve: bytes = bytes(8)


@dataclass(frozen=True, slots=True)
class QueryResp:
    COMMAND: ClassVar[int] = 0x80000006
    LAYOUT: ClassVar[Layout] = (
        ("time", "s8"), ("query_type", "u1"), ("query_code", "s10"), ("mt_tlmsg", "u4"),
        ("mt_tlusr", "u4"), ("mt_scs", "u4"), ("mt_wt", "u4"), ("mt_fl", "u4"),
        ("mo_scs", "u4"), ("mo_wt", "u4"), ("mo_fl", "u4"))
    time: str
    query_type: int = 0
    query_code: str = ""
    mt_tlmsg: int = 0
    mt_tlusr: int = 0
    mt_scs: int = 0
    mt_wt: int = 0
    mt_fl: int = 0
    mo_scs: int = 0
    mo_wt: int = 0
    mo_fl: int = 0


@dataclass(frozen=True, slots=True)
class Deliver:
    COMMAND: ClassVar[int] = 0x00000005
    LAYOUT: ClassVar[Layout] = (
        ("msg_id", "u8"), ("dest_id", "s21"), ("service_id", "s10"), ("tp_pid", "u1"),
        ("tp_udhi", "u1"), ("msg_fmt", "u1"), ("src_terminal_id", "s21"),
        ("registered_delivery", "u1"), ("msg_content", "content"), ("reserve", "b8"))
    msg_id: int
    dest_id: str
    src_terminal_id: str
    msg_content: bytes
    registered_delivery: int = 0  # 1: msg_content is a status report
    msg_fmt: int = 0
    tp_udhi: int = 0
    service_id: str = ""
    tp_pid: int = 0
    reserve: bytes = bytes(8)


@dataclass(frozen=True, slots=True)
class DeliverResp:
    COMMAND: ClassVar[int] = 0x80000005
    LAYOUT: ClassVar[Layout] = (("msg_id", "u8"), ("result", "u1"))
    msg_id: int
    result: int = 0


@dataclass(frozen=True, slots=True)
class Cancel:
    COMMAND: ClassVar[int] = 0x00000007
    LAYOUT: ClassVar[Layout] = (("msg_id", "u8"),)
    msg_id: int


@dataclass(frozen=True, slots=True)
class CancelResp:
    COMMAND: ClassVar[int] = 0x80000007
    LAYOUT: ClassVar[Layout] = (("success_id", "u1"),)
    success_id: int  # 0 ok, 1 failed


@dataclass(frozen=True, slots=True)
class ActiveTest:
    COMMAND: ClassVar[int] = 0x00000008
    LAYOUT: ClassVar[Layout] = ()


@dataclass(frozen=True, slots=True)
class ActiveTestResp:
    COMMAND: ClassVar[int] = 0x80000008
    LAYOUT: ClassVar[Layout] = (("reserved", "u1"),)
    reserved: int = 0


@dataclass(frozen=True, slots=True)
class StatusReport:
    """The Msg_Content of a DELIVER with Registered_Delivery 1 (not a PDU of its own)."""

    LAYOUT: ClassVar[Layout] = (
        ("msg_id", "u8"), ("stat", "s7"), ("submit_time", "s10"), ("done_time", "s10"),
        ("dest_terminal_id", "s21"), ("smsc_sequence", "u4"))
    msg_id: int
    stat: str  # DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD
    submit_time: str = ""  # YYMMDDHHMM
    done_time: str = ""
    dest_terminal_id: str = ""
    smsc_sequence: int = 0


Pdu = (Connect | ConnectResp | Terminate | TerminateResp | Submit | SubmitResp | Query
       | QueryResp | Deliver | DeliverResp | Cancel | CancelResp | ActiveTest | ActiveTestResp)
PDUS: dict[int, type[Any]] = {cls.COMMAND: cls for cls in (
    Connect, ConnectResp, Terminate, TerminateResp, Submit, SubmitResp, Query, QueryResp,
    Deliver, DeliverResp, Cancel, CancelResp, ActiveTest, ActiveTestResp)}
NAMES = {cmd: cls.__name__ for cmd, cls in PDUS.items()}


def _int_size(kind: str) -> int:
    return int(kind[1:])


_FORMATS = {"u1": "B", "u4": "I", "u8": "Q"}


_TYPES = {"u": int, "s": str, "b": bytes}
_MEMO = 64  # packed runs remembered per run: a sender's constant fields, not every Msg_Id


@dataclass(frozen=True, slots=True)
class _Fixed:
    """A run of fixed-size fields packed with one ``struct`` (the codec's fast path).

    ``packed`` remembers the octets of the last few distinct values of the run, checked and
    packed once: a sender's SUBMITs repeat every field of their first run (fees, service,
    source) and differ only in the number and the content."""

    struct: struct.Struct
    fields: tuple[tuple[str, str], ...]
    values: Callable[[Any], tuple[Any, ...]]  # the run's values of a PDU, in order
    types: tuple[type, ...]  # the one type per field whose packing may be remembered
    strings: tuple[int, ...]  # positions of the octet strings (NUL-stripped when decoded)
    names: tuple[str, ...]
    integers: bool  # every field an integer: struct's own range check is the codec's
    packed: dict[tuple[Any, ...], bytes] = dataclasses.field(default_factory=dict)


def _fixed(run: list[tuple[str, str]]) -> _Fixed:
    fmt = ">" + "".join(_FORMATS.get(k) or f"{_int_size(k)}s" for _, k in run)
    names = [name for name, _ in run]
    get = operator.attrgetter(*names)
    values = get if len(names) > 1 else (lambda pdu: (get(pdu),))
    return _Fixed(struct.Struct(fmt), tuple(run), values,
                  tuple(_TYPES[k[0]] for _, k in run),
                  tuple(i for i, (_, k) in enumerate(run) if k[0] == "s"), tuple(names),
                  all(k[0] == "u" for _, k in run))


Plan = tuple[_Fixed | tuple[str, str], ...]
_PLANS: dict[type[Any], Plan] = {}
# classes laid out as one fixed run in their fields' order: decoded straight from the struct
_FLAT: dict[type[Any], _Fixed | None] = {}


def _plan(cls: type[Any]) -> Plan:
    """The layout as runs of fixed fields (one struct each) and the variable fields between."""
    plan = _PLANS.get(cls)
    if plan is not None:
        return plan
    steps: list[_Fixed | tuple[str, str]] = []
    run: list[tuple[str, str]] = []

    def close() -> None:
        if run:
            steps.append(_fixed(run))
            run.clear()

    for name, kind in cls.LAYOUT:
        if kind in ("dests", "content"):
            close()
            steps.append((name, kind))
        else:
            run.append((name, kind))
    close()
    plan = _PLANS[cls] = tuple(steps)
    order = tuple(f.name for f in dataclasses.fields(cls))
    flat = len(plan) == 1 and isinstance(plan[0], _Fixed) \
        and tuple(name for name, _ in plan[0].fields) == order
    _FLAT[cls] = plan[0] if flat else None  # type: ignore[assignment]
    return plan


def _fixed_value(kind: str, value: Any, name: str) -> Any:
    if kind[0] == "u":
        size = _int_size(kind)
        if not 0 <= int(value) < 1 << (8 * size):
            raise CodecError(f"{name}={value!r} does not fit {size} octet(s)")
        return int(value)
    size = _int_size(kind)
    raw = (str(value).encode("ascii", "strict") if value else b"") if kind[0] == "s" \
        else bytes(value)
    if kind[0] == "s" and len(raw) > size:
        raise CodecError(f"{name} is {len(raw)} octets, at most {size}")
    if kind[0] == "b" and len(raw) != size:
        raise CodecError(f"{name} must be {size} octets, got {len(raw)}")
    return raw  # struct pads an octet string with NULs


def _pack_variable(kind: str, value: Any, name: str) -> bytes:
    if kind == "dests":
        numbers = tuple(value)
        if not 1 <= len(numbers) <= MAX_DESTS:
            raise CodecError(f"{name}: 1-{MAX_DESTS} numbers, got {len(numbers)}")
        return bytes([len(numbers)]) + b"".join(
            _fixed_value("s21", n, name).ljust(21, b"\0") for n in numbers)
    raw = bytes(value)
    if len(raw) > MAX_CONTENT:
        raise CodecError(f"{name} is {len(raw)} octets, at most {MAX_CONTENT}")
    return bytes([len(raw)]) + raw


def _pack_fixed(step: _Fixed, value: Any) -> bytes:
    values = step.values(value)
    try:
        packed = step.packed.get(values)
        memo = True
    except TypeError:  # an unhashable value (a bytearray): checked and packed below
        packed, memo = None, False
    if packed is None and step.integers:  # a DELIVER_RESP: its Msg_Id differs every time
        try:
            return step.struct.pack(*values)
        except struct.error:  # out of range, or not an int: checked below
            pass
    if packed is None:
        packed = step.struct.pack(*[_fixed_value(kind, v, name) for (name, kind), v
                                    in zip(step.fields, values, strict=True)])
        # only exact types: 1 == True == 1.0 as keys, yet an octet string packs str(value)
        if memo and len(step.packed) < _MEMO and all(
                type(v) is t for v, t in zip(values, step.types, strict=True)):
            step.packed[values] = packed
    return packed


def encode_body(value: Any) -> bytes:
    """The body octets of a PDU (or of a ``StatusReport``)."""
    out: list[bytes] = []
    try:
        for step in _PLANS.get(type(value)) or _plan(type(value)):
            if isinstance(step, _Fixed):
                out.append(_pack_fixed(step, value))
            else:
                out.append(_pack_variable(step[1], getattr(value, step[0]), step[0]))
    except UnicodeEncodeError as err:
        raise CodecError(f"{type(value).__name__}: an octet string is not ASCII ({err})") \
            from None
    return b"".join(out)


def _field_at(step: _Fixed, left: int) -> str:
    """The field of a fixed run in which ``left`` octets run out (for the error message)."""
    for name, kind in step.fields:
        left -= _int_size(kind)
        if left < 0:
            return name
    return step.fields[-1][0]  # pragma: no cover - called only when the run does not fit


def _unpack_fixed(step: _Fixed, body: bytes, at: int) -> list[Any]:
    values = list(step.struct.unpack_from(body, at))
    for i in step.strings:
        values[i] = values[i].split(b"\0", 1)[0].decode("latin-1")
    return values


def decode_body(cls: type[Any], body: bytes) -> Any:
    plan = _PLANS.get(cls) or _plan(cls)
    flat = _FLAT[cls]
    if flat is not None and len(body) == flat.struct.size:  # SUBMIT_RESP, a status report
        return cls(*_unpack_fixed(flat, body, 0))
    values: dict[str, Any] = {}
    at = 0
    for step in plan:
        if isinstance(step, _Fixed):
            if at + step.struct.size > len(body):
                raise CodecError(f"body ends inside {_field_at(step, len(body) - at)}")
            values.update(zip(step.names, _unpack_fixed(step, body, at), strict=True))
            at += step.struct.size
            continue
        name, kind = step
        if at >= len(body):
            raise CodecError(f"body ends inside {name}")
        count = body[at]
        at += 1
        if kind == "dests":
            end = at + 21 * count
            if end > len(body):
                raise CodecError(f"body ends inside {name}")
            values[name] = tuple(body[i:i + 21].split(b"\0", 1)[0].decode("latin-1")
                                 for i in range(at, end, 21))
        else:
            end = at + count
            if end > len(body):
                raise CodecError(f"body ends inside {name}")
            values[name] = body[at:end]
        at = end
    if at != len(body):
        raise CodecError(f"{len(body) - at} octet(s) after the last field")
    return cls(**values)


def encode(seq: int, pdu: Pdu) -> bytes:
    """The whole frame of ``pdu`` with Sequence_Id ``seq``."""
    body = encode_body(pdu)
    return HEADER.pack(HEADER_LEN + len(body), pdu.COMMAND, seq) + body


def decode(frame: bytes) -> tuple[int, Pdu]:
    """``(seq, pdu)`` of one whole frame (Total_Length already checked by the framing)."""
    if len(frame) < HEADER_LEN:
        raise CodecError(f"frame of {len(frame)} octets is shorter than the header")
    length, command, seq = HEADER.unpack_from(frame)
    if length != len(frame):
        raise CodecError(f"Total_Length {length} but {len(frame)} octets", command, seq)
    cls = PDUS.get(command)
    if cls is None:
        raise CodecError(f"unknown Command_Id 0x{command:08X}", command, seq)
    try:
        return seq, decode_body(cls, frame[HEADER_LEN:])
    except CodecError as err:
        raise CodecError(f"{cls.__name__}: {err.reason}", command, seq) from None


def encode_report(report: StatusReport) -> bytes:
    return encode_body(report)


def decode_report(content: bytes) -> StatusReport:
    if len(content) != REPORT_LEN:
        raise CodecError(f"a status report is {REPORT_LEN} octets, got {len(content)}")
    report: StatusReport = decode_body(StatusReport, content)
    return report


# -- Msg_Id: month 4, day 5, hour 5, minute 6, second 6, gateway code 22, sequence 16 bits --
_MSG_ID_BITS = (("month", 4), ("day", 5), ("hour", 5), ("minute", 6), ("second", 6),
                ("gateway", 22), ("sequence", 16))


def make_msg_id(month: int, day: int, hour: int, minute: int, second: int, gateway: int,
                sequence: int) -> int:
    values = {"month": month, "day": day, "hour": hour, "minute": minute, "second": second,
              "gateway": gateway, "sequence": sequence}
    out = 0
    for name, bits in _MSG_ID_BITS:
        value = values[name]
        if not 0 <= value < 1 << bits:
            raise CodecError(f"Msg_Id {name}={value} does not fit {bits} bits")
        out = (out << bits) | value
    return out


def split_msg_id(msg_id: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, bits in reversed(_MSG_ID_BITS):
        out[name] = msg_id & ((1 << bits) - 1)
        msg_id >>= bits
    return dict(reversed(list(out.items())))


# -- authenticators -------------------------------------------------------------------------
def authenticator_source(sp_id: str, secret: str, timestamp: str) -> bytes:
    """MD5(Source_Addr + 9 NUL + shared secret + MMDDHHMMSS), sent in CONNECT."""
    return hashlib.md5(sp_id.encode("ascii") + bytes(9) + secret.encode("utf-8")
                       + timestamp.encode("ascii")).digest()


def authenticator_ismg(status: int, source: bytes, secret: str) -> bytes:
    """MD5(Status + AuthenticatorSource + shared secret), the ISMG's proof in CONNECT_RESP."""
    return hashlib.md5(bytes([status]) + source + secret.encode("utf-8")).digest()
