"""GSM 03.38 default alphabet, unpacked (one septet per octet, as SMPP carries data_coding 0).

smpp.pdu3 decodes data_coding 0 as ASCII, which garbles '@', '£', 'é', '€' and friends.
Pure functions, no Twisted.
"""

from __future__ import annotations

ESCAPE = 0x1B
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
assert len(_BASIC) == 128
_EXTENSION = {
    0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\",
    0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€",
}
_ENCODE: dict[str, bytes] = {ch: bytes([i]) for i, ch in enumerate(_BASIC) if i != ESCAPE}
_ENCODE.update({ch: bytes([ESCAPE, code]) for code, ch in _EXTENSION.items()})


def septets(char: str) -> int:
    """Septets ``char`` needs (2 for extension characters); 0 when it is not in the alphabet."""
    code = _ENCODE.get(char)
    return len(code) if code else 0


def can_encode(text: str) -> bool:
    return all(ch in _ENCODE for ch in text)


def encode(text: str) -> bytes:
    """Raise ``ValueError`` naming the first character outside the alphabet."""
    out = bytearray()
    for pos, ch in enumerate(text):
        code = _ENCODE.get(ch)
        if code is None:
            raise ValueError(f"character {ch!r} at {pos} is not in GSM 03.38")
        out += code
    return bytes(out)


def decode(data: bytes) -> str:
    """Lenient: an unknown escape yields the basic character, bit 7 is ignored (never raises)."""
    out: list[str] = []
    escaped = False
    for octet in data:
        octet &= 0x7F
        if escaped:
            out.append(_EXTENSION.get(octet, _BASIC[octet] if octet != ESCAPE else " "))
            escaped = False
        elif octet == ESCAPE:
            escaped = True
        else:
            out.append(_BASIC[octet])
    return "".join(out)
