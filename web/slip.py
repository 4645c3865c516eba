"""The registration slip a kiosk prints after a check-in, as PDF for printers driven without a
browser: ``POST /api/kiosk/check-in.pdf`` takes the kiosk API's body (plus an optional ``lang``),
checks the patient in exactly as ``/api/kiosk/check-in`` does (same registry, secret and limits)
and answers the slip, 80 mm wide; a refusal is the kiosk API's JSON error.

Chinese text needs a CJK font embedded in the PDF (``kiosk.pdf_font``, a .ttf or .ttc file); a
missing font is named in the error, never replaced by boxes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from booking.api import Booking, BookingError, BookingService, RateLimited
from pii import mask_tail
from web.jsonapi import ERROR_STATUS, error_body, read_json, write_json
from web.kiosk import CountBooking, KioskAccess, admit, no_count, owner_arg
from web.qr import qr_matrix

log = Logger()
WIDTH = 80 * mm  # the paper of a receipt printer
MARGIN = 4 * mm
LABELS = {
    "zh": {"title": "挂号凭条", "dept": "科室", "day": "日期", "session": "时段", "queue": "序号",
           "id": "身份证", "tcode": "取号码", "note": "请按序号候诊"},
    "en": {"title": "Registration slip", "dept": "Department", "day": "Date",
           "session": "Session", "queue": "Queue no.", "id": "ID", "tcode": "Code",
           "note": "Please wait to be called by number"},
}


class FontMissing(RuntimeError):
    """The configured CJK font cannot be read (the message names the setting and the path)."""


@dataclass(frozen=True, slots=True)
class Slip:
    """What a slip shows: names in one language, the ID masked."""

    hospital: str
    dept: str
    day: str
    session: str
    queue_no: str
    id_masked: str
    tcode: str
    lang: str = "zh"


def slip_of(booking: Booking, hospital: Mapping[str, str], lang: str) -> Slip:
    def pick(names: Mapping[str, str]) -> str:
        return names.get(lang) or names.get("zh") or next(iter(names.values()), "")

    return Slip(pick(hospital), pick(booking.dept_name), booking.day.isoformat(),
                pick(booking.session_label), booking.extra.get("queue_no", ""),
                mask_tail(booking.id_number), booking.tcode, lang)


@cache
def _font(path: str) -> str:
    """Register the font once per path; its reportlab name."""
    if not Path(path).is_file():
        raise FontMissing(f"kiosk.pdf_font: no font file at {path!r} (install fonts-wqy-microhei "
                          "or set kiosk.pdf_font to a CJK .ttf/.ttc)")
    name = f"slip-{len(pdfmetrics.getRegisteredFontNames())}"
    try:
        pdfmetrics.registerFont(TTFont(name, path, subfontIndex=0))
    except Exception as exc:  # reportlab raises its own TTFError and plain errors
        raise FontMissing(f"kiosk.pdf_font: {path!r} is not a usable TrueType font: {exc}") from exc
    return name


def check_font(path: str) -> None:
    """Raise FontMissing now (at start) rather than at the first printed slip."""
    _font(path)


def slip_pdf(slip: Slip, font_path: str) -> bytes:
    """One page, 80 mm wide: hospital, department, date, session, the queue number large, the
    masked ID, the T-code in digits and as QR (the same payload as the patient's QR)."""
    font = _font(font_path)
    labels = LABELS.get(slip.lang, LABELS["zh"])
    matrix = qr_matrix(slip.tcode)
    module = min(1.2 * mm, (WIDTH - 2 * MARGIN) / (len(matrix) + 8))
    qr_side = module * len(matrix)
    height = 100 * mm + qr_side
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(WIDTH, height), pageCompression=0)
    pdf.setTitle(f"{labels['title']} {slip.tcode}")
    y = height - MARGIN - 6 * mm
    pdf.setFont(font, 13)
    pdf.drawCentredString(WIDTH / 2, y, slip.hospital)
    y -= 6 * mm
    pdf.setFont(font, 10)
    pdf.drawCentredString(WIDTH / 2, y, labels["title"])
    y -= 8 * mm
    for key, value in (("dept", slip.dept), ("day", slip.day), ("session", slip.session)):
        pdf.drawString(MARGIN, y, f"{labels[key]}: {value}")
        y -= 5.5 * mm
    pdf.setFont(font, 11)
    pdf.drawCentredString(WIDTH / 2, y - 1 * mm, labels["queue"])
    y -= 13 * mm
    pdf.setFont(font, 30)
    pdf.drawCentredString(WIDTH / 2, y, slip.queue_no)
    y -= 8 * mm
    pdf.setFont(font, 10)
    pdf.drawString(MARGIN, y, f"{labels['id']}: {slip.id_masked}")
    y -= 5.5 * mm
    pdf.drawString(MARGIN, y, f"{labels['tcode']}: {slip.tcode}")
    y -= 3 * mm + qr_side
    left = (WIDTH - qr_side) / 2
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                pdf.rect(left + c * module, y + (len(matrix) - 1 - r) * module, module, module,
                         stroke=0, fill=1)
    y -= 6 * mm
    pdf.drawCentredString(WIDTH / 2, y, labels["note"])
    pdf.showPage()
    pdf.save()
    return out.getvalue()


class SlipPdf(Resource):
    """``POST /api/kiosk/check-in.pdf``: check in, answer the slip as ``application/pdf``."""

    isLeaf = True

    def __init__(self, booking: BookingService, access: KioskAccess, hospital: Mapping[str, str],
                 font_path: str, count: CountBooking = no_count) -> None:
        super().__init__()
        self.booking, self.access, self.hospital = booking, access, hospital
        self.font_path, self.count = font_path, count

    def render_POST(self, request: Request) -> object:
        async def run() -> None:
            try:
                body = read_json(request)
                lang = body.get("lang") if body.get("lang") in LABELS else "zh"
                _font(self.font_path)  # before the check-in: a missing font changes nothing
                tcode, kiosk, client, owner = admit(self.access, body, request)
                checked = await self.booking.check_in(tcode, kiosk, client, **owner_arg(owner))
                self.count("checked_in", "kiosk")
                slip = slip_of(checked, checked.hospital_name or self.hospital, str(lang))
                pdf = slip_pdf(slip, self.font_path)
            except BookingError as exc:
                answer = error_body(exc.code, exc.message)
                if isinstance(exc, RateLimited):
                    request.setHeader(b"retry-after", b"%d" % exc.retry_after_s)
                    answer["error"]["retry_after_s"] = exc.retry_after_s
                write_json(request, ERROR_STATUS.get(exc.code, 400), answer)
                return
            except FontMissing as exc:
                log.error("kiosk.slip_font why={why}", why=str(exc))
                write_json(request, 503, error_body("no_font", str(exc)))
                return
            except Exception:
                log.failure("http.unhandled")
                write_json(request, 500, error_body("internal", "internal error"))
                return
            if request.finished or request._disconnected:  # type: ignore[attr-defined]
                return
            request.setHeader(b"content-type", b"application/pdf")
            request.setHeader(b"content-disposition", b'inline; filename="slip.pdf"')
            request.write(pdf)
            request.finish()

        Deferred.fromCoroutine(run())
        return NOT_DONE_YET

