"""What a booking request must satisfy before any place is looked at (pure: no Redis, no clock).

``booking.hold`` runs it before its script, ``booking.testing``'s twin before its own state, so
both refuse the same requests with the same codes.
"""

from __future__ import annotations

import datetime as dt
import re

from booking.api import BookingError, BookingRequest
from booking.catalog import DepartmentConfig, HospitalConfig, SessionTemplate
from booking.idcard import is_valid_resident_id, normalize_resident_id
from booking.policy import PAY_AT_HOSPITAL
from booking.rules import at, bookable

ONSITE = ("onsite", "desk", "reserve", "referral")  # channels booked at the hospital
MSISDN = re.compile(r"[1-9][0-9]{6,14}")  # E.164 digits, no '+'
NAME = re.compile(r"[a-z][a-z0-9_-]{0,15}")  # channel and language names
SOURCE = re.compile(r"[A-Za-z0-9_.:-]{0,64}")  # a booking's source (a terminal id); "": none


def checked_request(
    request: BookingRequest, catalog: HospitalConfig, now_s: float, now: dt.datetime
) -> tuple[str, DepartmentConfig, SessionTemplate, bool]:
    """The normalised ID, the department, the session and whether it is paid at once; raises
    BookingError invalid_id, closed or bad_request. ``now`` is the local time of ``now_s``."""
    id_number = normalize_resident_id(request.id_number)
    if not is_valid_resident_id(id_number, today=now.date()):
        raise BookingError("invalid_id", "That ID number is not valid. Please check it.")
    dept = catalog.department(request.dept_id)
    tmpl = dept.session(request.session) if dept else None
    onsite = request.channel in ONSITE
    p = catalog.policy
    if dept is None or tmpl is None or not (
        onsite or bookable(request.day, now, catalog.days_ahead, p.release_time, p.booking_cutoff)
    ):
        raise BookingError("closed", "That session cannot be booked remotely.")
    if onsite and now_s >= at(request.day, tmpl.end, catalog.tz):  # the desk books until the end
        raise BookingError("closed", "That session is over.")
    if not MSISDN.fullmatch(request.msisdn) or not NAME.fullmatch(request.channel):
        raise BookingError("bad_request", "msisdn (E.164 digits) and channel are required.")
    if not SOURCE.fullmatch(request.source):
        raise BookingError("bad_request", "source: at most 64 characters of [A-Za-z0-9_.:-].")
    return id_number, dept, tmpl, p.payment == PAY_AT_HOSPITAL or onsite


def notice_lang(request: BookingRequest) -> str:
    """The language of the patient's notices: the request's if it is a plain name, else zh."""
    return request.lang if NAME.fullmatch(request.lang or "") else "zh"
