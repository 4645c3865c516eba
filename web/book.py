"""Web booking for patients on a phone browser: ``/book/`` (docs/web.md).

Server-rendered HTML forms that work without JavaScript, zh and en. Every rule is booking's:
the pages ask ``BookingService`` (departments, open days, sessions, book, bookings_for, cancel,
registered_ids) and show its refusals; the ID number is checked by booking's ID rules (the
wiring injects them) before a booking is tried. Bookings carry the channel ``web``; booking's
event sends the same T-code SMS as every other channel.

The phone is proven by a one-time code (``web.otp``); then a session cookie (HttpOnly,
SameSite=Strict) names it. Every form carries a CSRF token that must equal the ``hl_csrf``
cookie (compared in constant time).

Pages: ``/book/`` departments, ``/book/d/<dept>`` days, ``/book/d/<dept>/<day>`` sessions,
``/book/confirm?dept=&day=&session=`` the patient and the booking, ``/book/login`` the phone
and the code, ``/book/mine`` my bookings with cancel, ``/book/static/*``.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

import jinja2
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from booking.api import Booking, BookingError, BookingRequest, BookingService, RateLimited
from phone import NotAPhoneNumber, normalise_msisdn
from pii import mask_tail
from web.booktexts import LANGS, Texts
from web.clientaddr import Network, client_address
from web.kiosk import CountBooking, no_count
from web.otp import CodeRefused, PhoneCheck

log = Logger()

SESSION_COOKIE = b"hl_sess"
CSRF_COOKIE = b"hl_csrf"
LANG_COOKIE = b"hl_lang"
BASE = "/book/"
MAX_FORM = 4096
_DEPT = re.compile(r"[A-Za-z0-9_-]{1,32}")
_STATIC = {"book.css": b"text/css; charset=utf-8", "book.js": b"text/javascript; charset=utf-8"}

DayLabel = Callable[[dt.date, str], str]
ValidId = Callable[[str], bool]


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("web", "templates"),
        autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def _static(name: str) -> bytes:
    return resources.files("web").joinpath("static", name).read_bytes()


@dataclass(frozen=True, slots=True)
class WebOptions:
    cookie_secure: bool = False
    session_s: int = 1800
    trusted_proxies: Sequence[Network] = ()


class Page:
    """One request's view: language, cookies, form; ``render`` and ``redirect`` finish it."""

    def __init__(self, pages: BookPages, request: Request) -> None:
        self.pages, self.request = pages, request
        self.form: dict[str, str] = {}
        self.hospital = ""  # "" on a platform of one hospital
        self.hospital_value: Any = None
        self.hbase = BASE  # where this hospital's pages start: /book/h/<id>/ or /book/
        self.lang = self._lang()
        self.csrf = self._csrf()

    def arg(self, name: str) -> str:
        values = self.request.args.get(name.encode()) or [b""]
        return values[0].decode("utf-8", "replace").strip()[:256]

    def field(self, name: str) -> str:
        return self.form.get(name, "").strip()[:256]

    def cookie(self, name: bytes) -> str:
        value = self.request.getCookie(name)
        return value.decode("ascii", "replace") if value else ""

    def set_cookie(self, name: bytes, value: str, max_age: int | None = None) -> None:
        self.request.addCookie(name, value.encode(), path=BASE, httpOnly=True,
                               secure=self.pages.options.cookie_secure, sameSite="strict",
                               max_age=str(max_age) if max_age is not None else None)

    def _lang(self) -> str:
        asked = self.arg("lang")
        if asked in LANGS:
            self.set_cookie(LANG_COOKIE, asked, 365 * 86400)
            return asked
        kept = self.cookie(LANG_COOKIE)
        if kept in LANGS:
            return kept
        accept = (self.request.getHeader(b"accept-language") or b"").decode("latin-1").lower()
        return "en" if accept.startswith("en") else "zh"

    def _csrf(self) -> str:
        token = self.cookie(CSRF_COOKIE)
        if not re.fullmatch(r"[A-Za-z0-9_-]{32,64}", token):
            token = secrets.token_urlsafe(32)
            self.set_cookie(CSRF_COOKIE, token)
        return token

    def csrf_ok(self) -> bool:
        given = self.field("csrf").encode()
        return bool(given) and hmac.compare_digest(given, self.csrf.encode())

    def t(self, key: str, **fields: Any) -> str:
        return self.pages.texts.t(key, self.lang, **fields)

    def gone(self) -> bool:
        """The patient went away while booking answered: nothing to write to."""
        return bool(self.request.finished or self.request._disconnected)  # type: ignore[attr-defined]

    def render(self, template: str, status: int = 200, **context: Any) -> None:
        if self.gone():
            return
        pages = self.pages
        context.setdefault("phone", None)
        body = pages.env.get_template(template).render(
            t=self.t, lang=self.lang, csrf=self.csrf, base=BASE, hbase=self.hbase,
            hospital=self.hospital_value,
            day=lambda d: pages.day_label(d, self.lang), name=lambda names: _pick(names, self.lang),
            **context)
        request = self.request
        request.setResponseCode(status)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"x-frame-options", b"DENY")
        request.setHeader(b"referrer-policy", b"same-origin")
        request.setHeader(b"content-security-policy",
                          b"default-src 'self'; form-action 'self'; frame-ancestors 'none'")
        request.write(body.encode("utf-8"))
        request.finish()

    def redirect(self, to: str) -> None:
        if self.gone():
            return
        self.request.setResponseCode(303)
        self.request.setHeader(b"location", to.encode())
        self.request.setHeader(b"cache-control", b"no-store")
        self.request.finish()


def _pick(names: Any, lang: str) -> str:
    return str(names.get(lang) or names.get("zh") or next(iter(names.values()), ""))


def _next_ok(path: str) -> str:
    """Only our own pages after sign-in (never another site)."""
    return path if path.startswith(BASE) and "//" not in path and "\\" not in path else BASE


class BookPages(Resource):
    """The ``/book/`` tree as one leaf: each request runs ``_serve`` asynchronously."""

    isLeaf = True

    def __init__(self, booking: BookingService, phones: PhoneCheck, *, texts: Texts,
                 valid_id: ValidId, day_label: DayLabel, options: WebOptions | None = None,
                 count: CountBooking = no_count) -> None:
        super().__init__()
        self.booking, self.phones, self.texts = booking, phones, texts
        self.valid_id, self.day_label = valid_id, day_label
        self.options = options or WebOptions()
        self.count = count
        self.env = _env()
        self.routes: dict[tuple[str, str], Callable[[Page, list[str]], Awaitable[None]]] = {
            ("GET", ""): self.departments,
            ("GET", "d"): self.dept,
            ("GET", "confirm"): self.confirm_form,
            ("POST", "confirm"): self.confirm,
            ("GET", "login"): self.login_form,
            ("POST", "login"): self.login,
            ("POST", "verify"): self.verify,
            ("POST", "logout"): self.logout,
            ("GET", "mine"): self.mine,
            ("POST", "cancel"): self.cancel,
        }

    def render_GET(self, request: Request) -> object:
        return self._start(request)

    def render_POST(self, request: Request) -> object:
        return self._start(request)

    def render_HEAD(self, request: Request) -> object:
        return self._start(request)

    def _start(self, request: Request) -> object:
        parts = [p.decode("utf-8", "replace") for p in request.postpath]
        if parts and parts[0] == "static":
            name = parts[1] if len(parts) == 2 else ""
            if name not in _STATIC:
                request.setResponseCode(404)
                return b""
            request.setHeader(b"content-type", _STATIC[name])
            request.setHeader(b"cache-control", b"max-age=3600")
            return _static(name)
        Deferred.fromCoroutine(self._serve(request, parts))
        return NOT_DONE_YET

    async def _serve(self, request: Request, parts: list[str]) -> None:
        try:
            page = Page(self, request)
            method = "GET" if request.method == b"HEAD" else request.method.decode()
            if len(parts) >= 2 and parts[0] == "h":
                known = {h.id: h for h in await self.booking.hospitals()}
                if parts[1] not in known:
                    page.render("message.html", 404, message=page.t("not_found"))
                    return
                page.hospital, page.hospital_value = parts[1], known[parts[1]]
                page.hbase = f"{BASE}h/{quote(parts[1])}/"
                parts = parts[2:]
            head = parts[0] if parts else ""
            handler = self.routes.get((method, head))
            if handler is None:
                page.render("message.html", 404, message=page.t("not_found"))
                return
            if method == "POST":
                if request.content is not None:
                    request.content.seek(0)
                raw = request.content.read(MAX_FORM + 1) if request.content else b""
                if len(raw) > MAX_FORM:
                    page.render("message.html", 413, message=page.t("form_expired"))
                    return
                # the body itself: the HTTP port may hand it over without parsing it into args
                try:
                    page.form = {k: v[0] for k, v in parse_qs(
                        raw.decode("utf-8", "replace"), max_num_fields=32).items() if v}
                except ValueError:  # too many fields
                    page.render("message.html", 400, message=page.t("form_expired"))
                    return
                if not page.csrf_ok():
                    page.render("message.html", 403, message=page.t("form_expired"))
                    return
            await handler(page, parts[1:])
        except BookingError as exc:  # a hospital or department not (or no longer) offered
            if exc.code not in ("unknown_hospital", "unknown_department"):
                raise
            page.render("message.html", 404, message=page.t("not_found"))
        except Exception:
            log.failure("web.book.unhandled")
            if not request.finished and not request._disconnected:  # type: ignore[attr-defined]
                request.setResponseCode(500)
                request.setHeader(b"content-type", b"text/plain; charset=utf-8")
                request.write(self.texts.t("error.internal", "zh").encode()
                              + b"\n" + self.texts.t("error.internal", "en").encode())
                request.finish()

    # -- the steps -----------------------------------------------------------------------
    async def departments(self, page: Page, rest: list[str]) -> None:
        if rest and rest != [""]:
            page.render("message.html", 404, message=page.t("not_found"))
            return
        phone = await self._phone(page)
        if not page.hospital:
            hospitals = await self.booking.hospitals()
            if len(hospitals) > 1:  # a city line: the hospital first, recent ones on top
                recent = await self.booking.recent_hospitals(phone) if phone else []
                rank = {h: n for n, h in enumerate(recent)}
                hospitals.sort(key=lambda h: rank.get(h.id, len(rank)))
                page.render("hospitals.html", hospitals=hospitals, phone=phone,
                            recent=set(recent))
                return
        depts = await self.booking.departments(page.hospital)
        page.render("departments.html", depts=depts, phone=phone)

    async def dept(self, page: Page, rest: list[str]) -> None:
        dept_id = rest[0] if rest else ""
        depts = {d.id: d for d in await self.booking.departments(page.hospital)}
        dept = depts.get(dept_id) if _DEPT.fullmatch(dept_id) else None
        if dept is None:
            page.render("message.html", 404, message=page.t("not_found"))
            return
        if len(rest) == 1 or rest[1] == "":
            days = await self.booking.open_days(dept.id, page.hospital)
            page.render("days.html", dept=dept, days=days, phone=await self._phone(page))
            return
        day = _day(rest[1])
        if day is None:
            page.render("message.html", 404, message=page.t("not_found"))
            return
        sessions = await self.booking.sessions(dept.id, day, page.hospital)
        page.render("sessions.html", dept=dept, the_day=day, sessions=sessions,
                    phone=await self._phone(page))

    async def _choice(self, page: Page, source: Callable[[str], str]) -> tuple[Any, Any, Any]:
        """The department, day and session a confirm form names, if they are still offered."""
        depts = {d.id: d for d in await self.booking.departments(page.hospital)}
        dept, day = depts.get(source("dept")), _day(source("day"))
        if dept is None or day is None:
            return None, None, None
        found = await self.booking.sessions(dept.id, day, page.hospital)
        sessions = {s.session: s for s in found}
        return dept, day, sessions.get(source("session"))

    async def confirm_form(self, page: Page, rest: list[str]) -> None:
        phone = await self._phone(page)
        if phone is None:
            here = page.request.uri.decode("utf-8", "replace")
            page.redirect(f"{BASE}login?{urlencode({'next': here})}")
            return
        dept, day, session = await self._choice(page, page.arg)
        if session is None:
            page.render("message.html", 404, message=page.t("not_found"))
            return
        await self._confirm_page(page, phone, dept, day, session)

    async def _confirm_page(self, page: Page, phone: str, dept: Any, day: dt.date,
                            session: Any, error: str = "", status: int = 200) -> None:
        ids = await self.booking.registered_ids(phone)
        page.render("confirm.html", status, dept=dept, the_day=day, session=session, ids=ids,
                    phone=phone, error=error, request_id=secrets.token_urlsafe(16))

    async def confirm(self, page: Page, rest: list[str]) -> None:
        phone = await self._phone(page)
        if phone is None:
            page.render("message.html", 403, message=page.t("session_over"), login=True)
            return
        dept, day, session = await self._choice(page, page.field)
        if session is None:
            page.render("message.html", 404, message=page.t("not_found"))
            return
        picked = page.field("id_pick")
        registered = await self.booking.registered_ids(phone)
        if picked and picked != "other" and picked.isdigit() and int(picked) < len(registered):
            id_number = registered[int(picked)]
        else:
            id_number = page.field("id_number").upper().replace(" ", "")
        if not self.valid_id(id_number):
            await self._confirm_page(page, phone, dept, day, session,
                                     page.t("invalid_id_input"), 400)
            return
        request_id = page.field("request_id")
        if not re.fullmatch(r"[A-Za-z0-9_-]{16,32}", request_id):
            request_id = secrets.token_urlsafe(16)
        try:
            booking = await self.booking.book(BookingRequest(
                dept_id=dept.id, day=day, session=session.session, id_number=id_number,
                msisdn=phone, channel="web", request_key=f"web:{request_id}", lang=page.lang,
                hospital_id=page.hospital))
        except BookingError as exc:
            self.count(exc.code, "web")
            await self._confirm_page(page, phone, dept, day, session,
                                     self.texts.error(exc.code, exc.message, page.lang), 409)
            return
        self.count("held" if booking.status.value == "held" else "taken", "web")
        page.render("booked.html", booking=booking, phone=phone)

    async def login_form(self, page: Page, rest: list[str]) -> None:
        page.render("login.html", next=_next_ok(page.arg("next")), step="phone", error="",
                    number="")

    @staticmethod
    def _typed_phone(page: Page, after: str, number: str) -> str | None:
        """The typed number as E.164 digits, or None with the phone step shown again (400)."""
        try:
            return normalise_msisdn(number)
        except NotAPhoneNumber:
            page.render("login.html", 400, next=after, step="phone", error=page.t("bad_phone"),
                        number=number)
            return None

    async def login(self, page: Page, rest: list[str]) -> None:
        after, number = _next_ok(page.field("next")), page.field("phone")
        msisdn = self._typed_phone(page, after, number)
        if msisdn is None:
            return
        try:
            await self.phones.send_code(msisdn, self._client(page.request), page.lang)
        except RateLimited as exc:
            page.request.setHeader(b"retry-after", b"%d" % exc.retry_after_s)
            page.render("login.html", 429, next=after, step="phone", number=number,
                        error=page.t("otp_limited", minutes=-(-exc.retry_after_s // 60)))
            return
        log.info("web.otp_sent phone={phone}", phone=mask_tail(msisdn))
        page.render("login.html", next=after, step="code", error="", number=number,
                    last4=msisdn[-4:], minutes=max(1, self.phones.limits.ttl_s // 60))

    async def verify(self, page: Page, rest: list[str]) -> None:
        after, number = _next_ok(page.field("next")), page.field("phone")
        msisdn = self._typed_phone(page, after, number)
        if msisdn is None:
            return
        try:
            await self.phones.check_code(msisdn, page.field("code"))
        except CodeRefused as exc:
            error = self.texts.error(exc.code, exc.message, page.lang)
            if exc.tries_left:
                error += " " + page.t("tries_left", n=exc.tries_left)
            page.render("login.html", 400, next=after, number=number, error=error,
                        step="code" if exc.tries_left else "phone", last4=msisdn[-4:],
                        minutes=max(1, self.phones.limits.ttl_s // 60))
            return
        await self.phones.close_session(page.cookie(SESSION_COOKIE))
        token = await self.phones.open_session(msisdn)
        page.set_cookie(SESSION_COOKIE, token, self.options.session_s)
        log.info("web.signed_in phone={phone}", phone=mask_tail(msisdn))
        page.redirect(after)

    async def logout(self, page: Page, rest: list[str]) -> None:
        await self.phones.close_session(page.cookie(SESSION_COOKIE))
        page.set_cookie(SESSION_COOKIE, "", 0)
        page.redirect(BASE)

    async def mine(self, page: Page, rest: list[str], notice: str = "", error: str = "",
                   status: int = 200) -> None:
        phone = await self._phone(page)
        if phone is None:
            page.redirect(f"{BASE}login?next={quote(BASE + 'mine')}")
            return
        bookings: list[Booking] = await self.booking.bookings_for(phone)
        page.render("mine.html", status, bookings=bookings, phone=phone, notice=notice,
                    error=error)

    async def cancel(self, page: Page, rest: list[str]) -> None:
        phone = await self._phone(page)
        if phone is None:
            page.render("message.html", 403, message=page.t("session_over"), login=True)
            return
        tcode = page.field("tcode")
        try:
            await self.booking.cancel(tcode, phone)
        except BookingError as exc:
            await self.mine(page, [], error=self.texts.error(exc.code, exc.message, page.lang),
                            status=409)
            return
        self.count("cancelled", "web")
        await self.mine(page, [], notice=page.t("cancelled", tcode=tcode))

    # -- helpers -------------------------------------------------------------------------
    async def _phone(self, page: Page) -> str | None:
        return await self.phones.session_phone(page.cookie(SESSION_COOKIE) or None)

    def _client(self, request: Request) -> str:
        peer = request.getClientAddress()
        forwarded = request.requestHeaders.getRawHeaders(b"x-forwarded-for") or []
        return client_address(str(getattr(peer, "host", peer)), forwarded,
                              self.options.trusted_proxies)


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        return None
