"""Loading and validating menu files: every error names file:line:col."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from menus_support import BOOKING_YAML

from menus.definition import (
    ActNode,
    AskNode,
    MenuDefinition,
    MenuError,
    MenuSource,
    load_menu,
    load_menu_text,
)

BAD = sorted((Path(__file__).parent / "bad").glob("*.yaml"))


def _expected(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), path
    return f"{path}:{first.removeprefix('# expect: ')}"


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_menu_reports_file_line_col(path: Path) -> None:
    with pytest.raises(MenuError) as caught:
        load_menu(path)
    assert str(caught.value) == _expected(path)


def test_every_required_error_class_has_a_fixture() -> None:
    stems = {p.stem for p in BAD}
    required = {
        "yaml_syntax", "unknown_type", "missing_start", "next_missing", "choice_missing",
        "missing_translation", "duplicate_choice", "ask_without_input", "unknown_validator",
    }  # fmt: skip
    assert required <= stems


def test_menu_error_is_a_value_error() -> None:
    assert issubclass(MenuError, ValueError)


def test_missing_file_is_a_menu_error(tmp_path: Path) -> None:
    with pytest.raises(MenuError, match=r"nope\.yaml: cannot read menu"):
        load_menu(tmp_path / "nope.yaml")


def test_shipped_booking_menu_loads(booking_menu: MenuDefinition) -> None:
    assert booking_menu.name == "booking"
    assert booking_menu.languages == ("zh", "en")
    assert booking_menu.default_lang == "zh"
    common = BOOKING_YAML.parent / "parts" / "common.yaml"
    digest = hashlib.sha256(BOOKING_YAML.read_bytes() + b"\0" + common.read_bytes()).hexdigest()
    assert digest.startswith(booking_menu.version) and len(booking_menu.version) == 12
    assert booking_menu.files == (str(BOOKING_YAML), str(common))
    ask_id = booking_menu.nodes["ask_id"]
    assert isinstance(ask_id, AskNode) and ask_id.digits is not None
    assert (ask_id.digits.min, ask_id.digits.max, ask_id.digits.allow_star) == (18, 18, True)
    assert ask_id.digits.validator == "resident_id"
    book = booking_menu.nodes["book"]
    assert isinstance(book, ActNode)
    assert set(book.args) == {"dept", "day", "session", "id_number", "hospital"}
    assert dict(book.on_error) == {
        "full": "full",
        "duplicate": "duplicate",
        "invalid_id": "bad_id",
        "blacklisted": "blacklisted",
        "default": "failed",
    }


def test_version_follows_the_bytes() -> None:
    text = BOOKING_YAML.read_text(encoding="utf-8")
    here = BOOKING_YAML.parent  # include paths are relative to the menu file
    one = load_menu_text(text, str(here / "a.yaml"))
    two = load_menu_text(text + "\n# a comment\n", str(here / "a.yaml"))
    assert one.version != two.version
    assert load_menu_text(text, str(here / "b.yaml")).version == one.version


MINIMAL = """\
menu: m
languages: [zh, en]
start: a
nodes:
  a: {type: end, text: {zh: "再见{msisdn}", en: "bye"}}
"""


def test_menu_source_keeps_old_versions_for_running_sessions() -> None:
    old = load_menu_text(MINIMAL, "m.yaml")
    new = load_menu_text(MINIMAL.replace("bye", "goodbye"), "m.yaml")
    source = MenuSource([old])
    source.add(new)
    assert source.get("m") is new
    assert source.get("m", old.version) is old
    assert source.get("m", "unknown") is new
    assert "m" in source and list(source) == ["m"] and len(source) == 1
    assert MenuSource({"m": old}).definitions == {"m": old}
    with pytest.raises(KeyError):
        source.get("other")


def test_messages_can_be_overridden_and_checked() -> None:
    text = MINIMAL + "messages:\n  goodbye: {zh: 拜拜, en: ciao}\n"
    menu = load_menu_text(text, "m.yaml")
    assert menu.message("goodbye", "en").source == "ciao"
    with pytest.raises(MenuError, match=r"m\.yaml:7:3: unknown message 'farewell'"):
        load_menu_text(MINIMAL + "messages:\n  farewell: {zh: 拜拜, en: ciao}\n", "m.yaml")


def test_a_language_without_built_in_messages_must_supply_them() -> None:
    text = MINIMAL.replace("[zh, en]", "[zh, en, ug]").replace('en: "bye"', 'en: "bye", ug: "xosh"')
    with pytest.raises(MenuError, match=r"messages\.invalid: missing translation 'ug'"):
        load_menu_text(text, "m.yaml")


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("digits: {min: 0, max: 3}", "digits: need 1 <= min <= max <= 32"),
        ("digits: {min: 3, max: 2}", "digits: need 1 <= min <= max <= 32"),
        ("digits: {length: 3}", "digits: unknown key 'length'"),
        ("list: nothing", "list 'nothing' is never saved by any node"),
        ("digits: {min: 4}\n    noinput: 0", "noinput must be at least 1"),
        ("digits: {min: 4}\n    on_max: nowhere", "on_max 'nowhere' does not exist"),
        ("digits: {min: 4, allow_star: maybe}", "digits.allow_star must be true or false"),
    ],
)
def test_ask_checks(snippet: str, message: str) -> None:
    text = f"""\
menu: m
languages: [zh, en]
start: a
nodes:
  a:
    type: ask
    text: {{zh: 输入, en: enter}}
    {snippet}
    save: x
    next: b
  b: {{type: end, text: {{zh: 再见, en: bye}}}}
"""
    with pytest.raises(
        MenuError, match=r"^m\.yaml:\d+:\d+: node 'a': " + message.replace(".", r"\.")
    ):
        load_menu_text(text, "m.yaml")


def test_builtin_ends_are_valid_targets() -> None:
    text = MINIMAL.replace("a: {type: end", "a: {type: say, next: $goodbye")
    menu = load_menu_text(text, "m.yaml")
    assert menu.nodes["a"].next == "$goodbye"  # type: ignore[union-attr]


def test_docs_show_the_shipped_menu_verbatim() -> None:
    doc = (BOOKING_YAML.parents[2] / "docs" / "booking-menu.md").read_text(encoding="utf-8")
    assert "```yaml\n" + BOOKING_YAML.read_text(encoding="utf-8") + "```" in doc
    common = BOOKING_YAML.parent / "parts" / "common.yaml"
    assert "```yaml\n" + common.read_text(encoding="utf-8") + "```" in doc
