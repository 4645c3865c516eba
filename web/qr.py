"""The T-code as a QR code: the payload is the 10 digits alone, so any scanner that types what it
reads fills the kiosk's code field, and a patient can still read the digits under it."""

from __future__ import annotations

import segno

ERROR_LEVEL = "m"  # survives a crease or a smudge on a printed slip or a cracked phone screen


def qr_svg(tcode: str, scale: int = 6) -> str:
    """An inline ``<svg>`` element (no XML declaration) with the quiet zone scanners need."""
    return str(segno.make(tcode, error=ERROR_LEVEL, micro=False).svg_inline(
        scale=scale, border=4))


def qr_matrix(tcode: str) -> list[list[bool]]:
    """Rows of dark (True) modules, without the quiet zone (for drawing on a PDF)."""
    code = segno.make(tcode, error=ERROR_LEVEL, micro=False)
    return [[bool(m) for m in row] for row in code.matrix]
