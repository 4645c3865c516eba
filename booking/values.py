"""Booking values from stored hashes, and the patient-safe messages of every refusal code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from booking.api import Booking, BookingError, BookingRequest, BookingStatus
from booking.catalog import HospitalConfig

NOT_FOUND = "No booking matches this code. Please check the 10 digits in your SMS."
MESSAGES = {
    "not_found": NOT_FOUND,
    "cancelled": "This booking was cancelled.",
    "expired": "This booking was not paid in time and has lapsed.",
    "no_show": "This booking was missed and can no longer be used.",
    "not_today": "This booking is for another day.",
    "already_checked_in": "This booking has already been checked in.",
    "too_early": "Check-in for this session has not opened yet.",
    "too_late": "It is too late for that: the deadline has passed.",
    "held": "This booking is waiting for payment.",
    "duplicate": "This ID already has a booking in this department on that day.",
    "full": "No places are left in that session.",
    "closed": "That session cannot be booked.",
    "rate_limited": "Too many requests from this phone or ID. Please try again in a minute.",
    "limit_ids": "This phone number already books for the most ID numbers allowed.",
    "limit": "Booking limit reached.",
}
_EXTRA = ("kiosk_id", "cancelled_at", "hold_until", "paid_txn", "release_at", "bucket", "lang",
          "queue_no", "source")


def booking_from_hash(hospital: HospitalConfig | None, h: Mapping[str, str]) -> Booking:
    """A Booking from the ``hl:bk:<tcode>`` hash (names from its hospital's catalog when it
    still has them: ``hospital`` None when the platform no longer knows the hospital)."""
    dept = hospital.department(h["dept"]) if hospital else None
    tmpl = dept.session(h["session"]) if dept else None
    checked = h.get("checked_in_at")
    extra = {k: h[k] for k in _EXTRA if h.get(k) and h[k] != "0"}
    return Booking(
        tcode=h["tcode"],
        dept_id=h["dept"],
        dept_name=dept.name if dept else {"zh": h["dept"], "en": h["dept"]},
        day=dt.date.fromisoformat(h["day"]),
        session=h["session"],
        session_label=tmpl.label if tmpl else {"zh": h["session"], "en": h["session"]},
        id_number=h["id"],
        msisdn=h["msisdn"],
        channel=h["channel"],
        status=BookingStatus(h["status"]),
        created_at=float(h["created_at"]),
        checked_in_at=float(checked) if checked else None,
        extra=extra,
        hospital_id=h.get("hospital") or (hospital.id if hospital else ""),
        hospital_name=hospital.name if hospital else {"zh": h.get("hospital", ""),
                                                      "en": h.get("hospital", "")},
    )


def same_request(booking: Booking, req: BookingRequest, id_number: str) -> Booking:
    """A replayed request key must describe the booking it made; anything else is a client bug."""
    same = (booking.dept_id, booking.day, booking.session, booking.id_number) == (
        req.dept_id, req.day, req.session, id_number,
    )  # fmt: skip
    if not same:
        raise BookingError("bad_request", "This request key was already used for another booking.")
    return booking


_LIMIT_MESSAGES = {
    "day": "This ID already has the most bookings allowed on that day.",
    "7d": "This ID has reached the most bookings allowed in 7 days.",
    "90d": "This ID has reached the most bookings allowed in 90 days.",
}


def refused_error(status: str, detail: str, tz: ZoneInfo) -> BookingError:
    """The BookingError for a refusal of hold.lua (``detail``: the bar's end, or which cap)."""
    if status == "blacklisted":
        until = dt.datetime.fromtimestamp(float(detail), tz).date().isoformat()
        return BookingError(
            "blacklisted",
            f"Remote booking is barred for this ID until {until} (missed visits or cancels).",
        )
    if status == "limit":
        return BookingError("limit", _LIMIT_MESSAGES.get(detail, "Booking limit reached."))
    return BookingError(status, MESSAGES.get(status, "That booking is not possible."))


def refusal(code: str) -> BookingError:
    return BookingError(code, MESSAGES.get(code, "This booking cannot be used."))


def reserve_reply(reply: list[Any], reserve: int) -> dict[str, int]:
    """set_reserve.lua's answer as a result, or the BookingError it stands for."""
    status = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
    if status == "closed":
        raise BookingError("closed", "The session is suspended: it has no reserve to set.")
    if status == "over":
        raise BookingError("bad_request", f"reserve must be 0..{reply[1]} (the session's places).")
    if status == "taken":
        raise BookingError(
            "bad_request",
            f"a reserve of {reserve} would leave fewer places than are taken ({reply[1]} remote "
            f"and on-site, {reply[2]} reserve): no booking is cancelled for a reserve change.")
    return {"places": int(reply[1]), "reserve": int(reply[2]), "remote_quota": int(reply[3])}
