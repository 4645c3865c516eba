"""What the web booking pages say, in zh and en.

Texts the menus already have (headings, refusals) are taken from the loaded booking menu, so
an operator's edit there reads the same on the web; texts only a web page needs are here. A
refusal (``BookingError``) reads, in order: the menu's text for its code, the SMS templates'
``reasons`` text for it, the error's own patient-safe message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

LANGS = ("zh", "en")

WEB: dict[str, dict[str, str]] = {
    "title": {"zh": "预约挂号", "en": "Book an appointment"},
    "choose_hospital": {"zh": "请选择医院：", "en": "Choose a hospital:"},
    "places_left": {"zh": "剩余{n}个", "en": "{n} left"},
    "no_places": {"zh": "已满", "en": "full"},
    "my_bookings": {"zh": "我的预约", "en": "My bookings"},
    "home": {"zh": "重新选择", "en": "Start over"},
    "sign_in": {"zh": "验证手机号", "en": "Verify your phone"},
    "phone_label": {"zh": "手机号码", "en": "Mobile number"},
    "phone_why": {"zh": "我们会向该号码发送6位验证码，预约成功短信也发到该号码。",
                  "en": "We send a 6-digit code to this number, and the booking SMS too."},
    "send_code": {"zh": "获取验证码", "en": "Send code"},
    "code_label": {"zh": "短信验证码（6位）", "en": "Code from the SMS (6 digits)"},
    "code_sent": {"zh": "验证码已发送至尾号{last4}的手机，{minutes}分钟内有效。",
                  "en": "A code was sent to the phone ending {last4}; valid {minutes} minutes."},
    "verify": {"zh": "验证", "en": "Verify"},
    "new_code": {"zh": "重新获取验证码", "en": "Send a new code"},
    "tries_left": {"zh": "还可尝试{n}次。", "en": "{n} tries left."},
    "bad_phone": {"zh": "手机号码有误，请核对。", "en": "That is not a mobile number."},
    "signed_in_as": {"zh": "已验证：尾号{last4}", "en": "Verified: phone ending {last4}"},
    "sign_out": {"zh": "退出", "en": "Sign out"},
    "who": {"zh": "就诊人身份证号", "en": "Patient's ID number"},
    "registered_id": {"zh": "身份证尾号{last4}", "en": "ID ending {last4}"},
    "other_id": {"zh": "其他身份证号：", "en": "Another ID number:"},
    "id_hint": {"zh": "18位居民身份证号码", "en": "18-character resident ID number"},
    "confirm": {"zh": "确认预约", "en": "Confirm"},
    "summary": {"zh": "{dept} {day} {session}", "en": "{dept}, {day}, {session}"},
    "booked": {"zh": "预约成功！取号码短信随后发送，请凭取号码到院自助机签到。",
               "en": "Booked! An SMS with your code follows; check in at a kiosk with it."},
    "tcode": {"zh": "取号码", "en": "Code"},
    "cancel": {"zh": "取消此预约", "en": "Cancel this booking"},
    "cancelled": {"zh": "已取消{tcode}的预约，短信随后发送。",
                  "en": "Booking {tcode} is cancelled. An SMS follows."},
    "session_over": {"zh": "验证已过期，请重新验证手机号。",
                     "en": "Your verification has expired. Please verify your phone again."},
    "form_expired": {"zh": "页面已过期，请重试。",
                     "en": "This page has expired. Please try again."},
    "not_found": {"zh": "页面不存在。", "en": "No such page."},
    "language": {"zh": "English", "en": "中文"},
    "otp_limited": {"zh": "获取验证码过于频繁，请{minutes}分钟后再试。",
                    "en": "Too many codes asked for. Please try again in {minutes} min."},
    "error.code_wrong": {"zh": "验证码不正确，请核对短信。", "en": "That code is not right."},
    "error.code_expired": {"zh": "验证码已失效，请重新获取。",
                           "en": "This code has expired or was used. Please ask for a new one."},
}

# text key -> (menu node, which text of it): the texts the booking menu already has
FROM_MENU: dict[str, tuple[str, str]] = {
    "choose_dept": ("pick_dept", "text"),
    "choose_day": ("pick_day", "text"),
    "no_depts": ("no_depts", "text"),
    "no_periods": ("no_periods", "text"),
    "mine_heading": ("pick_mine", "text"),
    "no_bookings": ("no_bookings", "text"),
    "invalid_id_input": ("ask_id", "invalid"),
    "error.full": ("full", "text"),
    "error.duplicate": ("duplicate", "text"),
    "error.blacklisted": ("blacklisted", "text"),
    "error.too_late": ("too_late", "text"),
    "error.not_found": ("gone", "text"),
    "error.cancelled": ("gone", "text"),
    "error.error": ("failed", "text"),
    "error.internal": ("failed", "text"),
}
FALLBACK: dict[str, dict[str, str]] = {  # a menu without one of those nodes
    "choose_dept": {"zh": "请选择科室：", "en": "Choose a department:"},
    "choose_day": {"zh": "请选择日期：", "en": "Choose a date:"},
    "no_depts": {"zh": "暂无可预约的科室。", "en": "No department is open for booking."},
    "no_periods": {"zh": "该日号源已满。", "en": "That day is fully booked."},
    "mine_heading": {"zh": "您的预约：", "en": "Your bookings:"},
    "no_bookings": {"zh": "您暂无预约。", "en": "You have no bookings."},
    "invalid_id_input": {"zh": "身份证号码有误。", "en": "That ID number is not valid."},
}

Reason = Callable[[str, str], str]  # (refusal code, lang) -> the SMS templates' text, or ""


def _plain(text: Any, lang: str) -> str | None:
    """A menu text in ``lang`` when it has no fields to fill (a web page has no dialogue)."""
    if not isinstance(text, Mapping) or lang not in text:
        return None
    template = text[lang]
    return None if template.fields() else str(template.source)


def menu_texts(menu: Any) -> dict[str, dict[str, str]]:
    """The texts of ``FROM_MENU`` found in a ``menus`` MenuDefinition."""
    found: dict[str, dict[str, str]] = {}
    nodes = getattr(menu, "nodes", {}) if menu is not None else {}
    for key, (node_id, attr) in FROM_MENU.items():
        node = nodes.get(node_id)
        value = getattr(node, attr, None) if node is not None else None
        if isinstance(value, tuple):  # ask ``invalid``: hints by count; the first one
            value = value[0] if value else None
        per_lang = {lang: t for lang in LANGS if (t := _plain(value, lang))}
        if per_lang:
            found[key] = per_lang
    return found


class Texts:
    """``t(key, lang, **fields)`` and ``error(exc, lang)`` for the pages."""

    def __init__(self, menu: Any = None, reason: Reason | None = None) -> None:
        self.table = {**WEB, **FALLBACK, **menu_texts(menu)}
        self.reason = reason

    def t(self, key: str, lang: str, **fields: Any) -> str:
        per_lang = self.table.get(key) or {}
        text = per_lang.get(lang) or per_lang.get("zh") or key
        return text.format(**fields) if fields else text

    def error(self, code: str, message: str, lang: str) -> str:
        own = self.table.get(f"error.{code}", {}).get(lang)
        if own:
            return own
        if self.reason is not None:
            text = self.reason(code, lang)
            if text:
                return text
        return message
