"""The kiosk screen ``/kiosk/``: the page a hospital's touch terminal shows (docs/kiosk.md).

Server-rendered HTML and one small plain script (``kiosk_static/``, shipped in the wheel, no
build step, nothing from other sites). The script talks to the kiosk API (``/api/kiosk/verify``,
``/api/kiosk/check-in``) with the kiosk id and secret the terminal was set up with (the start
URL's fragment ``#kiosk=<id>&secret=<secret>``, kept in the browser's local storage: a fragment
never reaches the server or a proxy log). ``POST /kiosk/qr`` draws a T-code's QR for the slip;
it looks nothing up.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from importlib import resources

from twisted.web.resource import Resource
from twisted.web.server import Request
from twisted.web.util import redirectTo

from web.jsonapi import MAX_BODY
from web.qr import qr_svg

STATIC = {  # file -> content type
    "kiosk.js": b"text/javascript; charset=utf-8",
    "kiosk.css": b"text/css; charset=utf-8",
}
_TCODE = re.compile(r"^\d{10}$")
# texts of the screen per language; error codes are the kiosk API's (docs/booking.md)
TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "prompt": "请扫描二维码，或输入10位取号码", "ok": "确定", "back": "返回",
        "checkin": "签到", "ready": "可以签到", "checked_in": "签到成功，请取凭条",
        "take_slip": "请按序号候诊", "queue": "序号", "dept": "科室", "day": "日期",
        "session": "时段", "id": "身份证", "phone": "手机", "tcode": "取号码",
        "slip": "挂号凭条", "working": "请稍候…", "no_kiosk": "本机尚未登记（缺少 kiosk 标识）",
        "camera": "用摄像头扫码", "camera_stop": "关闭摄像头",
        "e.camera": "无法打开摄像头，请用扫码器或输入10位取号码",
        "e.not_found": "未找到该预约，请核对10位取号码", "e.not_today": "该预约不是今天的",
        "e.already_checked_in": "该预约已签到", "e.cancelled": "该预约已取消",
        "e.expired": "该预约未按时付款，已失效", "e.no_show": "该预约已爽约，不能再使用",
        "e.held": "该预约正在等待付款", "e.too_early": "本时段签到尚未开始",
        "e.too_late": "已过本时段签到时间",
        "e.rate_limited": "错误次数过多，请稍后再试或到窗口办理",
        "e.forbidden": "本机未登记或密钥错误，请联系工作人员",
        "e.other": "暂时无法办理，请到窗口办理",
    },
    "en": {
        "prompt": "Scan your QR code, or key in your 10-digit code", "ok": "OK", "back": "Back",
        "checkin": "Check in", "ready": "Ready to check in",
        "checked_in": "Checked in. Please take your slip", "take_slip": "Please wait to be called",
        "queue": "Queue no.", "dept": "Department", "day": "Date", "session": "Session",
        "id": "ID", "phone": "Phone", "tcode": "Code", "slip": "Registration slip",
        "working": "Please wait…", "no_kiosk": "This terminal is not set up (no kiosk id)",
        "camera": "Scan with the camera", "camera_stop": "Stop the camera",
        "e.camera": "The camera cannot be used. Please scan or key in the 10 digits",
        "e.not_found": "No booking matches this code. Please check the 10 digits",
        "e.not_today": "This booking is for another day",
        "e.already_checked_in": "This booking is already checked in",
        "e.cancelled": "This booking was cancelled",
        "e.expired": "This booking was not paid in time and has lapsed",
        "e.no_show": "This booking was missed and can no longer be used",
        "e.held": "This booking is waiting for payment",
        "e.too_early": "Check-in for this session has not opened yet",
        "e.too_late": "Check-in for this session has closed",
        "e.rate_limited": "Too many wrong codes. Please wait or ask at the desk",
        "e.forbidden": "This terminal is not registered. Please call staff",
        "e.other": "This cannot be done here now. Please ask at the desk",
    },
}
_PAGE = """<!doctype html>
<html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/kiosk/kiosk.css">
</head>
<body>
<script type="application/json" id="kiosk-config">{config}</script>
<header><h1 id="hospital">{title}</h1>
<nav class="langs"><button type="button" data-lang="zh">中文</button>
<button type="button" data-lang="en">English</button></nav></header>
<main>
<section id="idle" class="screen">
<p class="prompt" data-t="prompt"></p>
<div id="entry" class="entry" aria-live="polite"></div>
<div class="keypad">{keys}</div>
<button type="button" id="camera" class="camera" data-t="camera" hidden></button>
<video id="viewfinder" class="viewfinder" muted playsinline hidden></video>
</section>
<section id="result" class="screen" hidden>
<p id="verdict" class="verdict" aria-live="assertive"></p>
<dl id="booking" class="booking"></dl>
<div class="actions"><button type="button" id="checkin" class="big" data-t="checkin"></button>
<button type="button" id="back" data-t="back"></button></div>
</section>
</main>
<section id="slip" class="slip" hidden></section>
<script src="/kiosk/kiosk.js"></script>
</body></html>
"""
_KEYS = "".join(
    f'<button type="button" data-key="{k}">{label}</button>'
    for k, label in [*((str(n), str(n)) for n in range(1, 10)), ("back", "⌫"), ("0", "0"),
                     ("enter", "✓")]
)


def page(hospital: Mapping[str, str], idle_s: float, lang: str = "zh") -> bytes:
    config = {"hospital": dict(hospital), "idle_s": idle_s, "lang": lang, "texts": TEXTS}
    data = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
    title = html.escape(hospital.get(lang) or next(iter(hospital.values()), ""))
    return _PAGE.format(title=title, config=data, keys=_KEYS).encode("utf-8")


class _Bytes(Resource):
    isLeaf = True

    def __init__(self, body: bytes, content_type: bytes, cache: bytes = b"no-cache") -> None:
        super().__init__()
        self.body, self.content_type, self.cache = body, content_type, cache

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", self.content_type)
        request.setHeader(b"cache-control", self.cache)
        request.setHeader(b"x-content-type-options", b"nosniff")
        return self.body


class _Qr(Resource):
    """``POST /kiosk/qr`` ``{"tcode": "<10 digits>"}`` → the QR as SVG (pure drawing)."""

    isLeaf = True

    def render_POST(self, request: Request) -> bytes:
        raw = request.content.read(MAX_BODY + 1) if request.content else b""
        try:
            tcode = json.loads(raw.decode("utf-8")).get("tcode", "")
        except (UnicodeDecodeError, ValueError, AttributeError):
            tcode = ""
        if not isinstance(tcode, str) or not _TCODE.match(tcode):
            request.setResponseCode(400)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"tcode must be 10 digits"
        request.setHeader(b"content-type", b"image/svg+xml")
        request.setHeader(b"cache-control", b"no-store")
        return qr_svg(tcode).encode("utf-8")


class _Screen(Resource):
    def render_GET(self, request: Request) -> bytes:
        """``/kiosk`` without the slash: the page's relative paths need it."""
        return redirectTo(b"/kiosk/", request)


def kiosk_screen(hospital: Mapping[str, str], idle_s: float = 30.0) -> Resource:
    """``/kiosk/`` (the page), ``/kiosk/kiosk.js``, ``/kiosk/kiosk.css``, ``/kiosk/qr``."""
    screen = _Screen()
    index = _Bytes(page(hospital, idle_s), b"text/html; charset=utf-8")
    screen.putChild(b"", index)
    files = resources.files("web").joinpath("kiosk_static")
    for name, content_type in STATIC.items():
        screen.putChild(name.encode(), _Bytes(files.joinpath(name).read_bytes(), content_type))
    screen.putChild(b"qr", _Qr())
    return screen
