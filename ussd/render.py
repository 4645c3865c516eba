"""Turn engine outputs and our own notices into USSD screens (pure: no Twisted, no I/O)."""

from __future__ import annotations

from menus.types import Output

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


def reply_body(output: Output) -> str:
    """The gateway reply: ``CON <screen>`` waits for input, ``END <screen>`` closes."""
    return ("END " if output.ends else "CON ") + screen(output)


def end_body(text: str) -> str:
    return "END " + text


def over_limit(text: str) -> bool:
    """True when ``text`` will not fit one USSD string, so the network would cut it.

    SEAM(paging): a later issue splits long screens into pages with "98 更多/more" and
    "00 返回/back" and keeps the page in the session record. Until then we send the screen whole
    (never truncating silently) and the resource logs a warning so oversize menus get noticed.
    """
    if all(ord(c) < 128 for c in text):
        return len(text) > GSM7_LIMIT
    return len(text.encode("utf-16-be")) // 2 > UCS2_LIMIT
