"""Every shipped SMS template, rendered with the longest realistic values of the shipped catalogs,
fits one SMS part (70 UCS2 characters in Chinese, 160 GSM characters in English): hospitals
pay per part.  Run with ``-s`` to see the table of lengths and parts.

The values, for the single ``hospital.yaml`` and for every hospital of the demo platform
(``config/hospitals/``), each with its own signature and texts: the hospital's name, its longest
department and session names, the longest day label of a year, a 10-digit T-code, every refusal
reason for the answers that carry one.  Only a list of several bookings (``mo_bookings`` with
more than one) may take more."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from booking.catalog import load_catalog, load_platform
from booking.rules import day_label
from notify.templates import PARTS_BUDGET, Renderer, load_templates
from sms import encoding

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(ROOT / "config/hospital.yaml")
TEMPLATES = load_templates(ROOT / "config/sms.yaml")
PLATFORM = load_platform(ROOT / "config/hospitals")
RENDERERS = [(CATALOG, Renderer(TEMPLATES, CATALOG, day_label)),
             *[(h, Renderer(TEMPLATES, PLATFORM, day_label, signature="【12580】"))
               for h in PLATFORM.hospitals]]
LANGS = ("zh", "en")
# a realistic QR page link: a public URL of 24 characters and a token (web/ticket_links.py)
LINK = "https://yy.hospital.gov.cn/t/" + "x" * 22


def _may_take_more(name: str) -> bool:
    return name.endswith("mo_bookings x3")  # a list grows with the patient's bookings


def _longest(values: list[str]) -> str:
    return max(values, key=len)


def _fields(lang: str, hospital) -> dict[str, object]:
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    dept = _longest([d.name.get(lang, "") for d in hospital.departments])
    session = _longest([s.label.get(lang, "") for d in hospital.departments for s in d.sessions])
    day = _longest([day_label(d, lang) for d in days])
    return {"tcode": "9876543210", "dept": dept, "day": day, "session": session, "until": day,
            "count": 5, "reason": "", "code": "987654", "minutes": 5,
            "link": LINK}


def _rendered() -> list[tuple[str, str, str]]:
    """(row name, language, text) for every template and language."""
    rows = []
    for hospital, renderer in RENDERERS:
        for lang in LANGS:
            rows.extend(_one(renderer, hospital.id, lang, _fields(lang, hospital)))
    return rows


def _one(renderer: Renderer, hospital: str, lang: str, fields: dict) -> list:
    rows = []
    line = f"{fields['tcode']} {fields['dept']} {fields['day']} {fields['session']}"
    for kind in sorted(k for k in TEMPLATES if "@" not in k):  # a hospital's own: as it
        if kind.startswith("reason."):
            continue
        name = f"{hospital}:{kind}"
        if kind in ("mo_cancel_failed", "mo_register_failed"):
            for code in sorted(k.removeprefix("reason.") for k in TEMPLATES
                               if k.startswith("reason.")):
                text = renderer.text(kind, lang, hospital,
                                     **{**fields, "reason": renderer.reason(code, lang)})
                rows.append((f"{name} {code}", lang, text))
        elif kind == "mo_bookings":
            for n in (1, 3):
                text = renderer.text(kind, lang, hospital, bookings="; ".join([line] * n))
                rows.append((f"{name} x{n}", lang, text))
        else:
            rows.append((name, lang, renderer.text(kind, lang, hospital, **fields)))
    return rows


ROWS = _rendered()


def _parts(text: str) -> int:
    return len(encoding.split(text, 1))


def test_the_table_of_every_template_and_its_parts() -> None:
    print(f"\n{'template':40} lang  chars  coding  parts")
    for name, lang, text in ROWS:
        coding = "GSM" if encoding.choose_coding(text) == encoding.DC_GSM else "UCS2"
        print(f"{name:40} {lang:4} {len(text):6} {coding:>7} {_parts(text):6}")
    assert {lang for _, lang, _ in ROWS} == set(LANGS)
    assert len(ROWS) > 2 * len([k for k in TEMPLATES if not k.startswith("reason.")])
    own = [text for name, lang, text in ROWS if name == "ft-zhongyi:booked" and lang == "zh"]
    assert own and "15分钟内支付" in own[0] and own[0].startswith("【福田中医院】")


@pytest.mark.parametrize(("name", "lang", "text"),
                         [r for r in ROWS if not _may_take_more(r[0])],
                         ids=[f"{r[0]}-{r[1]}" for r in ROWS if not _may_take_more(r[0])])
def test_template_fits_its_budget(name: str, lang: str, text: str) -> None:
    budget = PARTS_BUDGET.get(_kind(name), 1)
    assert _parts(text) <= budget, f"{name} ({lang}), {len(text)} characters: {text}"


def _kind(name: str) -> str:
    """``<hospital>:<kind>[ <variant>]`` -> kind."""
    return name.partition(":")[2].partition(" ")[0]


def test_the_link_costs_at_most_one_part_more() -> None:
    plain = {(name.partition(":")[0], lang): text for name, lang, text in ROWS
             if _kind(name) == "booked"}
    linked = [(name, lang, text) for name, lang, text in ROWS if _kind(name) == "booked_link"]
    assert linked
    for name, lang, text in linked:
        assert LINK in text and _parts(text) <= _parts(plain[name.partition(":")[0], lang]) + 1


def test_chinese_texts_carry_no_english_reason() -> None:
    for name, lang, text in ROWS:
        if lang == "zh":
            # command words (QX, CX) are upper case; the link is not a text to translate
            words = [c for c in text.replace(LINK, "") if c.isascii() and c.islower()]
            assert not words, f"{name}: {text}"


def test_an_appeal_decision_with_the_longest_reason_takes_two_parts_at_most() -> None:
    """The console's decisions carry the staff's reason, cut to REASON_SMS characters."""
    from web.console.pages import REASON_SMS

    for hospital, renderer in RENDERERS:
        for lang in LANGS:
            fields = _fields(lang, hospital)
            for kind in ("appeal_lifted", "appeal_refused"):
                for reason in ("住" * REASON_SMS, "x" * REASON_SMS):
                    text = renderer.text(kind, lang, hospital.id, reason=reason,
                                         until=fields["until"])
                    assert _parts(text) <= PARTS_BUDGET[kind], (hospital.id, lang, kind, text)
