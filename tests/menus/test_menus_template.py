"""Templates look names up in session vars only and split out digit strings for voice."""

from __future__ import annotations

import pytest

from menus.errors import MenuError
from menus.template import Field, parse, render_parts, render_str, render_value
from menus.types import Say, SayDigits, Slot


def test_fields_filters_and_escapes_parse() -> None:
    tpl = parse("{{x}} {a.b} {digits:code} {last4:id}")
    assert tpl.segments == (
        "{x} ",
        Field(("a", "b")),
        " ",
        Field(("code",), "digits"),
        " ",
        Field(("id",), "last4"),
    )


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("{a", "unclosed"),
        ("a}", "unmatched"),
        ("{a[0]}", "bad field"),
        ("{a.__class__()}", "bad field"),
        ("{shout:a}", "unknown filter 'shout'"),
        ("{}", "bad field"),
    ],
)
def test_bad_templates_are_rejected(source: str, why: str) -> None:
    with pytest.raises(MenuError, match=why):
        parse(source)


def test_lookup_walks_mappings_only_and_missing_is_empty() -> None:
    scope = {"dept": {"name": "内科"}, "n": 3, "s": "abc"}
    assert render_str(parse("{dept.name}|{dept.nope}|{ghost}|{n}"), scope) == "内科|||3"
    # no attribute access: a str's methods and a dict's class are not reachable
    assert render_str(parse("{s.upper}{dept.__class__}{dept.items}"), scope) == ""


def test_digits_become_their_own_part_with_prompt_on_the_first_say() -> None:
    tpl = parse("取号码：{digits:b.tcode}，请牢记。")
    parts = render_parts(tpl, {"b": {"tcode": "0012345678"}}, prompt="done")
    assert parts == (Say("取号码：", "done"), SayDigits("0012345678"), Say("，请牢记。"))
    assert render_str(tpl, {"b": {"tcode": "0012345678"}}) == "取号码：0012345678，请牢记。"
    assert render_parts(tpl, {}) == (Say("取号码："), Say("，请牢记。"))


def test_last4_masks_and_render_value_keeps_types() -> None:
    assert render_str(parse("尾号{last4:id}"), {"id": "11010519491231002X"}) == "尾号002X"
    assert render_value(parse("{items}"), {"items": [1, 2]}) == [1, 2]
    assert render_value(parse("{missing}"), {}) == ""
    assert render_value(parse("x{n}"), {"n": 1}) == "x1"


@pytest.mark.parametrize("source", [
    "{n}. {name}", "请确认：{dept} {day}，尾号{last4:id}。", "{missing}", "",
    "代码 {digits:code} 已发送 {n}", "{digits:code}",
])
def test_text_only_rendering_says_the_same_without_slots(source: str) -> None:
    """``slots=False`` (a channel that only shows text) renders the same parts, with the
    slots left empty; with them, a sentence with values keeps its values apart."""
    scope = {"n": "1", "name": "内科", "dept": "外科", "day": "12月6日", "id": "11010519491231002X",
             "code": "4381090292"}
    tpl = parse(source)
    full = render_parts(tpl, scope, "p1")
    bare = render_parts(tpl, scope, "p1", slots=False)
    assert bare == full  # equality is the text, the prompt and the digits
    assert all(not p.slots for p in bare if isinstance(p, Say))
    if source == "{n}. {name}":
        assert full[0].slots == (Slot("1"), ". ", Slot("内科"))
