"""MO text commands executed against booking, each answered by SMS (contract 4 of phase 2).

``sms.mo.parse`` (pure) says what the patient asked; this module calls ``booking.api`` and
queues the answer through the ordinary sender (so it goes through the durable outbox).  A
command is only ever applied to the phone that sent it: cancel passes the sender's number, so a
stranger's T-code answers ``not_found``.

One action, one SMS: a cancel's answer *is* the cancellation notice, written under the same
outbox key as the notice the ``cancelled`` event brings (``cancelled:<tcode>``), so whichever
of the two reaches the outbox first is the only one sent.  A refusal is answered with the
reason's text in the command's language (``reasons`` in the SMS templates); a repeated cancel
of a code already cancelled is keyed the same way, so it brings nothing new either.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

from booking.api import BookingError
from notify.templates import CountBooking, Renderer, no_count
from sms.api import OutgoingSms
from sms.mo import Command, Keywords, parse

log = Logger(namespace="notify.mo")
ENGLISH = {"CANCEL", "QUERY", "REG", "HELP", "APPEAL"}
Notice = Callable[[str, Mapping[str, str]], OutgoingSms]  # (kind, event) -> its SMS


class MoCommands:
    def __init__(self, booking: Any, sender: Any, renderer: Renderer, clock: Any, *,
                 keywords: Keywords | None = None, notice: Notice | None = None,
                 count: CountBooking = no_count) -> None:
        """``notice`` builds an event's SMS (``notify.events.EventConsumer.message``): with it
        a cancel is answered by the cancellation notice itself. ``count(outcome, channel)``:
        the wiring's booking counter."""
        self.booking = booking
        self.notice = notice
        self.sender = sender
        self.renderer = renderer
        self.clock = clock
        self.keywords = keywords or Keywords()
        self.count = count

    def handle(self, to: str, source: str, text: str) -> defer.Deferred[str]:
        """ESME ``on_message`` hook: (our short code, the patient's number, the whole text)."""
        return defer.ensureDeferred(self.answer(source, text))

    async def answer(self, msisdn: str, text: str) -> str:
        command = parse(text, self.keywords)
        lang = "en" if text.strip().upper().split(" ")[0].rstrip("0123456789") in ENGLISH \
            else "zh"
        answer = await self._run(command, msisdn, lang)
        if isinstance(answer, str):
            digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
            minute = int(self.clock.seconds() // 60)  # an SMSC redelivery within a minute: once
            answer = OutgoingSms(msisdn, answer, f"mo:{msisdn}:{digest}:{minute}", "mo_reply")
        await defer.maybeDeferred(self.sender.send, answer)
        log.info("mo.answered action={a}", a=command.action)
        return answer.text

    async def send_help(self, msisdn: str, lang: str) -> None:
        """The how-to SMS a menu sends when a caller gives up (``$sms``); once a minute at most."""
        minute = int(self.clock.seconds() // 60)
        await defer.maybeDeferred(self.sender.send, OutgoingSms(
            msisdn, self.renderer.text("mo_help", lang), f"help:{msisdn}:{minute}", "mo_reply"))

    def _cancel_notice(self, booking: Any) -> OutgoingSms | None:
        """The ``cancelled`` notice of ``booking``, exactly as its event renders it."""
        if self.notice is None or not self.renderer.has("cancelled"):
            return None
        event = {"tcode": booking.tcode, "msisdn": booking.msisdn, "dept": booking.dept_id,
                 "hospital": booking.hospital_id,
                 "day": booking.day.isoformat(), "session": booking.session,
                 "lang": booking.extra.get("lang") or self.renderer.default_lang,
                 "reason": "patient", "ts": str(self.clock.seconds())}
        return self.notice("cancelled", event)

    def _short(self, hospital_id: str, lang: str) -> str:
        """The hospital's name for a short line (its ``short`` name)."""
        hospital = self.renderer.hospital(hospital_id)
        if hospital is None:
            return hospital_id
        names = hospital.short or hospital.name
        return str(names.get(lang) or names.get("zh") or next(iter(names.values()), ""))

    async def _run(self, command: Command, msisdn: str, lang: str) -> str | OutgoingSms:
        text = self.renderer.text
        if command.action == "cancel":
            try:
                booking = await self.booking.cancel(command.arg, msisdn=msisdn)
            except BookingError as err:
                reply = text("mo_cancel_failed", lang, tcode=command.arg,
                             reason=self.renderer.reason(err.code, lang, err.message))
                if err.code == "cancelled":  # only its owner learns that: one SMS per cancel
                    return OutgoingSms(msisdn, reply, f"cancelled:{command.arg}", "mo_reply")
                return reply
            self.count("cancelled", "sms")
            return self._cancel_notice(booking) or text(
                "mo_cancelled", lang, booking.hospital_id, tcode=booking.tcode)
        if command.action == "query":
            bookings = await self.booking.bookings_for(msisdn)
            if not bookings:
                return text("mo_no_bookings", lang)
            several = len({b.hospital_id for b in bookings}) > 1
            lines = []
            for b in bookings:
                hospital_id = b.hospital_id
                f = self.renderer.booking_fields(b.dept_id, b.day, b.session, lang, hospital_id)
                where = self._short(hospital_id, lang) + " " if several else ""
                lines.append(f"{b.tcode} {where}{f['dept']} {f['day']} {f['session']}")
            if not several:  # all at one hospital: its signature and name
                return text("mo_bookings", lang, bookings[0].hospital_id,
                            bookings="; ".join(lines))
            return text("mo_bookings", lang, bookings="; ".join(lines))
        if command.action == "register":
            try:
                ids = await self.booking.register(msisdn, command.arg)
            except BookingError as err:
                return text("mo_register_failed", lang,
                            reason=self.renderer.reason(err.code, lang, err.message))
            return text("mo_registered", lang, count=len(ids))
        appeal = getattr(self.booking, "appeal", None)  # booking's stand-ins may have none
        if command.action == "appeal" and appeal is not None \
                and self.renderer.has("appeal_received"):
            rows = await appeal(msisdn, command.arg, lang)
            if not rows:
                return text("appeal_not_barred", lang)
            log.info("mo.appeal bars={n}", n=len(rows))
            return text("appeal_received", lang, str(rows[0].get("hospital", "")))
        return text("mo_help", lang)
