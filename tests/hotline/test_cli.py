"""The ``hotline`` command as a user runs it: broken config refuses to start, the demo books."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from hotline.cli import main

ROOT = Path(__file__).resolve().parents[2]


def copy_config(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    return tmp_path / "config" / "hotline.yaml"


def test_broken_menu_stops_the_start_with_file_and_line(tmp_path, capsys) -> None:
    config = copy_config(tmp_path)
    menu = tmp_path / "config" / "menus" / "booking.yaml"
    menu.write_text(menu.read_text(encoding="utf-8").replace("next: ", "next: nowhere_", 1))
    assert main(["--config", str(config), "serve"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"booking\.yaml:\d+:\d+: .*nowhere_", err), err


def test_broken_catalog_and_settings_stop_the_start(tmp_path, capsys) -> None:
    config = copy_config(tmp_path)
    (tmp_path / "config" / "hospital.yaml").write_text("hospital: [unclosed\n")
    assert main(["--config", str(config), "serve"]) == 2
    assert "hospital.yaml:" in capsys.readouterr().err
    config.write_text("http:\n  port: eighty\n")
    assert main(["--config", str(config), "serve"]) == 2
    assert "http port must be an integer" in capsys.readouterr().err


def test_menus_check_passes_shipped_and_fails_broken(tmp_path, capsys) -> None:
    assert main(["menus", "check", str(ROOT / "config/menus/booking.yaml")]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("menu: x\nlanguages: [zh]\nstart: a\nnodes:\n  a: {type: end, text: {zh: hi}\n")
    assert main(["menus", "check", str(bad)]) == 1
    assert "bad.yaml:" in capsys.readouterr().out


def test_demo_once_books_by_ussd_and_the_sms_carries_the_code() -> None:
    """README's first command, minus the install: a real process with its own Redis and SMSC."""
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "demo", "--once", "--http-port", "0",
         "--fastagi-port", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    codes = re.findall(r"END [^\n]*\n?(\d{10})", done.stdout)
    assert codes, done.stdout
    sms = [line for line in done.stdout.splitlines() if line.startswith("[SMSC]")]
    assert len(sms) == 1 and codes[0] in sms[0]
    assert "13800138000" not in done.stdout  # the phone number is masked in the output


def test_demo_once_over_cmpp_sends_the_code_to_the_loopback_ismg() -> None:
    """``hotline demo --once --cmpp``: the same tour with the SMS over CMPP 2.0."""
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "demo", "--once", "--cmpp", "--http-port", "0",
         "--fastagi-port", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    codes = re.findall(r"END [^\n]*\n?(\d{10})", done.stdout)
    sms = [line for line in done.stdout.splitlines() if line.startswith("[ISMG]")]
    assert codes and len(sms) == 1 and codes[0] in sms[0], done.stdout
    assert "[SMSC]" not in done.stdout
