"""Loading config/hospital.yaml and refusing bad catalogs with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from booking.catalog import CatalogError, load_catalog, parse_catalog

REPO = Path(__file__).resolve().parents[2]

MINIMAL = """\
hospital:
  name: {zh: 演示医院, en: Demo hospital}
sessions:
  am: {label: {zh: 上午, en: morning}, places: 40}
  pm: {label: {zh: 下午, en: afternoon}, places: 30}
departments:
  - id: nk
    name: {zh: 内科, en: Internal medicine}
  - id: kqk
    name: {zh: 口腔科, en: Dental}
    remote_share: 0.5
    sessions: {pm: 10}
"""


def test_shipped_catalog_loads() -> None:
    cat = load_catalog(REPO / "config" / "hospital.yaml")
    assert cat.timezone == "Asia/Shanghai"
    assert cat.days_ahead == 7
    assert cat.remote_share == 0.8
    assert len(cat.departments) >= 6
    zh = {d.name["zh"] for d in cat.departments}
    assert {"内科", "外科", "儿科", "妇产科", "眼科", "口腔科"} <= zh
    for dept in cat.departments:
        assert [s.id for s in dept.sessions] == ["am", "pm"]
        assert all(30 <= s.places <= 60 for s in dept.sessions)


def test_defaults_and_per_department_overrides() -> None:
    cat = parse_catalog(MINIMAL)
    assert (cat.timezone, cat.days_ahead, cat.remote_share) == ("Asia/Shanghai", 7, 0.8)
    nk, kqk = cat.department("nk"), cat.department("kqk")
    assert nk is not None and kqk is not None
    assert nk.remote_share == 0.8 and kqk.remote_share == 0.5
    assert nk.session("pm").places == 30  # type: ignore[union-attr]
    assert kqk.session("pm").places == 10  # type: ignore[union-attr]
    assert kqk.session("am").places == 40  # type: ignore[union-attr]
    assert kqk.session("pm").label["zh"] == "下午"  # type: ignore[union-attr]
    assert cat.department("xx") is None
    assert str(cat.tz) == "Asia/Shanghai"


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("places: 40", "places: -1", 4, "places"),
        ("places: 40", "places: many", 4, "places"),
        ("remote_share: 0.5", "remote_share: 1.5", 11, "remote_share"),
        ("- id: nk", "- id: 'N K'", 7, "department id"),
        ("sessions: {pm: 10}", "sessions: {ev: 10}", 12, "'ev'"),
        ("- id: kqk", "- id: nk", 9, "used twice"),
        ("    name: {zh: 口腔科, en: Dental}", "    name: {zh: 口腔科}", 10, "'en'"),
        ("  name: {zh: 演示医院", "  timezone: Mars/Base\n  name: {zh: 演示医院", 2, "timezone"),
        ("  name: {zh: 演示医院", "  days_ahead: 0\n  name: {zh: 演示医院", 2, "days_ahead"),
        ("  name: {zh: 演示医院", "  colour: red\n  name: {zh: 演示医院", 2, "unknown key"),
        ("sessions: {pm: 10}", "sessions: {pm: 10", 13, "YAML"),
    ],
)
def test_bad_values_name_file_line_and_problem(old: str, new: str, line: int, words: str) -> None:
    text = MINIMAL.replace(old, new, 1)
    assert text != MINIMAL
    with pytest.raises(CatalogError) as err:
        parse_catalog(text, "hospital.yaml")
    assert str(err.value).startswith(f"hospital.yaml:{line}: "), str(err.value)
    assert words in str(err.value)


@pytest.mark.parametrize("text", ["", "[1, 2]", "hospital: {name: {zh: a, en: b}}\n"])
def test_incomplete_catalogs_are_refused(text: str) -> None:
    with pytest.raises(CatalogError, match=r"^c\.yaml:1: "):
        parse_catalog(text, "c.yaml")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "absent.yaml")
