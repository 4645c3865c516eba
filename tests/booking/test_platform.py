"""The platform of hospitals: a folder of hospital files, or today's single file."""

from __future__ import annotations

from pathlib import Path

import pytest
from booking_support import CATALOG_YAML, hospital_yaml

from booking.catalog import CatalogError, Platform, load_platform
from booking.policy import Limits


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_a_single_file_is_a_platform_of_one_hospital(tmp_path: Path) -> None:
    path = tmp_path / "hospital.yaml"
    path.write_text(CATALOG_YAML.replace("  name:", "  fee: 700\n  name:", 1), encoding="utf-8")
    platform = load_platform(path)
    assert platform.single and len(platform.hospitals) == 1
    only = platform.hospitals[0]
    assert (only.id, only.code) == ("main", "1")
    assert only.short == only.name and only.kiosks == () and only.sms_signature == ""
    assert platform.hospital("") is only and platform.hospital("main") is only
    assert platform.by_code("1") is only and platform.hospital("other") is None
    assert platform.limits == only.policy.limits


def test_a_single_file_may_name_its_id_and_code(tmp_path: Path) -> None:
    path = tmp_path / "hospital.yaml"
    path.write_text(CATALOG_YAML.replace("hospital:\n", "hospital:\n  id: szyy\n  code: 12\n"),
                    encoding="utf-8")  # fmt: skip
    only = load_platform(path).hospitals[0]
    assert (only.id, only.code) == ("szyy", "12")


def test_a_folder_of_hospitals(tmp_path: Path) -> None:
    folder = write(tmp_path / "hospitals", {
        "b.yaml": hospital_yaml("b", "22", "kiosks: [k-1, k-2]\nshort: {zh: 乙, en: B}"),
        "a.yaml": hospital_yaml("a", "7", tail="limits: {per_day: 9}\n"),
        "platform.yaml": "name: {zh: 一二五八零, en: City line}\n"
                         "limits: {per_day: 1, per_7_days: 2}\n",
    })  # fmt: skip
    platform = load_platform(folder)
    assert [h.id for h in platform.hospitals] == ["a", "b"]  # file-name order
    assert not platform.single and platform.hospital("") is None
    assert platform.limits == Limits(per_day=1, per_7_days=2)
    assert platform.name == {"zh": "一二五八零", "en": "City line"}
    a, b = platform.hospitals
    assert platform.by_code("22") is b and b.kiosks == ("k-1", "k-2")
    assert b.short == {"zh": "乙", "en": "B"} and b.district["en"] == "Futian"
    assert b.sms_signature == "【b】"
    assert b.policy.limits == platform.limits  # no limits of its own: the platform's
    assert a.policy.limits.per_day == 9


def test_the_file_name_is_the_id_when_none_is_named(tmp_path: Path) -> None:
    text = hospital_yaml("x", "3").replace("  id: x\n", "")
    assert load_platform(write(tmp_path / "h", {"east-1.yaml": text})).hospitals[0].id == "east-1"
    with pytest.raises(CatalogError, match=r"East\.yaml:1: hospital needs an 'id'"):
        load_platform(write(tmp_path / "g", {"East.yaml": text}))


@pytest.mark.parametrize("kind,second", [("id", ("a", "8")), ("code", ("c", "7"))])
def test_an_id_or_code_used_twice_names_both_files(
    tmp_path: Path, kind: str, second: tuple[str, str]
) -> None:
    folder = write(tmp_path / "h", {"1.yaml": hospital_yaml("a", "7"),
                                    "2.yaml": hospital_yaml(*second)})  # fmt: skip
    line = 2 if kind == "id" else 3
    with pytest.raises(CatalogError) as err:
        load_platform(folder)
    assert str(err.value) == (f"{folder / '2.yaml'}:{line}: hospital {kind} "
                              f"{'a' if kind == 'id' else '7'!r} is already used by "
                              f"{folder / '1.yaml'}:{line}")  # fmt: skip


@pytest.mark.parametrize("extra,message", [
    ("code: 12345", r"h/1\.yaml:2: hospital.code must be 1 to 4 digits"),
    ("kiosks: [a b]", r"h/1\.yaml:\d+: kiosk id 'a b'"),
    ("kiosks: k1", r"h/1\.yaml:\d+: hospital.kiosks must be a list"),
    ("district: {zh: 福田}", r"h/1\.yaml:\d+: hospital.district needs a 'en' entry"),
    ("colour: red", r"h/1\.yaml:\d+: hospital: unknown key 'colour'"),
])  # fmt: skip
def test_bad_hospital_keys_name_file_and_line(tmp_path: Path, extra: str, message: str) -> None:
    text = hospital_yaml("a", "7", extra)
    if extra.startswith(("code", "district")):  # replace, not repeat, the key
        key = extra.split(":")[0]
        text = "\n".join(ln for ln in text.splitlines()
                         if not ln.startswith(f"  {key}:")) + "\n"  # fmt: skip
        text = text.replace("hospital:\n", f"hospital:\n  {extra}\n", 1)
    with pytest.raises(CatalogError, match=message):
        load_platform(write(tmp_path / "h", {"1.yaml": text}))


def test_a_folder_file_must_name_its_code(tmp_path: Path) -> None:
    text = hospital_yaml("a", "7").replace("  code: '7'\n", "")
    with pytest.raises(CatalogError, match=r"1\.yaml:2: hospital needs a 'code'"):
        load_platform(write(tmp_path / "h", {"1.yaml": text}))


def test_empty_folder_and_bad_platform_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="holds no hospital file"):
        load_platform(write(tmp_path / "empty", {}))
    folder = write(tmp_path / "h", {"a.yaml": hospital_yaml("a", "7"),
                                    "platform.yaml": "limits: {per_dya: 1}\n"})  # fmt: skip
    with pytest.raises(CatalogError, match=r"platform\.yaml:1: limits: unknown key 'per_dya'"):
        load_platform(folder)


def test_a_platform_needs_a_hospital() -> None:
    with pytest.raises(CatalogError):
        Platform(())
