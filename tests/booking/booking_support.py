"""Shared values for the booking tests: a fixed "now", a small catalog, valid ID numbers."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from booking.idcard import check_char

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=SH)  # a Wednesday, 10:00 hospital time
TOMORROW = dt.date(2026, 11, 26)

CATALOG_YAML = """\
hospital:
  name: {zh: 测试医院, en: Test hospital}
sessions:
  am: {label: {zh: 上午, en: morning}, places: 63}   # remote quota floor(63 * 0.8) = 50
  pm: {label: {zh: 下午, en: afternoon}, places: 3}  # remote quota 2
departments:
  - id: nk
    name: {zh: 内科, en: Internal medicine}
  - id: yk
    name: {zh: 眼科, en: Ophthalmology}
    sessions: {pm: 0}
"""


def make_id(n: int) -> str:
    """The n-th distinct valid resident ID (Beijing Chaoyang, born 1980-1999)."""
    first17 = f"110105{1980 + n // 1000:04d}0101{n % 1000:03d}"
    return first17 + check_char(first17)


def phone(n: int) -> str:
    """A distinct phone number per person (one phone may book for at most 2 IDs)."""
    return f"86139{n:08d}"


def catalog_yaml(hospital_extra: str = "", tail: str = "") -> str:
    """CATALOG_YAML with extra ``hospital:`` keys (e.g. "payment: pay_to_confirm") and sections."""
    head, rest = CATALOG_YAML.split("sessions:", 1)
    extra = "".join(f"  {line}\n" for line in hospital_extra.splitlines() if line.strip())
    return head + extra + "sessions:" + rest + tail


async def events(redis: object) -> list[dict[str, str]]:
    """Every entry of the hl:events stream, as dicts of its fields."""
    entries = await redis.execute_command("XRANGE", "hl:events", "-", "+")  # type: ignore[attr-defined]
    return [dict(zip(f[::2], f[1::2], strict=True)) for _, f in entries]


def hospital_yaml(hid: str, code: str, hospital_extra: str = "", tail: str = "") -> str:
    """catalog_yaml for one hospital of a platform: its id, code, names and district."""
    extra = (f"id: {hid}\ncode: '{code}'\nname: {{zh: {hid}医院, en: {hid} hospital}}\n"
             f"district: {{zh: 福田区, en: Futian}}\nsms_signature: 【{hid}】\n{hospital_extra}")
    text = catalog_yaml(extra, tail)
    return text.replace("  name: {zh: 测试医院, en: Test hospital}\n", "", 1)


def platform_of(*texts: str, limits: object = None) -> object:
    """A Platform of the hospital YAML texts (``hospital_yaml``), in order."""
    from booking.catalog import Platform, parse_catalog
    from booking.policy import Limits

    lim = limits if limits is not None else Limits()
    hospitals = tuple(parse_catalog(t, f"h{n}.yaml", limits=lim, folder=True)  # type: ignore[arg-type]
                      for n, t in enumerate(texts))  # fmt: skip
    return Platform(hospitals, lim)  # type: ignore[arg-type]


def _main_keys() -> object:
    from booking.keys import HospitalKeys

    return HospitalKeys.of("main")


MAIN = _main_keys()  # the keys of a single hospital.yaml's hospital (id "main")
