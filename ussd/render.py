"""Turn engine outputs and our own notices into USSD screens (pure: no Twisted, no I/O)."""

from __future__ import annotations

from menus.types import Output, Say
from ussd.paging import ScreenLimits, fits

# A USSD string is at most 160 octets: 182 GSM-7 characters, or 80 UCS-2 characters (Chinese).
GSM7_LIMIT = 182
UCS2_LIMIT = 80

_MESSAGES: dict[str, dict[str, str]] = {
    "expired": {
        "zh": "会话已过期，请重新拨号。",
        "en": "Session expired, please dial again.",
    },
    "ended": {
        "zh": "本次会话已结束，请重新拨号。",
        "en": "This session has ended, please dial again.",
    },
    "error": {
        "zh": "抱歉，系统暂时故障，请稍后重新拨号。",
        "en": "Sorry, something went wrong. Please dial again later.",
    },
    "resume_offer": {
        "zh": "您上次的预约尚未完成。\n1.继续上次\n2.重新开始",
        "en": "You have an unfinished booking.\n1. Continue\n2. Start over",
    },
    "busy": {
        "zh": "抱歉，系统繁忙，请稍后重新拨号。",
        "en": "Sorry, the service is busy. Please dial again later.",
    },
}


def message(name: str, lang: str) -> str:
    """One of our own notices in ``lang`` (falls back to Chinese, the hospital's language)."""
    texts = _MESSAGES[name]
    return texts.get(lang, texts["zh"])


def screen(output: Output) -> str:
    """The screen text for one output; ``SayDigits`` show as the plain digits (Output.text)."""
    return output.text()


def screen_lines(output: Output) -> list[str]:
    """One line per output part (a question, a choice): pages break only between these."""
    return [p.text if isinstance(p, Say) else p.digits for p in output.parts]


def reply_body(output: Output) -> str:
    """The gateway reply: ``CON <screen>`` waits for input, ``END <screen>`` closes."""
    return ("END " if output.ends else "CON ") + screen(output)


def end_body(text: str) -> str:
    return "END " + text


def over_limit(text: str, limits: ScreenLimits | None = None) -> bool:
    """True when ``text`` will not fit one USSD string in the encoding it would be sent in."""
    return not fits(text, limits or ScreenLimits())
