"""Small platforms of several hospitals for the tests of choosing one in the menus.

Each hospital file is the shipped ``config/hospital.yaml`` with its own id, keypad code, names
and district, written to a test's folder and read by ``load_platform`` as an operator's would
be. The booking side is the in-memory twin (``booking.testing``): a booking's ``hospital_id``
says where it landed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from booking.catalog import Platform, load_platform
from booking.idcard import is_valid_resident_id
from booking.testing import MemoryBookingService
from dialogue.effects import make_effect_runner
from menus.definition import MenuSource, load_menu
from menus.driver import Dialogue

ROOT = Path(__file__).resolve().parents[1]
MENU = ROOT / "config" / "menus" / "booking.yaml"
SHIPPED = ROOT / "config" / "hospital.yaml"
NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Wednesday
ID_NUMBER = "11010519491231002X"
NUMERALS = "一二三四五六七八九十"

# (id, code, short zh, district zh): three hospitals, one screen, two districts
THREE = [
    ("h1", "11", "市一医院", "福田区"),
    ("h2", "12", "市二医院", "南山区"),
    ("h3", "13", "中医院", "南山区"),
]


def many(count: int) -> list[tuple[str, str, str, str]]:
    """``count`` hospitals: all but two in 福田区, with names long enough that the district's
    list needs more than one USSD page."""
    out = [(f"f{i}", str(20 + i), f"福田区第{NUMERALS[i]}人民医院", "福田区")
           for i in range(count - 2)]
    out += [("n1", "31", "南山医院", "南山区"), ("n2", "32", "蛇口医院", "南山区")]
    return out


def hospital_file(hid: str, code: str, short: str, district: str) -> str:
    """The shipped hospital file, renamed to this hospital."""
    text = SHIPPED.read_text(encoding="utf-8")
    head = text.index("hospital:\n") + len("hospital:\n")
    end = text.index("  timezone:")
    ident = (f"  id: {hid}\n  code: '{code}'\n"
             f"  name: {{zh: {short}（演示）, en: {hid.upper()} Hospital (demo)}}\n"
             f"  short: {{zh: {short}, en: {hid.upper()}}}\n"
             f"  district: {{zh: {district}, en: District {district[:2]}}}\n"
             f"  sms_signature: 【{short}】\n")
    return text[:head] + ident + text[end:]


def write_platform(folder: Path, hospitals: list[tuple[str, str, str, str]]) -> Platform:
    folder.mkdir(parents=True, exist_ok=True)
    for hid, code, short, district in hospitals:
        (folder / f"{hid}.yaml").write_text(hospital_file(hid, code, short, district),
                                            encoding="utf-8")
    return load_platform(folder)


def twin(platform: Platform | Any, clock: Any) -> MemoryBookingService:
    return MemoryBookingService(platform, clock)


def dialogue(booking: Any) -> Dialogue:
    """The shipped menu over ``booking``, with the effects ``hotline serve`` runs."""
    menus = MenuSource([load_menu(MENU)])
    return Dialogue(menus, make_effect_runner(booking), {"resident_id": is_valid_resident_id})
