"""The console's pages under ``/console/``: one leaf resource that routes by path.

Each request goes through the same gate, in this order: the session (else the login page, or
403 for a POST), the hospital in the path (``/console/h/<hospital id>/…``: another hospital's
page is 403 for a hospital's user; platform staff see every hospital), the role the page needs
(viewer reads, clerk acts on bookings, admin edits the schedule and users), and for a POST the
CSRF token. Only then does a page handler run; it reaches booking through its hospital's
``HospitalBooking`` alone. A change is written to the audit log before the redirect that shows
its result (POST, then 303 to a page: a reload does not repeat it).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from booking.api import BookingError
from pii import mask_tail
from sms.api import OutgoingSms
from web.clientaddr import Network, client_address, via_tls
from web.console import dashboard as dash
from web.console.accounts import PLATFORM, ROLES, AccountError, Accounts, User
from web.console.adapter import LIVE, HospitalBooking, Platform
from web.console.audit import Audit
from web.console.guard import SESSION_COOKIE, Session, Sessions, same

log = Logger()
LOGIN_COOKIE = b"hl_login"  # the login form's CSRF token (before there is a session)
LANG_COOKIE = b"hl_lang"
LANGS = ("zh", "en")
STATIC = {"console.css": b"text/css; charset=utf-8",
          "dashboard.js": b"text/javascript; charset=utf-8",
          "keypad.js": b"text/javascript; charset=utf-8"}
HEADERS = {
    b"content-security-policy": b"default-src 'self'; img-src 'self' data:; "
                                b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    b"x-frame-options": b"DENY",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"same-origin",
    b"cache-control": b"no-store",
}
STALE = ("表单已过期，请刷新页面后重试", "The form is stale: reload and retry")
BAD_SHARE = ("远程比例应为 0 到 100 的数", "share must be a number 0..100")
MAX_PLACES = 10000
NEXT = re.compile(r"^/console/[A-Za-z0-9/_.\-]*(\?[A-Za-z0-9_.\-=&%]*)?$")
# the pages and actions under /console/h/<hospital>/: name -> (handler, the least role)
GET_PAGES = {
    "schedule": ("schedule", "viewer"),
    "cell": ("cell", "viewer"),
    "suspend": ("suspend_form", "admin"),
    "bookings": ("bookings", "viewer"),
    "blacklist": ("blacklist", "viewer"),
    "audit": ("audit_page", "admin"),
    "users": ("users", "admin"),
    "dashboard": ("dashboard", "viewer"),
    "dashboard.json": ("dashboard_json", "viewer"),
    "simulator": ("simulator", "viewer"),
}
POST_ACTIONS = {
    "cell": ("cell_save", "admin"),
    "copy": ("copy_week", "admin"),
    "share": ("share_save", "admin"),
    "suspend": ("suspend", "admin"),
    "cancel": ("cancel", "clerk"),
    "lift": ("lift", "clerk"),
    "appeal": ("appeal_decide", "clerk"),
    "users/add": ("user_add", "admin"),
    "users/change": ("user_change", "admin"),
    "users/remove": ("user_remove", "admin"),
    "simulator": ("simulator_post", "viewer"),
}  # the catalog's bound for a session's places (booking.catalog)


class Refused(Exception):
    """Answer with ``status`` and a message page (zh, en)."""

    def __init__(self, status: int, zh: str, en: str) -> None:
        super().__init__(en)
        self.status, self.zh, self.en = status, zh, en


class Redirect(Exception):
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


@dataclass
class Ctx:
    """One request as a page handler sees it."""

    request: Request
    lang: str
    session: Session | None = None
    hospital: HospitalBooking | None = None
    form: dict[str, str] = field(default_factory=dict)

    @property
    def user(self) -> User:
        assert self.session is not None
        return self.session.user

    @property
    def hb(self) -> HospitalBooking:
        assert self.hospital is not None
        return self.hospital

    def arg(self, name: str) -> str:
        raw = (self.request.args or {}).get(name.encode()) or [b""]
        return raw[0].decode("utf-8", "replace").strip()

    def field(self, name: str) -> str:
        """A field of the POSTed form, stripped."""
        return self.form.get(name, "").strip()

    def t(self, zh: str, en: str) -> str:
        return zh if self.lang == "zh" else en

    def base(self) -> str:
        return f"/console/h/{self.hb.info.id}"


Handler = Callable[[Ctx], Awaitable[Any]]
DASHBOARD_MINUTES = 30  # the calls and dialogues chart: the last half hour
REASON_SMS = 30  # a decision's reason in the patient's SMS: 2 parts at most (test_sms_parts)


@dataclass(frozen=True, slots=True)
class Live:
    """What the dashboard and the appeal answers need beyond booking (all optional: without
    them those figures are left out, and decisions are not texted)."""

    rate: Any = None  # metrics.live.DialogueRate: ``per_minute(minutes)``
    sms_figures: Callable[[], Awaitable[dict[str, Any]]] | None = None
    sender: Any = None  # the SMS outbox's sender: ``send(OutgoingSms)``
    renderer: Any = None  # notify.templates.Renderer: ``text(kind, lang, hospital, **fields)``


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    role: str  # the least role that may use it


class Console(Resource):
    isLeaf = True

    def __init__(self, platform: Platform, accounts: Accounts, sessions: Sessions, audit: Audit,
                 trusted: Sequence[Network] = (), live: Live | None = None) -> None:
        super().__init__()
        self.platform, self.accounts, self.sessions, self.audit = (
            platform, accounts, sessions, audit)
        self.live = live or Live()
        self.trusted = tuple(trusted)
        self.menu_pages: Any = None  # web.console.menu_pages, when the server has a menu desk
        self.env = Environment(loader=PackageLoader("web.console", "templates"),
                               autoescape=select_autoescape(default=True), trim_blocks=True,
                               lstrip_blocks=True)
        self.env.filters["mask"] = mask_tail
        self.get = {name: Route(getattr(self, attr), role)
                    for name, (attr, role) in GET_PAGES.items()}
        self.post = {name: Route(getattr(self, attr), role)
                     for name, (attr, role) in POST_ACTIONS.items()}

    # ---------------------------------------------------------------- plumbing

    def render(self, request: Request) -> object:
        for name, value in HEADERS.items():
            request.setHeader(name, value)
        Deferred.fromCoroutine(self._serve(request))
        return NOT_DONE_YET

    def _lang(self, request: Request) -> str:
        asked = (request.args or {}).get(b"lang", [b""])[0].decode("ascii", "replace")
        if asked in LANGS:
            request.addCookie(LANG_COOKIE, asked.encode(), path=b"/console", sameSite="strict",
                              httpOnly=True, secure=self._tls(request) or None)
            return asked
        stored = (request.getCookie(LANG_COOKIE) or b"").decode("ascii", "replace")
        return stored if stored in LANGS else "zh"

    def _tls(self, request: Request) -> bool:
        peer = request.getClientAddress()
        return via_tls(request.isSecure(), str(getattr(peer, "host", peer)),
                       request.getHeader(b"x-forwarded-proto"), self.trusted)

    def _address(self, request: Request) -> str:
        peer = request.getClientAddress()
        forwarded = request.requestHeaders.getRawHeaders(b"x-forwarded-for") or []
        return client_address(str(getattr(peer, "host", peer)), forwarded, self.trusted)

    async def _serve(self, request: Request) -> None:
        ctx = Ctx(request, self._lang(request))
        try:
            if request.method == b"POST":
                ctx.form = _form(request)
            body = await self._route(ctx)
            self._finish(request, 200, body)
        except Redirect as exc:
            if request._disconnected:  # type: ignore[attr-defined]
                return
            request.setResponseCode(303)
            request.setHeader(b"location", exc.location.encode())
            request.finish()
        except _Answer as exc:
            self._finish(request, exc.status, exc.body)
        except Refused as exc:
            self._finish(request, exc.status, self.page(ctx, "message.html", status=exc.status,
                                                        message=ctx.t(exc.zh, exc.en)))
        except Exception:
            log.failure("console.unhandled")
            self._finish(request, 500, self.page(ctx, "message.html", status=500,
                                                 message=ctx.t("内部错误", "Internal error")))

    def _finish(self, request: Request, status: int, body: str | tuple[str, bytes]) -> None:
        if request._disconnected:  # type: ignore[attr-defined]
            return
        content_type = b"text/html; charset=utf-8"
        if isinstance(body, tuple):
            content_type, raw = body[1], body[0].encode("utf-8")
        else:
            raw = body.encode("utf-8")
        request.setResponseCode(status)
        request.setHeader(b"content-type", content_type)
        request.write(raw)
        request.finish()

    def page(self, ctx: Ctx, template: str, **values: Any) -> str:
        query = [(k.decode("utf-8", "replace"), v.decode("utf-8", "replace"))
                 for k, vs in (ctx.request.args or {}).items() if k not in (b"lang", b"msg")
                 for v in vs[:1]]
        other = "en" if ctx.lang == "zh" else "zh"
        return self.env.get_template(template).render(
            lang_url="?" + urllib.parse.urlencode([*query, ("lang", other)]),
            t=ctx.t, lang=ctx.lang, user=ctx.session.user if ctx.session else None,
            csrf=ctx.session.csrf if ctx.session else "", hospital=ctx.hospital,
            path=ctx.request.path.decode("utf-8", "replace"), roles=ROLES, **values)

    async def _route(self, ctx: Ctx) -> Any:
        request = ctx.request
        parts = [p.decode("utf-8", "replace") for p in request.postpath]
        while parts and parts[-1] == "":
            parts.pop()
        method = request.method
        if parts[:1] == ["static"] and len(parts) == 2 and parts[1] in STATIC:
            text = resources.files("web.console").joinpath("static", parts[1]).read_text("utf-8")
            return (text, STATIC[parts[1]])
        if parts == ["login"]:
            return await (self.login(ctx) if method == b"POST" else self.login_form(ctx))
        ctx.session = await self._session(request)
        if parts == ["logout"] and method == b"POST":
            if ctx.session is not None:
                self._check_csrf(ctx)
                await self.sessions.close(ctx.session.token)
            raise Redirect("/console/login")
        if ctx.session is None:
            if method == b"POST":
                raise Refused(403, "请先登录", "Log in first")
            target = urllib.parse.quote(request.uri.decode("utf-8", "replace"), safe="")
            raise Redirect(f"/console/login?next={target}")
        if not parts:
            user = ctx.session.user
            if not user.platform:
                raise Redirect(f"/console/h/{user.hospital}/schedule")
            hospitals = await self.platform.hospitals()
            return self.page(ctx, "hospitals.html", hospitals=hospitals)
        if parts[0] == "menus" and self.menu_pages is not None:
            return await self.menu_pages.route(ctx, parts[1:])
        if parts[0] != "h" or len(parts) < 2:
            raise Refused(404, "没有这个页面", "No such page")
        if not ctx.session.user.sees(parts[1]):
            log.info("console.refused user={user} page={page}", user=ctx.session.user.name,
                     page=parts[2] if len(parts) > 2 else "")
            raise Refused(403, "您无权查看其他医院的数据", "This is another hospital's page")
        try:
            ctx.hospital = await self.platform.for_hospital(parts[1])
        except BookingError as exc:
            raise Refused(404, "没有这家医院", "No such hospital") from exc
        name = "/".join(parts[2:]) or "schedule"
        routes = self.post if method == b"POST" else self.get
        route = routes.get(name)
        if route is None:
            raise Refused(404 if name not in self.get and name not in self.post else 405,
                          "没有这个页面", "No such page")
        if not ctx.session.user.may(route.role):
            raise Refused(403, "您的角色不能做这个操作", "Your role may not do this")
        if method == b"POST":
            self._check_csrf(ctx)
        return await route.handler(ctx)

    async def _session(self, request: Request) -> Session | None:
        token = (request.getCookie(SESSION_COOKIE) or b"").decode("ascii", "replace")
        return await self.sessions.find(token) if token else None

    def _check_csrf(self, ctx: Ctx) -> None:
        assert ctx.session is not None
        if not same(ctx.field("csrf"), ctx.session.csrf):
            raise Refused(403, *STALE)

    # ---------------------------------------------------------------- login

    async def login_form(self, ctx: Ctx, error: str = "", status: int = 200) -> Any:
        token = secrets.token_urlsafe(24)
        ctx.request.addCookie(LOGIN_COOKIE, token.encode(), path=b"/console/login", httpOnly=True,
                              sameSite="strict", secure=self._tls(ctx.request) or None)
        ctx.request.setResponseCode(status)
        body = self.page(ctx, "login.html", login_csrf=token, error=error, next=ctx.arg("next"))
        if status != 200:
            raise _Answer(status, body)
        return body

    async def login(self, ctx: Ctx) -> Any:
        request = ctx.request
        given = ctx.field("csrf")
        cookie = (request.getCookie(LOGIN_COOKIE) or b"").decode("ascii", "replace")
        if not (given and same(given, cookie)):
            raise Refused(403, *STALE)
        name, password = ctx.field("username"), ctx.form.get("password", "")
        found = await self.sessions.login(name, password, self._address(request))
        if found is False:
            return await self.login_form(ctx, ctx.t("尝试次数过多，请稍后再试",
                                                    "Too many attempts: try again later"), 429)
        if found is None or not isinstance(found, User):
            return await self.login_form(ctx, ctx.t("用户名或密码不对",
                                                    "Wrong user name or password"), 401)
        session = await self.sessions.open(found)
        request.addCookie(SESSION_COOKIE, session.token.encode(), path=b"/console", httpOnly=True,
                          sameSite="strict", secure=self._tls(request) or None)
        log.info("console.login user={user}", user=found.name)
        target = ctx.field("next")
        if not NEXT.match(target):  # a page of ours only: no other site, no header injection
            target = "/console/"
        raise Redirect(target)

    # ---------------------------------------------------------------- schedule

    async def schedule(self, ctx: Ctx) -> str:
        hb = ctx.hb
        try:
            start = dt.date.fromisoformat(ctx.arg("from")) if ctx.arg("from") else None
        except ValueError as exc:
            raise Refused(400, "日期格式应为 YYYY-MM-DD", "from must be YYYY-MM-DD") from exc
        days = hb.days(start)
        all_days = hb.days(hb.today(), (hb.last_day() - hb.today()).days + 1)
        earlier = [d for d in all_days if d < days[0]][-7:]
        later = [d for d in all_days if d > days[-1]]
        depts = await hb.departments()
        cells: dict[tuple[str, str, str], dict[str, Any]] = {}
        sessions: list[str] = []
        for day in days:
            for row in await hb.fill(day):
                cells[(row["dept"], row["day"], row["session"])] = row
                if row["session"] not in sessions:
                    sessions.append(row["session"])
        shares = {d.id: hb.share(d.id) for d in depts}
        return self.page(ctx, "schedule.html", days=days, depts=depts, cells=cells,
                         sessions=sessions, shares=shares, msg=ctx.arg("msg"),
                         earlier=earlier[0] if earlier else None,
                         later=later[0] if later else None,
                         window_end=hb.today() + dt.timedelta(days=hb.days_ahead))

    def _cell_args(
        self, ctx: Ctx, source: dict[str, str] | None = None
    ) -> tuple[str, dt.date, str]:
        get = (lambda k: source.get(k, "").strip()) if source is not None else ctx.arg
        dept, session = get("dept"), get("session")
        try:
            day = dt.date.fromisoformat(get("day"))
        except ValueError as exc:
            raise Refused(400, "日期格式应为 YYYY-MM-DD", "day must be YYYY-MM-DD") from exc
        return dept, day, session

    async def _cell_state(self, ctx: Ctx, dept: str, day: dt.date, session: str) -> dict[str, Any]:
        hb = ctx.hb
        row = next((r for r in await hb.fill(day)
                    if r["dept"] == dept and r["session"] == session), None)
        if row is None:
            raise Refused(404, "没有这个出诊时段", "No such session")
        names = {d.id: d.name for d in await hb.departments()}
        bookings = await hb.session_bookings(dept, day, session)
        taken = sum(1 for b in bookings if b.get("status") in ("held", "confirmed", "checked_in",
                                                                "no_show"))
        live = [b for b in bookings if b.get("status") in LIVE]
        return {"row": row, "dept_name": names.get(dept, {}), "taken": taken, "live": live,
                "dept": dept, "day": day, "session": session}

    async def cell(self, ctx: Ctx, error: str = "") -> str:
        dept, day, session = self._cell_args(ctx)
        state = await self._cell_state(ctx, dept, day, session)
        return self.page(ctx, "cell.html", error=error, msg=ctx.arg("msg"), **state)

    def _places(self, ctx: Ctx, text: str) -> int:
        if not text.isdigit() or int(text) > MAX_PLACES:
            raise Refused(400, f"名额应为 0 到 {MAX_PLACES} 的整数",
                          f"places must be a whole number 0..{MAX_PLACES}")
        return int(text)

    async def cell_save(self, ctx: Ctx) -> str:
        dept, day, session = self._cell_args(ctx, ctx.form)
        places = self._places(ctx, ctx.field("places"))
        text = ctx.field("reserve")  # empty: the reserve is left as it is
        reserve = None if text == "" else self._places(ctx, text)
        if reserve is not None and reserve > places:
            raise Refused(400, "预留名额不能多于总名额", "the reserve cannot exceed the places")
        week = ctx.field("week") == "yes"
        changed = skipped = 0
        for d in ctx.hb.days(day, 7) if week else [day]:
            state = await self._cell_state(ctx, dept, d, session)
            if state["row"]["closed"] or places < state["taken"]:
                if not week:
                    raise _Answer(409, self.page(ctx, "cell.html", msg="", error=self._cut_refused(
                        ctx, state["taken"], places), **state))
                skipped += 1  # a day with more taken: left alone, the explicit step is per day
                continue
            try:
                done = await self._set_cell(ctx, dept, d, session, state["row"], places, reserve)
            except BookingError as exc:  # the reserve would not leave room for the taken places
                if not week:
                    state = await self._cell_state(ctx, dept, d, session)
                    raise _Answer(409, self.page(ctx, "cell.html", msg="", error=ctx.t(
                        "预留名额未改：已预约的号放不下（不会为改预留取消预约）。", exc.message
                    ), **state)) from exc
                skipped += 1
                continue
            changed += done
        msg = f"week:{changed}:{skipped}" if week else "saved"
        raise Redirect(self._cell_url(ctx, dept, day, session, msg))

    async def _set_cell(self, ctx: Ctx, dept: str, day: dt.date, session: str,
                        row: dict[str, Any], places: int, reserve: int | None) -> bool:
        """Places and reserve of one session, in the order that keeps the reserve within the
        places at every step; each change audited. True when anything changed."""
        first_reserve = reserve is not None and reserve < row["reserve"]
        done = first_reserve and await self._set_reserve(ctx, dept, day, session, row, reserve)
        done = await self._set_places(ctx, dept, day, session, row["places"], places) or done
        if reserve is not None and not first_reserve:
            done = await self._set_reserve(ctx, dept, day, session, row, reserve) or done
        return bool(done)

    async def _set_reserve(self, ctx: Ctx, dept: str, day: dt.date, session: str,
                           row: dict[str, Any], reserve: int | None) -> bool:
        """Set a session's reserve (booking refuses one the taken places would not fit) and
        audit it; False when it was already that."""
        if reserve is None or reserve == row["reserve"]:
            return False
        await ctx.hb.set_reserve(dept, day, session, reserve)
        await self.audit.write(ctx.hb.info.id, ctx.user.name, "reserve",
                               f"{dept} {day.isoformat()} {session}", row["reserve"], reserve)
        return True

    def _cut_refused(self, ctx: Ctx, taken: int, places: int) -> str:
        return ctx.t(
            f"已有 {taken} 个号被预约，不能直接减到 {places}。请用“停诊/减号”并取消多出的预约。",
            f"{taken} places are booked: cutting to {places} needs the 'suspend or cut' step, "
            "which cancels the bookings that no longer fit.")

    async def _set_places(self, ctx: Ctx, dept: str, day: dt.date, session: str, before: int,
                          places: int, reason: str = "") -> bool:
        """Set a session's places (never below its taken places: the caller checked) and audit
        it; False when they were already that."""
        if before == places:
            return False
        await ctx.hb.change_session(dept, day, session, places)
        await self.audit.write(ctx.hb.info.id, ctx.user.name, "places",
                               f"{dept} {day.isoformat()} {session}", before, places, reason)
        return True

    async def copy_week(self, ctx: Ctx) -> str:
        """The places of the seven days shown, to the same weekdays of the week after; a target
        session that is suspended or has more places taken is left alone (and counted)."""
        try:
            start = dt.date.fromisoformat(ctx.field("from"))
        except ValueError as exc:
            raise Refused(400, "日期格式应为 YYYY-MM-DD", "from must be YYYY-MM-DD") from exc
        hb = ctx.hb
        changed = skipped = 0
        for day in hb.days(start, 7):
            target = day + dt.timedelta(days=7)
            if target > hb.last_day():
                break
            have = {(r["dept"], r["session"]): r for r in await hb.fill(target)}
            for row in await hb.fill(day):
                dest = have.get((row["dept"], row["session"]))
                if row["closed"] or dest is None or dest["places"] == row["places"]:
                    continue
                taken = await hb.taken(row["dept"], target, row["session"])
                if dest["closed"] or row["places"] < taken:
                    skipped += 1
                    continue
                await self._set_places(ctx, row["dept"], target, row["session"], dest["places"],
                                       row["places"], f"copy of {day.isoformat()}")
                changed += 1
        after = (hb.days(start, 7) or [start])[0] + dt.timedelta(days=7)
        raise Redirect(f"{ctx.base()}/schedule?from={after.isoformat()}&msg=copied:{changed}:"
                       f"{skipped}")

    def _cell_url(self, ctx: Ctx, dept: str, day: dt.date, session: str, msg: str) -> str:
        q = urllib.parse.urlencode({"dept": dept, "day": day.isoformat(), "session": session,
                                    "msg": msg})
        return f"{ctx.base()}/cell?{q}"

    async def share_save(self, ctx: Ctx) -> str:
        dept = ctx.field("dept")
        text = ctx.field("share")
        try:
            percent = float(text)
        except ValueError as exc:
            raise Refused(400, *BAD_SHARE) from exc
        if not 0 <= percent <= 100:
            raise Refused(400, *BAD_SHARE)
        if dept not in {d.id for d in await ctx.hb.departments()}:
            raise Refused(404, "没有这个科室", "No such department")
        before = ctx.hb.share(dept)
        try:
            await ctx.hb.set_share(dept, round(percent / 100, 4))
        except BookingError as exc:
            raise Refused(400, "远程比例加预留比例不能超过 100%：" + exc.message,
                          exc.message) from exc
        await self.audit.write(ctx.hb.info.id, ctx.user.name, "share", dept, before,
                               round(percent / 100, 4))
        raise Redirect(f"{ctx.base()}/schedule?msg=share")

    async def suspend_form(self, ctx: Ctx) -> str:
        dept, day, session = self._cell_args(ctx)
        state = await self._cell_state(ctx, dept, day, session)
        return self.page(ctx, "suspend.html", error="", **state)

    async def suspend(self, ctx: Ctx) -> str:
        dept, day, session = self._cell_args(ctx, ctx.form)
        state = await self._cell_state(ctx, dept, day, session)
        reason = ctx.field("reason")
        places_text = ctx.field("places")
        error = ""
        if not reason:
            error = ctx.t("请填写原因", "A reason is required")
        elif ctx.field("confirm") != "yes":
            error = ctx.t("请勾选确认", "Tick the confirmation box")
        places = None if places_text == "" else self._places(ctx, places_text)
        if error:
            raise _Answer(400, self.page(ctx, "suspend.html", error=error, **state))
        cancelled = await ctx.hb.change_session(dept, day, session, places)
        await self.audit.write(
            ctx.hb.info.id, ctx.user.name, "suspend" if places is None else "cut",
            f"{dept} {day.isoformat()} {session}",
            {"places": state["row"]["places"], "live": len(state["live"])},
            {"places": 0 if places is None else places, "cancelled": cancelled}, reason)
        log.info("console.suspend user={user} cancelled={n}", user=ctx.user.name,
                 n=len(cancelled))
        raise Redirect(self._cell_url(ctx, dept, day, session, f"cancelled:{len(cancelled)}"))

    # ---------------------------------------------------------------- people

    async def bookings(self, ctx: Ctx) -> str:
        query = ctx.arg("q")
        rows: list[dict[str, str]] = []
        error = ""
        if query:
            try:
                rows = await ctx.hb.find(query)
            except BookingError:
                error = ctx.t("请输入取号码，或手机号/身份证号的后 4 位以上",
                              "Give a T-code, or at least the last 4 digits of a phone or ID")
        names = {d.id: d.name for d in await ctx.hb.departments()}
        return self.page(ctx, "bookings.html", query=query, rows=rows, error=error,
                         names=names, live=LIVE, msg=ctx.arg("msg"))

    async def cancel(self, ctx: Ctx) -> str:
        tcode, reason = ctx.field("tcode"), ctx.field("reason")
        if not reason:
            raise Refused(400, "请填写取消原因", "A reason is required")
        row = await ctx.hb.booking_row(tcode)
        if row is None:
            raise Refused(404, "本院没有这个预约", "No such booking at this hospital")
        try:
            status = await ctx.hb.cancel(tcode)
        except BookingError as exc:
            raise Refused(409, "无法取消：" + exc.message, "Cannot cancel: " + exc.message) from exc
        await self.audit.write(ctx.hb.info.id, ctx.user.name, "cancel", tcode, row["status"],
                               status, reason)
        q = urllib.parse.urlencode({"q": tcode, "msg": "cancelled"})
        raise Redirect(f"{ctx.base()}/bookings?{q}")

    async def blacklist(self, ctx: Ctx) -> str:
        rows = await ctx.hb.blacklist()
        appeals = await ctx.hb.appeals(unowned=ctx.user.platform)
        return self.page(ctx, "blacklist.html", rows=rows, appeals=appeals,
                         when=self._when(ctx), msg=ctx.arg("msg"))

    async def lift(self, ctx: Ctx) -> str:
        digest, reason = ctx.field("digest"), ctx.field("reason")
        if not reason:
            raise Refused(400, "请填写解除原因", "A reason is required")
        try:
            done = await ctx.hb.lift(digest, reason)
        except BookingError as exc:
            raise Refused(404, "本院没有这条记录", "No such bar at this hospital") from exc
        await self.audit.write(ctx.hb.info.id, ctx.user.name, "lift", digest[:8], "barred",
                               "lifted" if done else "not barred", reason)
        raise Redirect(f"{ctx.base()}/blacklist?msg=lifted")

    # ---------------------------------------------------------------- appeals

    async def appeal_decide(self, ctx: Ctx) -> str:
        """Lift the bar or refuse the appeal, with a reason: audited, and texted back through
        the outbox with the barring hospital's signature."""
        digest, reason, decision = ctx.field("digest"), ctx.field("reason"), ctx.field("decision")
        if decision not in ("lift", "refuse"):
            raise Refused(400, "请选择解除或驳回", "Choose lift or refuse")
        if not reason:
            raise Refused(400, "请填写理由", "A reason is required")
        lift = decision == "lift"
        done = await ctx.hb.decide_appeal(digest, lift, reason, unowned=ctx.user.platform)
        if done is None:
            raise Refused(404, "本院没有这条申诉", "No such appeal at this hospital")
        await self.audit.write(ctx.hb.info.id, ctx.user.name, "appeal", digest[:8],
                               done.get("appeal", ""), "lifted" if lift else "refused", reason)
        await self._answer_appeal(ctx, done, lift, reason)
        log.info("console.appeal user={user} decision={d}", user=ctx.user.name, d=decision)
        raise Redirect(f"{ctx.base()}/blacklist?msg=" + ("appeal_lifted" if lift
                                                          else "appeal_refused"))

    async def _answer_appeal(self, ctx: Ctx, appeal: dict[str, Any], lift: bool,
                             reason: str) -> None:
        sender, renderer = self.live.sender, self.live.renderer
        msisdn = appeal.get("appeal_msisdn", "")
        kind = "appeal_lifted" if lift else "appeal_refused"
        if sender is None or renderer is None or not msisdn or not renderer.has(kind):
            return
        lang = appeal.get("appeal_lang") or "zh"
        hospital = str(appeal.get("hospital") or "")
        until = self._when(ctx)(appeal.get("until"))[:10]
        text = renderer.text(kind, lang, hospital, reason=reason[:REASON_SMS], until=until)
        key = f"appeal:{appeal['id_digest'][:16]}:{appeal.get('appeal_at', '')}"
        await Deferred.fromCoroutine(_send(sender, OutgoingSms(msisdn, text, key, "appeal")))

    # ---------------------------------------------------------------- dashboard

    async def _dashboard_state(self, ctx: Ctx) -> dict[str, Any]:
        hb = ctx.hb
        today = hb.today()
        days = []
        for day in (today, today + dt.timedelta(days=1)):
            rows = dash.sessions(await hb.fill(day), await hb.day_bookings(day))
            days.append({"day": day.isoformat(), "sessions": rows, "totals": dash.totals(rows)})
        rate = self.live.rate
        traffic = await rate.per_minute(DASHBOARD_MINUTES) if rate is not None else {}
        figures = self.live.sms_figures
        sms = await figures() if figures is not None else None
        return {"hospital": hb.info.id, "at": hb.booking.now().isoformat(timespec="seconds"),
                "days": days, "traffic": traffic, "sms": sms}

    def _dashboard_live(self, ctx: Ctx, state: dict[str, Any], names: dict[str, Any]) -> str:
        return self.page(ctx, "_dashboard_live.html", state=state, names=names,
                         channels=dash.CHANNELS, bar=dash.fill_bar, spark=dash.sparkline,
                         date=dt.date.fromisoformat)

    async def dashboard(self, ctx: Ctx) -> str:
        state = await self._dashboard_state(ctx)
        names = {d.id: d.name for d in await ctx.hb.departments()}
        return self.page(ctx, "dashboard.html", live=self._dashboard_live(ctx, state, names))

    async def dashboard_json(self, ctx: Ctx) -> tuple[str, bytes]:
        """The figures, and the live part of the page drawn from them (the page's script swaps
        it in: the charts stay server-drawn)."""
        state = await self._dashboard_state(ctx)
        names = {d.id: d.name for d in await ctx.hb.departments()}
        body = {**state, "html": self._dashboard_live(ctx, state, names)}
        return (orjson.dumps(body).decode("utf-8"), b"application/json")

    # ---------------------------------------------------------------- admin

    def _when(self, ctx: Ctx) -> Callable[[Any], str]:
        tz = ctx.hb.booking.now().tzinfo

        def when(ts: Any) -> str:
            try:
                return dt.datetime.fromtimestamp(float(ts), tz).strftime("%Y-%m-%d %H:%M")
            except (TypeError, ValueError, OverflowError):
                return ""

        return when

    async def audit_page(self, ctx: Ctx) -> str:
        entries = await self.audit.read(ctx.hb.info.id)
        return self.page(ctx, "audit.html", entries=entries, when=self._when(ctx))

    async def users(self, ctx: Ctx, error: str = "") -> str:
        users = await self.accounts.of_hospital(ctx.hb.info.id)
        return self.page(ctx, "users.html", users=users, error=error, msg=ctx.arg("msg"))

    async def user_add(self, ctx: Ctx) -> str:
        name, role = ctx.field("name").lower(), ctx.field("role")
        try:
            user = await self.accounts.add(name, ctx.hb.info.id, role,
                                           ctx.form.get("password", ""))
        except AccountError as exc:
            raise _Answer(400, await self.users(ctx, str(exc))) from exc
        await self.audit.write(ctx.hb.info.id, ctx.user.name, "user_add", user.name, None,
                               user.role)
        raise Redirect(f"{ctx.base()}/users?msg=added")

    async def user_change(self, ctx: Ctx) -> str:
        target = await self._own_user(ctx, ctx.field("name"))
        role = ctx.field("role")
        try:
            user = await self.accounts.change(target.name, role, ctx.form.get("password", ""))
        except AccountError as exc:
            raise _Answer(400, await self.users(ctx, str(exc))) from exc
        after = user.role + (" +password" if ctx.form.get("password") else "")
        await self.audit.write(ctx.hb.info.id, ctx.user.name, "user_change", user.name,
                               target.role, after)
        raise Redirect(f"{ctx.base()}/users?msg=changed")

    async def simulator(self, ctx: Ctx) -> str:
        return await self._menus().simulator(ctx)

    async def simulator_post(self, ctx: Ctx) -> str:
        return await self._menus().simulator_post(ctx)

    def _menus(self) -> Any:
        if self.menu_pages is None:
            raise Refused(404, "没有这个页面", "No such page")
        return self.menu_pages

    async def _own_user(self, ctx: Ctx, name: str) -> User:
        """An account of this hospital (never a platform account), else 404."""
        target = await self.accounts.get(name) if name else None
        if target is None or target.hospital != ctx.hb.info.id or target.hospital == PLATFORM:
            raise Refused(404, "本院没有这个用户", "No such user at this hospital")
        return target

    async def user_remove(self, ctx: Ctx) -> str:
        target = await self._own_user(ctx, ctx.field("name"))
        if target.name == ctx.user.name:
            raise Refused(400, "不能删除自己", "You cannot remove yourself")
        await self.accounts.remove(target.name)
        await self.audit.write(ctx.hb.info.id, ctx.user.name, "user_remove", target.name,
                               target.role, None)
        raise Redirect(f"{ctx.base()}/users?msg=removed")


class _Answer(Exception):
    """A page with a status other than 200 (a form shown again with its error)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(status)
        self.status, self.body = status, body


MAX_FORM = 16384


async def _send(sender: Any, message: OutgoingSms) -> None:
    """Queue ``message`` in the outbox (a sender may answer at once or with a Deferred)."""
    result = sender.send(message)
    if isinstance(result, Deferred):
        await result


def _form(request: Request) -> dict[str, str]:
    """The fields of a URL-encoded POST body (first value of each); another body is no form."""
    kind = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
    if kind != b"application/x-www-form-urlencoded" or request.content is None:
        return {}
    raw = request.content.read(MAX_FORM + 1)
    if len(raw) > MAX_FORM:
        raise Refused(413, "表单太大", "The form is too large")
    try:
        fields = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True,
                                       max_num_fields=50)
    except ValueError as exc:
        raise Refused(413, "表单太大", "The form is too large") from exc
    return {k: v[0] for k, v in fields.items() if v}
