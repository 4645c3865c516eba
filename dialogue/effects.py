"""Run the menu engine's effects against booking: the only place effect names meet booking calls.

Effect names and value shapes are the contract in docs/menus.md. Texts are rendered in the
session's language here so the engine only ever handles plain lists of ``{"id", "name"}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from booking.api import Booking, BookingError, BookingRequest, BookingService
from booking.rules import day_label
from dialogue.languages import LanguageMemory
from dialogue.prefetch import CallerPrefetch
from menus.definition import MenuSource
from menus.driver import Dialogue, FetchVersion
from menus.engine import Validators
from menus.types import Effect, EffectResult, Session

RunEffect = Callable[[Effect, Session], Awaitable[EffectResult]]
CountBooking = Callable[[str, str], None]  # (outcome, channel): the wiring's booking counter


log = Logger(namespace="dialogue.effects")


def no_count(outcome: str, channel: str) -> None:
    """The counter when nothing counts (tests, the simulator)."""


def _name(names: Any, lang: str) -> str:
    if isinstance(names, str):
        return names
    return str(names.get(lang) or next(iter(names.values()), ""))


SmsHelp = Callable[[str, str], Awaitable[None]]  # (msisdn, lang): text the caller how to book
# voice-only languages and the written language their data, bookings and SMS are in (the
# menu's ``voice_languages``): a Cantonese caller hears the Chinese names and gets Chinese SMS
WRITTEN = {"yue": "zh"}


def make_effect_runner(
    booking: BookingService, *, sms_help: SmsHelp | None = None,
    prefetch: CallerPrefetch | None = None, languages: LanguageMemory | None = None,
    count: CountBooking = no_count,
) -> RunEffect:
    """An async ``run_effect(effect, session)`` bound to ``booking`` (and the SMS side);
    ``prefetch``: the caller lookups started when a dialogue begins (``dialogue.prefetch``);
    ``count(outcome, channel)`` after each booking, refusal and cancel."""
    lookup = prefetch.registered_ids if prefetch is not None else booking.registered_ids

    async def platform() -> list[Any]:
        return list(await booking.hospitals())

    async def hospital_start(args: dict[str, Any], session: Session) -> Any:
        """Where the dialogue begins: the only hospital, the one the entry point chose, or the
        caller's recent ones (docs/menus.md "Choosing the hospital")."""
        found = await platform()
        if len(found) == 1:
            return _start("single", hospital_item(found[0], session.lang))
        entry = str(args.get("entry", "")).strip()
        if entry:
            chosen = pick_hospital(found, entry)
            if chosen is not None:
                return _start("preset", hospital_item(chosen, session.lang))
        recent: list[dict[str, str]] = []
        if session.msisdn:  # an unknown code too: the caller then chooses as usual
            by_id = {h.id: h for h in found}
            ids = await booking.recent_hospitals(session.msisdn)
            recent = [hospital_item(by_id[i], session.lang) for i in ids if i in by_id]
        if entry and not entry.isdigit():  # an id no hospital has: the settings are wrong
            log.warn("menus.unknown_hospital_entry entry={entry}", entry=entry[:16])
            entry = ""  # the caller is not told of an id he never keyed
        mode = "unknown" if entry else "recent" if recent else "new"
        return _start(mode, {}, recent[:RECENT], entry)

    async def hospitals(args: dict[str, Any], session: Session) -> Any:
        """The platform's hospitals in its order; ``district``: only that district's."""
        district = str(args.get("district", ""))
        return [
            hospital_item(h, session.lang)
            for h in await platform()
            if not district or _name(h.district, "zh") == district
        ]

    async def districts(_: dict[str, Any], session: Session) -> Any:
        """The districts that have a hospital, in the order their first hospital comes."""
        seen: dict[str, dict[str, str]] = {}
        for h in await platform():
            key = _name(h.district, "zh")
            seen.setdefault(key, {"id": key, "name": _name(h.district, session.lang)})
        return list(seen.values())

    async def hospital_by_code(args: dict[str, Any], session: Session) -> Any:
        code = str(args["code"]).strip()
        chosen = next((h for h in await platform() if h.code == code), None)
        if chosen is None:
            raise BookingError("unknown_hospital", "No hospital has this code.")
        return hospital_item(chosen, session.lang)

    async def departments(args: dict[str, Any], session: Session) -> Any:
        found = await booking.departments(**_at(args))
        return [{"id": d.id, "name": _name(d.name, session.lang)} for d in found]

    async def open_days(args: dict[str, Any], session: Session) -> Any:
        days = await booking.open_days(str(args["dept"]), **_at(args))
        out = [{"id": d.isoformat(), "name": day_label(d, session.lang)} for d in days]
        if session.lang == "zh":  # seven full Chinese dates take two USSD pages
            for item, short in zip(out, short_days(days), strict=True):
                item["short"] = short
        return out

    async def sessions(args: dict[str, Any], session: Session) -> Any:
        day = dt.date.fromisoformat(str(args["day"]))
        found = await booking.sessions(str(args["dept"]), day, **_at(args))
        return [
            {"id": s.session, "name": _name(s.label, session.lang), "left": s.remote_left}
            for s in found
            if s.remote_left > 0
        ]

    async def book(args: dict[str, Any], session: Session) -> Any:
        request = BookingRequest(
            dept_id=str(args["dept"]),
            day=dt.date.fromisoformat(str(args["day"])),
            session=str(args["session"]),
            id_number=str(args["id_number"]),
            msisdn=session.msisdn,
            channel=session.channel,
            request_key=str(args.get("request_key", "")),
            lang=session.lang,
            **_at(args),
        )
        try:
            taken = await booking.book(request)
        except BookingError as exc:
            count(exc.code, session.channel)
            raise
        count("held" if taken.status.value == "held" else "taken", session.channel)
        return booking_summary(taken, session.lang)

    async def my_bookings(_: dict[str, Any], session: Session) -> Any:
        found = await booking.bookings_for(session.msisdn)
        places = await platform()
        short = {h.id: _name(h.short or h.name, session.lang) for h in places}
        several = len(places) > 1  # one hospital: no need to name it
        return [
            {"id": b.tcode, "name": booking_line(b, session.lang,
                                                 short.get(b.hospital_id, "") if several else "")}
            for b in found
        ]

    async def cancel(args: dict[str, Any], session: Session) -> Any:
        done = await booking.cancel(str(args["tcode"]), msisdn=session.msisdn)
        count("cancelled", session.channel)
        return {"tcode": done.tcode}

    async def registered_ids(_: dict[str, Any], session: Session) -> Any:
        """IDs bound to the caller's phone, labelled by their last 4 (a registered caller skips
        the ID entry)."""
        label = "尾号{}" if session.lang == "zh" else "ID ending {}"
        found = await lookup(session.msisdn) if session.msisdn else []
        return [{"id": i, "name": label.format(i[-4:])} for i in found]

    async def register(args: dict[str, Any], session: Session) -> Any:
        if prefetch is not None:
            prefetch.forget(session.msisdn)
        await booking.register(session.msisdn, str(args["id_number"]))
        return {}

    async def send_sms_help(_: dict[str, Any], session: Session) -> Any:
        if sms_help is None or not session.msisdn:
            raise BookingError("unsupported", "No SMS can be sent to this caller.")
        await sms_help(session.msisdn, session.lang)
        return {}

    async def remember_language(_: dict[str, Any], session: Session) -> Any:
        """Keep the language the caller just chose for the next call from this phone."""
        if languages is None:
            raise BookingError("unsupported", "Languages are not remembered here.")
        await languages.remember(session.msisdn, session.lang)
        return {}

    handlers = {
        "remember_language": remember_language,
        "sms_help": send_sms_help,
        "hospital_start": hospital_start,
        "hospitals": hospitals,
        "districts": districts,
        "hospital_by_code": hospital_by_code,
        "departments": departments,
        "open_days": open_days,
        "sessions": sessions,
        "book": book,
        "my_bookings": my_bookings,
        "cancel": cancel,
        "register": register,
        "registered_ids": registered_ids,
    }

    async def run_effect(effect: Effect, session: Session) -> EffectResult:
        handler = handlers.get(effect.name)
        if handler is None:
            return EffectResult(ok=False, error="unknown_effect")
        if session.lang in WRITTEN and handler is not remember_language:
            session = session.evolve(lang=WRITTEN[session.lang])
        try:
            return EffectResult(ok=True, value=await handler(dict(effect.args), session))
        except BookingError as exc:
            return EffectResult(ok=False, error=exc.code, value={"message": exc.message})
        except (KeyError, ValueError):
            return EffectResult(ok=False, error="bad_arguments")

    return run_effect


def booking_dialogue(
    menus: MenuSource, booking: BookingService, clock: IReactorTime, validators: Validators, *,
    sms_help: SmsHelp | None = None, languages: LanguageMemory | None = None,
    fetch_version: FetchVersion | None = None, count: CountBooking = no_count,
    count_begin: Callable[[Session], object] | None = None,
) -> Dialogue:
    """The channels' ``Dialogue`` on the booking core, as ``hotline serve`` runs it: effects
    against ``booking``, each caller's registered IDs read as their dialogue begins, and a
    menu version this process lacks fetched with ``fetch_version``; ``count_begin`` hears of
    each dialogue begun (``metrics.live``), ``count`` of each booking (``metrics``)."""
    prefetch = CallerPrefetch(booking, clock)
    runner = make_effect_runner(booking, sms_help=sms_help, prefetch=prefetch, languages=languages,
                                count=count)
    preferred = languages.preferred if languages is not None else None
    def begin(session: Session) -> None:
        prefetch.begin(session)
        if count_begin is not None:
            count_begin(session)

    return Dialogue(menus, runner, validators, on_begin=begin, preferred_lang=preferred,
                    fetch_version=fetch_version)


def booking_line(booking: Booking, lang: str, hospital: str = "") -> str:
    """One line of "my bookings": "内科 11月27日 上午" (month/day only, no weekday), after the
    hospital's short name on a platform of several ("市一 内科 11月27日 上午")."""
    d = booking.day
    day = f"{d.month}月{d.day}日" if lang == "zh" else day_label(d, lang)
    line = f"{_name(booking.dept_name, lang)} {day} {_name(booking.session_label, lang)}"
    return f"{hospital} {line}" if hospital else line


_WEEKDAY_SHORT = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def short_days(days: list[dt.date]) -> list[str]:
    """A date list's screen forms: "12月5日周六", "6日周日"…, the month only where it changes
    (as the voice reads the list), so seven days fit one Chinese USSD page."""
    out: list[str] = []
    month = None
    for d in days:
        head = f"{d.month}月" if d.month != month else ""
        month = d.month
        out.append(f"{head}{d.day}日{_WEEKDAY_SHORT[d.weekday()]}")
    return out


RECENT = 2  # recent hospitals a returning caller is offered on the welcome screen


def _start(mode: str, hospital: dict[str, str], recent: list[dict[str, str]] | None = None,
           entry: str = "") -> dict[str, Any]:
    return {"mode": mode, "hospital": hospital, "recent": recent or [], "entry": entry}


def _at(args: dict[str, Any]) -> dict[str, str]:
    """The ``hospital_id`` keyword for a booking call when the menu chose one; none when it
    did not (the platform's only hospital)."""
    chosen = str(args.get("hospital", "") or "")
    return {"hospital_id": chosen} if chosen else {}


def pick_hospital(hospitals: list[Any], entry: str) -> Any | None:
    """The hospital an entry point named, by its code (``*12580*12#``) or its id."""
    return next((h for h in hospitals if h.code == entry), None) or next(
        (h for h in hospitals if h.id == entry), None)


def hospital_item(hospital: Any, lang: str) -> dict[str, str]:
    """A hospital as menus see it: ``name`` its short name (lists, small screens), ``full``
    its whole name, its keypad ``code`` and its ``district``."""
    return {
        "id": hospital.id,
        "name": _name(hospital.short or hospital.name, lang),
        "full": _name(hospital.name, lang),
        "code": hospital.code,
        "district": _name(hospital.district, lang),
    }


def booking_summary(booking: Booking, lang: str) -> dict[str, str]:
    """The fields a menu may show about a booking (no ID or phone number)."""
    return {
        "tcode": booking.tcode,
        "dept_name": _name(booking.dept_name, lang),
        "day_name": day_label(booking.day, lang),
        "session_name": _name(booking.session_label, lang),
        # "held" for a pay-to-confirm hospital: the menu says pay before hold_until (epoch s)
        "status": booking.status.value,
        "hold_until": booking.extra.get("hold_until", ""),
    }
