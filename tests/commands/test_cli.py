"""The ``hotline`` command as a user runs it: broken config refuses to start, the demo books."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from commands.main import main

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
    config.write_text("catalog: hospital.yaml\n")  # one hospital's file
    assert main(["--config", str(config), "serve"]) == 2
    assert "hospital.yaml:2: not valid YAML" in capsys.readouterr().err
    (tmp_path / "config" / "hospitals" / "2-ns-renmin.yaml").write_text("hospital: [unclosed\n")
    config.write_text("catalog: hospitals\n")  # one file of the folder
    assert main(["--config", str(config), "serve"]) == 2
    assert "2-ns-renmin.yaml:2: not valid YAML" in capsys.readouterr().err
    config.write_text("http:\n  port: eighty\n")
    assert main(["--config", str(config), "serve"]) == 2
    assert "hotline.yaml:2:9: http.port: Input should be a valid integer, got 'eighty'" in (
        capsys.readouterr().err)


def test_menus_check_passes_shipped_and_fails_broken(tmp_path, capsys) -> None:
    assert main(["menus", "check", str(ROOT / "config/menus/booking.yaml")]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("menu: x\nlanguages: [zh]\nstart: a\nnodes:\n  a: {type: end, text: {zh: hi}\n")
    assert main(["menus", "check", str(bad)]) == 1
    assert "bad.yaml:" in capsys.readouterr().out


def test_demo_once_books_by_ussd_and_the_sms_carries_the_code() -> None:
    """README's first command, minus the install: a real process with its own Redis and SMSC."""
    done = subprocess.run(
        [sys.executable, "-m", "commands.main", "demo", "--once", "--http-port", "0",
         "--fastagi-port", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    codes = re.findall(r"END [^\n]*\n?(\d{10})", done.stdout)
    assert codes, done.stdout
    sms = [line for line in done.stdout.splitlines() if line.startswith("[SMSC]")]
    assert len(sms) == 1 and codes[0] in sms[0]
    assert "13800138000" not in done.stdout  # the phone number is masked in the output
    # without web.public_url the demo links to its own address, and that page answers
    link = re.search(r"二维码：(http://127\.0\.0\.1:\d+/t/[A-Za-z0-9_-]{22})", sms[0])
    assert link, sms[0]
    assert f"[QR] GET {link.group(1)} → 200" in done.stdout
    assert "from 12580: 【市一医院】" in sms[0]  # the hospital's SMS signature heads the text


def _leaf_parsers(parser, path=()):
    """(command words, parser) of every subcommand, at every level."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield (*path, name), child
                yield from _leaf_parsers(child, (*path, name))


def test_every_subcommand_takes_config() -> None:
    from commands.main import build_parser

    found = list(_leaf_parsers(build_parser()))
    assert len(found) > 15
    for words, parser in found:
        assert any("--config" in a.option_strings for a in parser._actions), words


@pytest.mark.parametrize("argv", [
    ["serve", "--config", "{f}"],
    ["--config", "{f}", "serve"],
    ["demo", "--once", "--config", "{f}"],
    ["booking", "csv", "--day", "2026-01-05", "--config", "{f}"],
    ["booking", "--config", "{f}", "csv", "--day", "2026-01-05"],
    ["schedule", "load", "rows.csv", "--config", "{f}"],
    ["prompts", "build", "--config", "{f}"],
    ["simulate", "--channel", "ussd", "--config", "{f}"],
    ["config", "show", "--config", "{f}"],
])
def test_config_is_read_before_or_after_the_subcommand(tmp_path, capsys, argv) -> None:
    """A settings file with a misspelt key: every form reads it and stops on it."""
    f = tmp_path / "mine.yaml"
    f.write_text("http:\n  prot: 8080\n")
    assert main([a.replace("{f}", str(f)) for a in argv]) == 2
    assert f"{f}:2:3: unknown setting 'http.prot' (did you mean 'http.port'?)" in (
        capsys.readouterr().err)


def test_the_later_config_wins(tmp_path, capsys) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("http: {port: 18111}\n")
    bad.write_text("htp: 1\n")
    assert main(["--config", str(bad), "config", "show", "--config", str(good)]) == 0
    assert "port: 18111" in capsys.readouterr().out


def test_config_show_masks_secrets(tmp_path, capsys) -> None:
    f = tmp_path / "hotline.yaml"
    f.write_text("redis: {url: 'redis://:pa55word@db:6379/0'}\nadmin: {token: t0ken}\n"
                 "sms:\n  smpp: {host: smsc.example, password: b1nd}\n")
    assert main(["config", "show", "--config", str(f)]) == 0
    out = capsys.readouterr().out
    assert "redis://:***@db:6379/0" in out and "host: smsc.example" in out
    assert "pa55word" not in out and "t0ken" not in out and "b1nd" not in out
    assert f"catalog: {ROOT / 'config' / 'hospitals'}" in out  # a shipped default


def test_config_check_validates_what_the_settings_name(tmp_path, capsys) -> None:
    assert main(["config", "check", str(ROOT / "config/hotline.yaml")]) == 0
    assert "ok" in capsys.readouterr().out
    config = copy_config(tmp_path)
    menu = tmp_path / "config" / "menus" / "booking.yaml"
    menu.write_text(menu.read_text(encoding="utf-8").replace("next: ", "next: nowhere_", 1))
    assert main(["config", "check", str(config)]) == 1
    assert re.search(r"booking\.yaml:\d+:\d+: .*nowhere_", capsys.readouterr().err)
    config.write_text("node:\n  workers: many\n")
    assert main(["config", "check", str(config)]) == 1
    assert f"{config}:2:12: node.workers: must be a whole number" in capsys.readouterr().err


def test_demo_once_over_cmpp_sends_the_code_to_the_loopback_ismg() -> None:
    """``hotline demo --once --cmpp``: the same tour with the SMS over CMPP 2.0."""
    done = subprocess.run(
        [sys.executable, "-m", "commands.main", "demo", "--once", "--cmpp", "--http-port", "0",
         "--fastagi-port", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    codes = re.findall(r"END [^\n]*\n?(\d{10})", done.stdout)
    sms = [line for line in done.stdout.splitlines() if line.startswith("[ISMG]")]
    assert codes and len(sms) == 1 and codes[0] in sms[0], done.stdout
    assert "[SMSC]" not in done.stdout
