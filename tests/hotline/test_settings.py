from pathlib import Path

import pytest

from hotline.settings import SettingsError, load_settings


def test_defaults_without_a_file() -> None:
    s = load_settings(None)
    assert s.http_port == 8080 and s.fastagi_port == 4573
    assert s.redis_url is None and s.smpp is None


def test_a_file_changes_only_what_it_names(tmp_path: Path) -> None:
    f = tmp_path / "hotline.yaml"
    f.write_text("http:\n  port: 9090\nsms:\n  smpp:\n    host: 10.0.0.5\n")
    s = load_settings(f)
    assert s.http_port == 9090
    assert s.http_interface == "127.0.0.1"  # untouched default
    assert s.smpp is not None and s.smpp["host"] == "10.0.0.5" and s.smpp["port"] == 2775
    assert s.hospital_file == tmp_path / "hospital.yaml"  # relative to the file


def test_shipped_config_loads() -> None:
    s = load_settings(Path("config/hotline.yaml"))
    assert s.menu_files[0].name == "booking.yaml"
    assert s.hospital_file.exists()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("http: [1, 2\n", "hotline.yaml:2:1: invalid YAML"),
        ("htp:\n  port: 1\n", "unknown setting(s): htp"),
        ("http:\n  port: 99999\n", "http port must be an integer"),
        ("- a\n", "must be a mapping"),
        ("menus: []\n", "menus must be a non-empty list"),
    ],
)
def test_bad_settings_name_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "hotline.yaml"
    f.write_text(text)
    with pytest.raises(SettingsError) as err:
        load_settings(f)
    assert needle in str(err.value)
