"""The handlers of the menu pages (``/console/menus``) and of the simulator
(``/console/h/<hospital>/simulator``); ``web.console.menus`` says who may do what.

Uploading a menu is a multipart form (a file input): a menu is larger than the console's
URL-encoded forms may be. It is parsed here (the server's site leaves POST bodies to their
resources), within the HTTP port's ``http.max_body_bytes``; the CSRF token comes with it as a
field of the same form.
"""

from __future__ import annotations

import datetime as dt
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from web.console.accounts import PLATFORM
from web.console.menus import KEYS, MAX_MENU_BYTES, SIM_CHANNELS, DeskError, MenuDesk, walk_key
from web.console.pages import Console, Ctx, Redirect, Refused, _Answer

PLATFORM_ONLY = ("菜单页面仅供平台运营人员使用", "The menu pages are for the platform's staff")
ADMINS_ONLY = ("只有平台管理员可以上传或启用菜单",
               "Only platform admins may upload or activate menus")
MENU_ACTIONS = ("menu_upload", "menu_activate", "menu_discard")


class MenuPages:
    def __init__(self, console: Console, desk: MenuDesk) -> None:
        self.console, self.desk = console, desk

    def _when(self, ctx: Ctx) -> Any:
        """Times as the platform's hospitals tell them (booking's clock and zone)."""
        tz = self.console.platform.booking.now().tzinfo

        def when(ts: Any) -> str:
            try:
                return dt.datetime.fromtimestamp(float(ts), tz).strftime("%Y-%m-%d %H:%M")
            except (TypeError, ValueError, OverflowError):
                return ""

        return when

    # ---------------------------------------------------------------- /console/menus

    async def route(self, ctx: Ctx, rest: list[str]) -> Any:
        user = ctx.user
        if not user.platform:
            raise Refused(403, *PLATFORM_ONLY)
        method = ctx.request.method
        if method == b"GET" and not rest:
            return await self.menus_page(ctx)
        if method != b"POST" or len(rest) != 1 or rest[0] not in ("upload", "activate",
                                                                   "discard"):
            raise Refused(404, "没有这个页面", "No such page")
        if not user.may("admin"):
            raise Refused(403, *ADMINS_ONLY)
        files: dict[str, bytes] = {}
        if rest[0] == "upload":
            ctx.form, files = _multipart(ctx.request)
        self.console._check_csrf(ctx)
        if rest[0] == "upload":
            return await self.upload(ctx, files.get("menu", b""))
        return await getattr(self, rest[0])(ctx)

    async def menus_page(self, ctx: Ctx, report: Any = None, status: int = 200) -> str:
        entries = [e for e in await self.console.audit.read(PLATFORM)
                   if e.get("action") in MENU_ACTIONS][:20]
        hospitals = await self.console.platform.hospitals()
        body = self.console.page(
            ctx, "menus.html", outlines=self.desk.outlines(), checks=self.desk.check_running(),
            pending=await self.desk.pending(), report=report, entries=entries,
            when=self._when(ctx), msg=ctx.arg("msg"), hospitals=hospitals)
        if status != 200:
            raise _Answer(status, body)
        return body

    async def upload(self, ctx: Ctx, data: bytes) -> str:
        if not data:
            raise Refused(400, "请选择一个菜单文件", "Choose a menu file")
        try:
            report, pending = await self.desk.upload(data, ctx.user.name)
        except DeskError as exc:
            raise Refused(400, exc.zh, exc.en) from exc
        if pending is None:
            return await self.menus_page(ctx, report, 400)
        await self.console.audit.write(PLATFORM, ctx.user.name, "menu_upload", pending.name,
                                       pending.running, pending.version)
        raise Redirect("/console/menus?msg=uploaded")

    async def activate(self, ctx: Ctx) -> str:
        try:
            name, before, after = await self.desk.activate(ctx.user.name)
        except DeskError as exc:
            raise Refused(409, exc.zh, exc.en) from exc
        await self.console.audit.write(PLATFORM, ctx.user.name, "menu_activate", name, before,
                                       after)
        raise Redirect("/console/menus?msg=activated")

    async def discard(self, ctx: Ctx) -> str:
        pending = await self.desk.pending()
        await self.desk.discard()
        if pending is not None:
            await self.console.audit.write(PLATFORM, ctx.user.name, "menu_discard",
                                           pending.name, pending.version, None)
        raise Redirect("/console/menus?msg=discarded")

    # ---------------------------------------------------------------- the simulator

    def _key(self, ctx: Ctx) -> str:
        assert ctx.session is not None
        return walk_key(ctx.session.token)

    async def simulator(self, ctx: Ctx, draft: str = "", error: str = "",
                        status: int = 200) -> str:
        view = await self.desk.sim_view(self._key(ctx), ctx.hb.info.id)
        pending = await self.desk.pending() if ctx.user.platform else None
        body = self.console.page(ctx, "simulator.html", view=view, draft=draft, error=error,
                                 keys=KEYS, channels=SIM_CHANNELS, pending=pending,
                                 which=ctx.arg("which"))
        if status != 200:
            raise _Answer(status, body)
        return body

    async def simulator_post(self, ctx: Ctx) -> str:
        key, hospital = self._key(ctx), ctx.hb.info.id
        action = ctx.field("action")
        target = f"{ctx.base()}/simulator"
        try:
            if action == "start":
                which = ctx.field("which")
                if which == "pending" and not ctx.user.platform:
                    raise Refused(403, *PLATFORM_ONLY)
                await self.desk.sim_start(key, hospital, ctx.field("channel"), which,
                                          ctx.field("lang"))
                raise Redirect(target)
            if action == "hangup":
                await self.desk.sim_end(key, hospital)
                raise Redirect(target)
            draft = ctx.field("keys")
            pressed = ctx.field("key")
            view = await self.desk.sim_view(key, hospital)
            if pressed:  # a keypad button without the page's script: the number grows here
                if pressed not in KEYS:
                    raise Refused(400, "没有这个按键", "No such key")
                draft += pressed
                ivr = view is not None and view.channel == "ivr"
                if not (ivr and (pressed == "#" or 0 < view.max_keys <= len(draft))):
                    return await self.simulator(ctx, draft)
            await self.desk.sim_input(key, hospital, draft)
        except DeskError as exc:
            return await self.simulator(ctx, "", ctx.t(exc.zh, exc.en), 409)
        raise Redirect(target)


def _multipart(request: Any) -> tuple[dict[str, str], dict[str, bytes]]:
    """The text fields and the files of a multipart form (the first of each name)."""
    kind = request.getHeader(b"content-type") or b""
    if not kind.split(b";")[0].strip().lower() == b"multipart/form-data":
        raise Refused(400, "表单格式不对", "Not a file upload form")
    content = request.content.read(MAX_MENU_BYTES * 2 + 1) if request.content else b""
    if len(content) > MAX_MENU_BYTES * 2:
        raise Refused(413, "文件太大", "The file is too large")
    message = BytesParser(policy=HTTP).parsebytes(
        b"MIME-Version: 1.0\r\nContent-Type: " + kind + b"\r\n\r\n" + content)
    if not message.is_multipart():
        raise Refused(400, "表单格式不对", "Not a file upload form")
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            files.setdefault(name, payload)
        else:
            fields.setdefault(name, payload.decode("utf-8", "replace"))
    return fields, files
