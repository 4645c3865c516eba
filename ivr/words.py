"""The words the voice channel reads call data with: digits, numbers, dates, sessions, phrases.

Each word is a sound file (``WORDS``: name -> what it says) and, where the screen writes it
differently, the screen form the composer recognises in a value (``SCREEN``: "Dec" is read
"December"). Chinese reads 1 as 幺 in codes and phone numbers but 一 in numbers; Cantonese
reads 一 in both. ``yue`` is written like ``zh`` (the same screen forms), spoken in Cantonese.
"""

from __future__ import annotations

from collections.abc import Mapping

_ZH_DIGITS = "零一二三四五六七八九"
_EN_NUMBERS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
_EN_TENS = {
    30: "thirty",
    40: "forty",
    50: "fifty",
    60: "sixty",
    70: "seventy",
    80: "eighty",
    90: "ninety",
}
_EN_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_EN_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_ZH_WEEKDAYS = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")

PAUSE = "hotline/words/pause_150ms"  # where an option line ends on bare punctuation ("…{n}。")
MONTH = "hotline/words/month_"  # + 1..12: the month words (a date list says one once per change)
NUMBER_MAX = 99  # counts up to this are read as numbers; longer digit runs digit by digit


def _zh_number(n: int) -> str:
    if n <= 10:
        return "十" if n == 10 else _ZH_DIGITS[n]
    return f"{_ZH_DIGITS[n // 10] if n >= 20 else ''}十"


def _number_names(n: int) -> list[str]:
    """The number files that say ``n`` (0..99): one file, or tens then units (二十 + 三)."""
    if n <= 20 or n % 10 == 0:
        return [f"hotline/words/num_{n}"]
    return [f"hotline/words/num_{n - n % 10}", f"hotline/words/num_{n % 10}"]


def _chinese(digit_words: str) -> dict[str, str]:
    return {
        **{f"digits/{d}": w for d, w in zip("0123456789", digit_words, strict=True)},
        "letters/x": "叉",
        "letters/star": "星号",
        "letters/pound": "井号",
        **{f"hotline/words/num_{n}": _zh_number(n) for n in [*range(21), *range(30, 100, 10)]},
        **{f"hotline/words/month_{m}": f"{m}月" for m in range(1, 13)},
        **{f"hotline/words/day_{d}": f"{d}日" for d in range(1, 32)},
        **{f"hotline/words/weekday_{i}": w for i, w in enumerate(_ZH_WEEKDAYS)},
        "hotline/words/am": "上午",
        "hotline/words/pm": "下午",
        "hotline/words/tail": "尾号",
        PAUSE: "",
    }


WORDS: Mapping[str, Mapping[str, str]] = {
    "zh": _chinese("零幺二三四五六七八九"),
    "yue": _chinese(_ZH_DIGITS),
    "en": {
        **{f"digits/{d}": w for d, w in zip("0123456789", _EN_NUMBERS, strict=False)},
        "letters/x": "X",
        "letters/star": "star",
        "letters/pound": "pound",
        **{f"hotline/words/num_{n}": _EN_NUMBERS[n] for n in range(21)},
        **{f"hotline/words/num_{n}": w for n, w in _EN_TENS.items()},
        **{f"hotline/words/month_{m}": w for m, w in enumerate(_EN_MONTHS, start=1)},
        **{f"hotline/words/weekday_{i}": w for i, w in enumerate(_EN_WEEKDAYS)},
        "hotline/words/am": "morning",
        "hotline/words/pm": "afternoon",
        "hotline/words/tail": "ID ending",
        PAUSE: "",
    },
}


def _screen_forms(lang: str) -> dict[str, str]:
    """Screen text -> word file, for the words that appear inside values (dates, phrases)."""
    words = WORDS[lang]
    if lang == "en":
        out = {w[:3]: f"hotline/words/month_{m}" for m, w in enumerate(_EN_MONTHS, start=1)}
        out |= {w[:3]: f"hotline/words/weekday_{i}" for i, w in enumerate(_EN_WEEKDAYS)}
        out |= {w: f"hotline/words/weekday_{i}" for i, w in enumerate(_EN_WEEKDAYS)}
        out |= {w: f"hotline/words/month_{m}" for m, w in enumerate(_EN_MONTHS, start=1)}
        out |= {"ID ending": "hotline/words/tail", "morning": "hotline/words/am"}
        out |= {"afternoon": "hotline/words/pm"}
        return out
    keep = ("hotline/words/month_", "hotline/words/day_", "hotline/words/weekday_")
    out = {text: name for name, text in words.items() if name.startswith(keep)}
    out |= {"上午": "hotline/words/am", "下午": "hotline/words/pm", "尾号": "hotline/words/tail"}
    return out


SCREEN: Mapping[str, Mapping[str, str]] = {lang: _screen_forms(lang) for lang in WORDS}


def words_for(lang: str) -> Mapping[str, str]:
    """The word files of ``lang`` (Mandarin's for a language without words of its own)."""
    return WORDS.get(lang) or WORDS["zh"]


def number_names(n: int) -> list[str]:
    return _number_names(n)
