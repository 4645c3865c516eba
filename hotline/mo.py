"""MO text commands executed against booking, each answered by SMS (contract 4 of phase 2).

``sms.mo.parse`` (pure) says what the patient asked; this module calls ``booking.api`` and
queues the answer through the ordinary sender (so it goes through the durable outbox).  A
command is only ever applied to the phone that sent it: cancel passes the sender's number, so a
stranger's T-code answers ``not_found``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

from booking.api import BookingError
from hotline import metrics
from hotline.notify import Renderer
from sms.api import OutgoingSms
from sms.mo import Command, Keywords, parse

log = Logger(namespace="hotline.mo")
ENGLISH = {"CANCEL", "QUERY", "REG", "HELP"}


class MoCommands:
    def __init__(self, booking: Any, sender: Any, renderer: Renderer, clock: Any, *,
                 keywords: Keywords | None = None) -> None:
        self.booking = booking
        self.sender = sender
        self.renderer = renderer
        self.clock = clock
        self.keywords = keywords or Keywords()

    def handle(self, to: str, source: str, text: str) -> defer.Deferred[str]:
        """ESME ``on_message`` hook: (our short code, the patient's number, the whole text)."""
        return defer.ensureDeferred(self.answer(source, text))

    async def answer(self, msisdn: str, text: str) -> str:
        command = parse(text, self.keywords)
        lang = "en" if text.strip().upper().split(" ")[0].rstrip("0123456789") in ENGLISH \
            else "zh"
        reply = await self._run(command, msisdn, lang)
        digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
        minute = int(self.clock.seconds() // 60)  # an SMSC redelivery within a minute: once
        await defer.maybeDeferred(self.sender.send, OutgoingSms(
            msisdn, reply, f"mo:{msisdn}:{digest}:{minute}", "mo_reply"))
        log.info("mo.answered action={a}", a=command.action)
        return reply

    async def send_help(self, msisdn: str, lang: str) -> None:
        """The how-to SMS a menu sends when a caller gives up (``$sms``); once a minute at most."""
        minute = int(self.clock.seconds() // 60)
        await defer.maybeDeferred(self.sender.send, OutgoingSms(
            msisdn, self.renderer.text("mo_help", lang), f"help:{msisdn}:{minute}", "mo_reply"))

    async def _run(self, command: Command, msisdn: str, lang: str) -> str:
        text = self.renderer.text
        if command.action == "cancel":
            try:
                booking = await self.booking.cancel(command.arg, msisdn=msisdn)
            except BookingError as err:
                return text("mo_cancel_failed", lang, tcode=command.arg, reason=err.message)
            metrics.booking("cancelled", "sms")
            return text("mo_cancelled", lang, tcode=booking.tcode)
        if command.action == "query":
            bookings = await self.booking.bookings_for(msisdn)
            if not bookings:
                return text("mo_no_bookings", lang)
            lines = []
            for b in bookings:
                f = self.renderer.booking_fields(b.dept_id, b.day, b.session, lang)
                lines.append(f"{b.tcode} {f['dept']} {f['day']} {f['session']}")
            return text("mo_bookings", lang, bookings="; ".join(lines))
        if command.action == "register":
            try:
                ids = await self.booking.register(msisdn, command.arg)
            except BookingError as err:
                return text("mo_register_failed", lang, reason=err.message)
            return text("mo_registered", lang, count=len(ids))
        return text("mo_help", lang)
