"""Choose an alphabet per message and split long ones into UDH-concatenated parts; decode back.

GSM 03.38 (data_coding 0) when every character fits, else UCS2 (data_coding 8, UTF-16-BE).
Single messages hold 160 septets / 70 UCS2 units; parts of a long one 153 / 67 after the
6-octet UDH ``05 00 03 ref total seq``.  Characters are never cut: a GSM escape pair or a
UTF-16 surrogate pair always stays inside one part.  Pure code, no Twisted.
"""

from __future__ import annotations

from dataclasses import dataclass

from sms import gsm0338

DC_GSM = 0x00
DC_UCS2 = 0x08
ESM_UDHI = 0x40
MAX_PARTS = 255
_LIMITS = {DC_GSM: (160, 153), DC_UCS2: (70, 67)}


@dataclass(frozen=True, slots=True)
class Part:
    data_coding: int
    esm_class: int
    short_message: bytes


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    concat: tuple[int, int, int] | None = None  # (ref, total, seq) when this is one part


def choose_coding(text: str) -> int:
    return DC_GSM if gsm0338.can_encode(text) else DC_UCS2


def _units(char: str, coding: int) -> int:
    return gsm0338.septets(char) if coding == DC_GSM else len(char.encode("utf-16-be")) // 2


def _encode(text: str, coding: int) -> bytes:
    return gsm0338.encode(text) if coding == DC_GSM else text.encode("utf-16-be")


def chunk(text: str, coding: int, size: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``size`` units without splitting a character."""
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for ch in text:
        n = _units(ch, coding)
        if used + n > size:
            pieces.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += n
    if current or not pieces:
        pieces.append("".join(current))
    return pieces


def split(text: str, ref: int) -> list[Part]:
    """Parts to submit for ``text``; ``ref`` (0-255) identifies this message's parts."""
    coding = choose_coding(text)
    single, multi = _LIMITS[coding]
    encoded = _encode(text, coding)
    # one octet per septet (escapes take two) / two octets per UTF-16 unit (surrogates: two)
    if len(encoded) // (2 if coding == DC_UCS2 else 1) <= single:
        return [Part(coding, 0, encoded)]
    pieces = chunk(text, coding, multi)
    if len(pieces) > MAX_PARTS:
        raise ValueError(f"message needs {len(pieces)} parts, more than {MAX_PARTS}")
    total = len(pieces)
    return [
        Part(coding, ESM_UDHI, bytes([5, 0, 3, ref & 0xFF, total, seq]) + _encode(piece, coding))
        for seq, piece in enumerate(pieces, start=1)
    ]


def decode_text(data_coding: int, data: bytes) -> str:
    """Decode a short_message body (no UDH).  Never raises: bad input gives U+FFFD."""
    if data_coding == DC_UCS2 or (data_coding & 0xCC) == 0x08:
        return data.decode("utf-16-be", "replace")
    if data_coding in (0x01, 0x03):
        return data.decode("latin-1")
    if (data_coding & 0xF0) == 0xF0:  # message-class DCS: bit 2 set = 8-bit data
        return data.decode("latin-1") if data_coding & 0x04 else gsm0338.decode(data)
    if data_coding == DC_GSM or (data_coding & 0xCC) == 0x00:
        return gsm0338.decode(data)
    return data.decode("latin-1")


def split_udh(short_message: bytes) -> tuple[tuple[int, int, int] | None, bytes]:
    """The concatenation info (ref, total, seq) of a UDH-led body, and the body after the UDH;
    shared by SMPP (esm_class UDHI) and CMPP (TP_udhi)."""
    if not short_message:
        return None, short_message
    concat = None
    udhl = short_message[0]
    udh, body = short_message[1 : 1 + udhl], short_message[1 + udhl :]
    i = 0
    while i + 2 <= len(udh):
        iei, length = udh[i], udh[i + 1]
        value = udh[i + 2 : i + 2 + length]
        if iei == 0x00 and len(value) == 3:
            concat = (value[0], value[1], value[2])
        elif iei == 0x08 and len(value) == 4:
            concat = ((value[0] << 8) | value[1], value[2], value[3])
        i += 2 + length
    return concat, body


def decode(data_coding: int, esm_class: int, short_message: bytes) -> Decoded:
    """Split off the UDH (if UDHI is set) and decode the text; reports concatenation info."""
    concat = None
    body = short_message
    if esm_class & ESM_UDHI:
        concat, body = split_udh(short_message)
    return Decoded(decode_text(data_coding, body), concat)
