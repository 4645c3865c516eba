"""Paging: screens measured in the gateway's encoding, split between lines, 98/00 in the channel.

The shipped menu (config/menus/booking.yaml) is driven by the real engine in Chinese (UCS2) and
English (GSM 03.38); effects answer from the shipped hospital catalog, padded with extra
departments so lists are long. No page may exceed the limit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from hypothesis import given, settings
from hypothesis import strategies as st
from ussd_harness import CountingDialogue, start_server

from booking.catalog import load_catalog
from menus.definition import MenuSource, load_menu
from menus.driver import Dialogue
from menus.types import Effect, EffectResult, Output, Say, Session, Wait
from ussd.paging import ScreenLimits, coding_of, measure, nav_labels, paginate, units

ROOT = Path(__file__).resolve().parents[2]
MENU = ROOT / "config" / "menus" / "booking.yaml"
CATALOG = load_catalog(ROOT / "config" / "hospital.yaml")
ID = "11010519491231002X"


def test_units_count_gsm_escapes_twice_and_ucs2_code_units() -> None:
    assert units("abc", "gsm") == 3
    assert units("a€[", "gsm") == 5  # € and [ are escape pairs
    assert measure("内科") == ("ucs2", 2)
    assert measure("a😀") == ("ucs2", 3)  # outside the BMP: a surrogate pair
    assert coding_of("Ünïcode") == "ucs2" and coding_of("Ü") == "gsm"


def test_a_screen_that_fits_is_one_page_without_navigation() -> None:
    assert paginate(["请选择：", "1.内科"], ScreenLimits()) == ("请选择：\n1.内科",)
    exact = ["a" * 182]
    assert paginate(exact, ScreenLimits()) == ("a" * 182,)


def _content(pages: tuple[str, ...], lang: str) -> list[str]:
    nav = set(nav_labels(lang))
    return [line for page in pages for line in page.split("\n") if line not in nav]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_long_list_pages_break_between_choices_with_more_and_back(lang: str) -> None:
    name = "某某某某科室" if lang == "zh" else "Department of something"
    lines = ["请选择科室：" if lang == "zh" else "Choose:"] + [f"{i}.{name}" for i in range(1, 31)]
    limits = ScreenLimits()
    pages = paginate(lines, limits, lang)
    more, back = nav_labels(lang)
    assert len(pages) > 1
    for i, page in enumerate(pages):
        coding, size = measure(page)
        assert size <= limits.limit(coding), page
        assert page.split("\n")[-1] != more or i < len(pages) - 1
        assert (more in page.split("\n")) == (i < len(pages) - 1)
        assert (back in page.split("\n")) == (i > 0)
    assert _content(pages, lang) == lines  # every choice whole, in order, none lost


def test_escapes_count_two_septets_when_paging() -> None:
    lines = [f"{i}. [€]" + "x" * 20 for i in range(1, 15)]  # 30 septets per line
    pages = paginate(lines, ScreenLimits(gsm=100), "en")
    assert all(measure(p)[0] == "gsm" and measure(p)[1] <= 100 for p in pages)
    assert _content(pages, "en") == lines


def test_a_single_line_longer_than_a_page_is_cut_at_characters() -> None:
    line = "预约成功！" * 30
    pages = paginate([line], ScreenLimits(), "zh", ends=True)
    assert "".join(_content(pages, "zh")) == line
    assert all(measure(p)[1] <= 70 for p in pages)
    assert nav_labels("zh")[1] not in pages[-1]  # the final page of an ending screen is final


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.text(min_size=0, max_size=90), min_size=1, max_size=25),
    st.integers(24, 200), st.integers(24, 90), st.sampled_from(["zh", "en"]), st.booleans(),
)
def test_no_page_is_ever_over_the_limit(
    lines: list[str], gsm: int, ucs2: int, lang: str, ends: bool
) -> None:
    # a menu line can never be a paging label ("98. More"/"00. Back": `menus check` keeps 98 and
    # 00 off menu keys), and the oracle below tells content from navigation by the label
    nav = set(nav_labels(lang))
    lines = [line.replace("\n", " ") for line in lines]
    lines = [line for line in lines if line not in nav] or [""]
    limits = ScreenLimits(gsm=gsm, ucs2=ucs2)
    pages = paginate(lines, limits, lang, ends=ends)
    for page in pages:
        coding, size = measure(page)
        assert size <= limits.limit(coding)
    if len(pages) > 1:
        assert "".join(_content(pages, lang)) == "".join(lines)


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        ScreenLimits(ucs2=5)


# ---------------------------------------------------------------- the shipped menus


def catalog_effects(extra: int) -> Any:
    """Effects answering from the shipped catalog, plus ``extra`` long-named departments."""

    async def run(effect: Effect, session: Session) -> EffectResult:
        lang = session.lang
        if effect.name == "hospital_start":  # a platform of one hospital: no question
            return EffectResult(True, {"mode": "single", "hospital": {"id": "main"}})
        if effect.name == "departments":
            depts = [{"id": d.id, "name": d.name.get(lang, d.name["zh"])}
                     for d in CATALOG.departments]
            long = "中西医结合康复医学科" if lang == "zh" else "Integrated rehabilitation medicine"
            depts += [{"id": f"x{i}", "name": f"{long}{i}"} for i in range(extra)]
            return EffectResult(True, depts)
        if effect.name == "open_days":
            names = ["11月26日 星期四", "11月27日 星期五", "11月28日 星期六"]
            if lang != "zh":
                names = ["Thu 26 Nov", "Fri 27 Nov", "Sat 28 Nov"]
            return EffectResult(True, [{"id": f"2026-11-2{6 + i}", "name": n}
                                       for i, n in enumerate(names)])
        if effect.name == "sessions":
            return EffectResult(True, [{"id": "am", "name": "上午" if lang == "zh" else "morning",
                                        "left": 3}])
        if effect.name == "book":
            return EffectResult(True, {"tcode": "4381090292", "dept_name": "内科",
                                       "day_name": "11月26日", "session_name": "上午"})
        return EffectResult(False, error="error")

    return run


class LangDialogue:
    """The real Dialogue over the shipped menu, started in a fixed language."""

    def __init__(self, lang: str, extra: int) -> None:
        self.lang = lang
        self.inner = Dialogue(MenuSource([load_menu(MENU)]), catalog_effects(extra),
                              {"resident_id": lambda s: True})

    async def begin(self, menu: str, *, channel: str, msisdn: str, lang: str | None = None
                    ) -> tuple[Session, Output]:
        return await self.inner.begin(menu, channel=channel, msisdn=msisdn, lang=self.lang)

    async def resume(self, session: Session, inp: Any) -> tuple[Session, Output]:
        return await self.inner.resume(session, inp)


@pytest.mark.parametrize(("lang", "limits"), [
    ("zh", ScreenLimits()),  # UCS2, 70 units
    ("en", ScreenLimits()),  # GSM 03.38, 182 septets
    ("zh", ScreenLimits(gsm=60, ucs2=30)),  # a tight gateway: every screen pages
    ("en", ScreenLimits(gsm=60, ucs2=30)),
])
@pytest_twisted.ensureDeferred
async def test_shipped_menu_booking_over_http_never_sends_a_page_over_the_limit(
    redis, lang: str, limits: ScreenLimits
) -> None:
    server = await start_server(LangDialogue(lang, extra=20), redis, limits=limits)
    pages_seen: list[str] = []
    text = ""

    async def hop(value: str | None) -> str:
        nonlocal text
        if value is not None:
            text = f"{text}*{value}" if text else value
        code, body = await server.post(text=text)
        assert code == 200, body
        pages_seen.append(body[4:])
        return body

    async def through(value: str | None) -> list[str]:
        """Send ``value`` and then 98 until the last page; the screen's pages."""
        body = await hop(value)
        screens = [body]
        while nav_labels(lang)[0] in body[4:].split("\n"):
            body = await hop("98")
            screens.append(body)
        return screens

    try:
        welcome = await through(None)
        depts = await through("1")
        assert len(depts) > 1  # the long department list paged
        # back to the first page, then pick the last department from the last page
        assert await hop("00") == depts[-2]  # back one page
        assert await hop("98") == depts[-1]  # and forward again
        assert await hop("98") == depts[-1]  # 98 on the last page stays there
        last_key = depts[-1][4:].split("\n")[-2].split(".")[0]  # above the 00 line
        assert last_key.isdigit() and int(last_key) >= len(CATALOG.departments) + 20, depts
        days = await through(last_key)
        periods = await through("1")
        ask_id = await through("1")
        confirm = await through(ID.replace("X", "*"))
        done = await through("1")
        assert done[-1].startswith("END ") and "4381090292" in "".join(done)
        for screen in (welcome, days, periods, ask_id, confirm):
            assert screen[-1].startswith("CON ")
    finally:
        await server.port.stopListening()
    for page in pages_seen:
        coding, size = measure(page)
        assert size <= limits.limit(coding), (size, page)
    codings = {coding_of(p) for p in pages_seen}
    assert codings == {"gsm"} if lang == "en" else "ucs2" in codings


class ManyChoices(CountingDialogue):
    """A first screen of 19 long choices; records every input the menu receives."""

    async def begin(self, menu: str, *, channel: str, msisdn: str, lang: str | None = None
                    ) -> tuple[Session, Output]:
        session, _ = await super().begin(menu, channel=channel, msisdn=msisdn, lang=lang)
        options = tuple(Say(f"{i}.某某某某科室") for i in range(1, 20))
        return session, Output((Say("请选择："), *options), Wait(1, 2))


@pytest_twisted.ensureDeferred
async def test_98_and_00_turn_pages_and_never_reach_the_menu(redis) -> None:
    server = await start_server(ManyChoices(), redis)
    try:
        _, first = await server.post(text="")
        assert first.startswith("CON 请选择：\n1.某某某某科室") and first.endswith("\n98.更多")
        _, second = await server.post(text="98")
        assert second.endswith("98.更多\n00.返回") and second.startswith("CON 7.")
        assert await server.post(text="98*00") == (200, first)
        assert await server.post(text="98*00*00") == (200, first)  # 00 on page 1 stays there
        assert await server.post(text="98*00*00") == (200, first)  # a retry: same reply
        assert server.dialogue.resumes == []
        await server.post(text="98*00*00*1")
        assert server.dialogue.resumes == ["1"]
    finally:
        await server.port.stopListening()


def test_a_last_page_sent_in_gsm_with_escapes_still_fits() -> None:
    # Planned in UCS2 (the Chinese navigation), but the final page has no navigation and is all
    # GSM with escape characters, each 2 septets: it must fit the (smaller) GSM limit as sent.
    limits = ScreenLimits(gsm=24, ucs2=25)
    pages = paginate(["内", "€" * 13], limits, "zh", ends=True)
    for page in pages:
        coding, size = measure(page)
        assert size <= limits.limit(coding), (coding, size, page)
    assert "".join(_content(pages, "zh")) == "内" + "€" * 13
