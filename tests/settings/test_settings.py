from pathlib import Path

import pytest

from settings.reference import reference
from settings.schema import (
    DEFAULTS,
    Schema,
    SettingsError,
    load_settings,
    masked,
    path_keys,
)

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_without_a_file() -> None:
    s = load_settings(None)
    assert s.http_port == 8080 and s.fastagi_port == 4573
    assert s.redis_url is None and s.smpp is None


def test_shipped_defaults_are_found_from_any_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(None)
    assert s.catalog_path.is_dir() and s.catalog_path.name == "hospitals"
    assert (s.catalog_path / "platform.yaml").is_file()  # the demo platform ships whole
    assert s.sms_templates.is_file() and s.sms_templates.name == "sms.yaml"
    assert [m.name for m in s.menu_files] == ["booking.yaml"] and s.menu_files[0].is_file()
    assert (s.menu_files[0].parent / "parts" / "common.yaml").is_file()  # the menu's parts
    assert s.data_dir == tmp_path / "var"  # working data: never inside the package
    assert Path(s.raw["ivr"]["prompts"]["dir"]) == tmp_path / "prompts" / "sounds"


def test_a_file_changes_only_what_it_names(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    f = tmp_path / "etc" / "hotline.yaml"
    f.parent.mkdir()
    f.write_text("http:\n  port: 9090\nsms:\n  smpp:\n    host: 10.0.0.5\n"
                 "menus: [my/menu.yaml]\ndata_dir: ../data\n")  # fmt: skip
    s = load_settings(f)
    assert s.http_port == 9090
    assert s.http_interface == "127.0.0.1"  # untouched default
    assert s.smpp is not None and s.smpp["host"] == "10.0.0.5" and s.smpp["port"] == 2775
    assert s.menu_files == [tmp_path / "etc" / "my" / "menu.yaml"]  # written: next to the file
    assert s.data_dir == tmp_path / "data"
    shipped = load_settings(None)
    assert s.catalog_path == shipped.catalog_path != tmp_path / "etc" / "hospital.yaml"
    assert s.sms_templates == shipped.sms_templates


def test_shipped_config_loads() -> None:
    s = load_settings(ROOT / "config/hotline.yaml")
    assert s.menu_files == [ROOT / "config/menus/booking.yaml"]
    assert s.catalog_path == ROOT / "config/hospitals"
    assert s.data_dir == ROOT / "var"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("http: [1, 2\n", "hotline.yaml:2:1: invalid YAML"),
        ("htp:\n  port: 1\n", "hotline.yaml:1:1: unknown setting 'htp' (did you mean 'http'?)"),
        ("http:\n  port: 1\nsms:\n  smpp:\n    sytem_id: x\n",
         "hotline.yaml:5:5: unknown setting 'sms.smpp.sytem_id' (did you mean "
         "'sms.smpp.system_id'?)"),
        ("colour: blue\n", "hotline.yaml:1:1: unknown setting 'colour'\n"),
        ("http:\n  port: 99999\n",
         "hotline.yaml:2:9: http.port: Input should be less than or equal to 65535, got 99999"),
        ("http:\n  port: '8080'\n",
         "hotline.yaml:2:9: http.port: Input should be a valid integer, got '8080'"),
        ("ussd:\n  node_cache: 1\n", "hotline.yaml:2:15: ussd.node_cache: Input should be a valid "
                                     "boolean, got 1"),
        ("sms:\n  receipt_ids: hex\n", "hotline.yaml:2:16: sms.receipt_ids: Input should be "),
        ("ussd:\n  gateways: {hubtel: {limit: {}}}\n",
         "hotline.yaml:2:23: unknown setting 'ussd.gateways.hubtel.limit' (did you mean "
         "'ussd.gateways.hubtel.limits'?)"),
        ("redis:\n  sentinel: {addresses: [a:1]}\n", "redis.sentinel.service: required"),
        ("- a\n", "must be a mapping"),
        ("menus: []\n", "hotline.yaml:1:8: menus: List should have at least 1 item"),
    ],
)
def test_bad_settings_name_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "hotline.yaml"
    f.write_text(text)
    with pytest.raises(SettingsError) as err:
        load_settings(f)
    assert needle in str(err.value) + "\n"


def test_every_problem_is_reported_in_file_order(tmp_path: Path) -> None:
    f = tmp_path / "hotline.yaml"
    f.write_text("node: {workers: 0}\nhttp:\n  prot: 1\nsms: {window: 500}\n")
    with pytest.raises(SettingsError) as err:
        load_settings(f)
    lines = str(err.value).splitlines()
    assert [line.split(": ")[0] for line in lines] == [
        f"{f}:1:17", f"{f}:3:3", f"{f}:4:15"]
    assert "node.workers: must be a whole number" in lines[0]


def test_overrides_are_checked_too() -> None:
    with pytest.raises(SettingsError, match=r"^command line: http\.port: Input should be a valid "):
        load_settings(None, {"http": {"port": "x"}})


def test_every_key_has_a_description_and_the_reference_is_in_sync() -> None:
    def walk(model, prefix=""):
        for name, field in model.model_fields.items():
            assert field.description, f"{prefix}{name} has no description"
            inner = field.annotation
            if isinstance(inner, type) and hasattr(inner, "model_fields"):
                walk(inner, f"{prefix}{name}.")

    walk(Schema)
    assert set(DEFAULTS) == set(Schema.model_fields)
    assert {".".join(k) for k, _ in path_keys()} == {
        "data_dir", "ivr.prompts.dir", "ivr.prompts.recorded", "ivr.live_speech.cache_dir",
        "sms.templates", "menus",
        "hospital", "catalog"}
    doc = (ROOT / "docs/settings.md").read_text(encoding="utf-8")
    assert doc == reference(), "docs/settings.md is stale: hotline config reference > it"


def test_secrets_are_masked() -> None:
    s = load_settings(None, {
        "redis": {"url": "redis://:pa55@db.example:6379/0"},
        "sms": {"smpp": {"host": "smsc", "password": "bindpw"}},
        "payments": {"secret": "hmac"},
        "ussd": {"smpp": {"host": "u", "password": "ussdpw"}},
        "kiosk": {"secrets": {"lobby-1": "kioskpw"}},
        "admin": {"token": "tok", "hospital_tokens": {"sz-renmin": "hosptok"}},
    })
    shown = masked(s.raw)
    text = repr(shown)
    assert shown["kiosk"]["secrets"] == {"lobby-1": "***"}
    assert shown["admin"]["hospital_tokens"] == {"sz-renmin": "***"}
    for secret in ("pa55", "bindpw", "tok'", "hmac", "ussdpw", "kioskpw", "hosptok"):
        assert secret not in text
    assert shown["redis"]["url"] == "redis://:***@db.example:6379/0"
    assert shown["sms"]["smpp"]["host"] == "smsc" and shown["sms"]["smpp"]["password"] == "***"
    assert shown["sms"]["smpp"]["system_type"] == ""  # empty: nothing to hide, shown as is


def test_the_catalog_is_a_folder_or_a_file_under_either_name(tmp_path: Path) -> None:
    """``catalog`` names the hospitals' folder; ``hospital`` (the older key) still names one
    hospital's file, and then wins over the default folder; both at once is refused."""
    f = tmp_path / "hotline.yaml"
    f.write_text("hospital: my-hospital.yaml\n")
    assert load_settings(f).catalog_path == tmp_path / "my-hospital.yaml"
    f.write_text("catalog: hospitals\n")
    assert load_settings(f).catalog_path == tmp_path / "hospitals"
    assert load_settings(f).raw["hospital"] == str(tmp_path / "hospitals")  # older readers
    f.write_text("catalog: hospitals\nhospital: my-hospital.yaml\n")
    with pytest.raises(SettingsError, match="set only one"):
        load_settings(f)
    f.write_text("catalog: hospitals\n")  # an option (tools, benchmarks) overrides either name
    assert load_settings(f, {"hospital": "/x/one.yaml"}).catalog_path == Path("/x/one.yaml")
    f.write_text("hospital: my-hospital.yaml\n")
    assert load_settings(f, {"catalog": "/x/all"}).catalog_path == Path("/x/all")


def test_scopes_and_hospital_tokens_are_checked(tmp_path: Path) -> None:
    s = load_settings(None)
    assert s.raw["booking"]["person_limits_scope"] == "platform"
    assert s.raw["booking"]["blacklist_scope"] == "platform"
    f = tmp_path / "hotline.yaml"
    f.write_text("booking:\n  blacklist_scope: city\n")
    with pytest.raises(SettingsError, match=r"hotline\.yaml:2:20: booking\.blacklist_scope"):
        load_settings(f)
    f.write_text("admin:\n  token: same\n  hospital_tokens: {a: same}\n")
    with pytest.raises(SettingsError, match="every token must be distinct"):
        load_settings(f)
    f.write_text("admin:\n  hospital_tokens: {a: one, b: one}\n")
    with pytest.raises(SettingsError, match="every token must be distinct"):
        load_settings(f)
