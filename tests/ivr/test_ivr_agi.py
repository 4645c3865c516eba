"""Pure FastAGI parsers and the simulator's rules, as tables."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.agi import AgiError, AgiReply, Quoted, format_command, parse_env, parse_reply, quote
from ivr.call import prompt_name
from ivr.simulator_rules import env_lines, find_command, tokenize
from menus.types import Say

ASTERISK_ORDER = [
    "agi_network", "agi_network_script", "agi_request", "agi_channel", "agi_language",
    "agi_type", "agi_uniqueid", "agi_version", "agi_callerid", "agi_calleridname",
    "agi_callingpres", "agi_callingani2", "agi_callington", "agi_callingtns", "agi_dnid",
    "agi_rdnis", "agi_context", "agi_extension", "agi_priority", "agi_enhanced",
    "agi_accountcode", "agi_threadid",
]  # fmt: skip


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("200 result=0", AgiReply(200, "0")),
        ("200 result=1", AgiReply(200, "1")),
        ("200 result=0 endpos=16000", AgiReply(200, "0", endpos=16000)),
        ("200 result=49 endpos=8000", AgiReply(200, "49", endpos=8000)),
        ("200 result=-1 endpos=0", AgiReply(200, "-1", endpos=0)),
        ("200 result=-1", AgiReply(200, "-1")),
        ("200 result=123", AgiReply(200, "123")),
        ("200 result=12 (timeout)", AgiReply(200, "12", "timeout")),
        ("200 result= (timeout)", AgiReply(200, "", "timeout")),
        ("200 result=", AgiReply(200, "")),
        ("200 result=11010519491231002*", AgiReply(200, "11010519491231002*")),
        ("200 result=1 (some value)", AgiReply(200, "1", "some value")),
        ("200 result=-1 (hangup) endpos=25280", AgiReply(200, "-1", "hangup", 25280)),
        ("510 Invalid or unknown command", AgiReply(510, text="Invalid or unknown command")),
        (
            "511 Command Not Permitted on a dead channel or intercept routine",
            AgiReply(511, text="Command Not Permitted on a dead channel or intercept routine"),
        ),
        (
            "520 Invalid command syntax.  Proper usage not available.",
            AgiReply(520, text="Invalid command syntax.  Proper usage not available."),
        ),
    ],
)
def test_parse_reply(line: str, reply: AgiReply) -> None:
    assert parse_reply(line) == reply


@pytest.mark.parametrize(
    "line",
    ["", "HANGUP", "200", "200 result=abc", "200 result=0 endpos=x", "200 result=0\r",
     "300 result=0", "hello", "520-Invalid command syntax.  Proper usage follows:"],
)  # fmt: skip
def test_parse_reply_rejects(line: str) -> None:
    with pytest.raises(AgiError):
        parse_reply(line)


@pytest.mark.parametrize(
    ("reply", "key", "failed", "timed_out"),
    [
        (AgiReply(200, "49", endpos=1), "1", False, False),
        (AgiReply(200, "42"), "*", False, False),
        (AgiReply(200, "0", endpos=1), None, False, False),
        (AgiReply(200, "-1"), None, True, False),
        (AgiReply(200, "", "timeout"), None, False, True),
        (AgiReply(510), None, False, False),
    ],
)
def test_reply_views(reply: AgiReply, key: str | None, failed: bool, timed_out: bool) -> None:
    assert (reply.key, reply.failed, reply.timed_out) == (key, failed, timed_out)


def test_simulator_env_block_is_in_asterisk_order() -> None:
    lines = env_lines(script="booking", port=4573, args=("a",))
    assert lines[-1] == ""
    keys = [line.split(": ", 1)[0] for line in lines[:-1]]
    assert keys == [*ASTERISK_ORDER, "agi_arg_1"]
    assert "agi_accountcode: " in lines  # trailing space, as Asterisk writes it


def test_parse_env_from_asterisk_block() -> None:
    env = parse_env(env_lines(script="booking?lang=en&x=1", args=("en",))[:-1])
    assert env.script == "booking"
    assert env.params == {"lang": "en", "x": "1"}
    assert env.callerid == "13800138000"
    assert env.vars["agi_accountcode"] == ""
    assert env.args == ["en"]


@pytest.mark.parametrize(("raw", "expected"), [("unknown", None), ("", None), ("1001", "1001")])
def test_parse_env_caller_id(raw: str, expected: str | None) -> None:
    env = parse_env(["AGI_Network: yes", f"agi_callerid: {raw}", "agi_network_script: m"])
    assert env.callerid == expected
    assert "agi_network" in env.vars  # keys are lower-cased


@pytest.mark.parametrize("lines", [[], ["no separator"], ["x: not agi"], ["agi_a: 1", "junk"]])
def test_parse_env_rejects(lines: list[str]) -> None:
    with pytest.raises(AgiError):
        parse_env(lines)


@pytest.mark.parametrize(
    ("line", "argv"),
    [
        (
            'STREAM FILE hotline/zh/x "0123456789*"',
            ["STREAM", "FILE", "hotline/zh/x", "0123456789*"],
        ),
        ('GET DATA x "" 5', ["GET", "DATA", "x", "", "5"]),
        ('VERBOSE "a \\"b\\" c" 1', ["VERBOSE", 'a "b" c', "1"]),
        ("NOOP\ta  b", ["NOOP", "a", "b"]),
        ("ANSWER\r", ["ANSWER\r"]),  # a CR stays in the last word, as in Asterisk
        ("SET VARIABLE x it's", ["SET", "VARIABLE", "x", "it's"]),
    ],
)
def test_tokenize_like_asterisk(line: str, argv: list[str]) -> None:
    assert tokenize(line) == argv


@pytest.mark.parametrize(
    ("argv", "name"),
    [(["stream", "FILE", "x", ""], "stream file"), (["ANSWER\r"], None), (["GET", "VAR"], None)],
)
def test_find_command(argv: list[str], name: str | None) -> None:
    assert find_command(argv) == name


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=12)))
def test_quote_round_trips_through_asterisk_tokenizer(words: list[str]) -> None:
    assert tokenize(format_command("NOOP", *words)) == ["NOOP", *words]


def test_quote_forms() -> None:
    assert quote("abc") == "abc"
    assert quote("") == '""'
    assert quote(Quoted("123")) == '"123"'
    assert quote('a "b"') == '"a \\"b\\""'
    with pytest.raises(ValueError):
        quote("a\nb")


def test_prompt_names() -> None:
    assert prompt_name(Say("x", prompt="hotline/welcome"), "zh") == "hotline/welcome"
    name = prompt_name(Say("预约请按1"), "zh")
    assert name == prompt_name(Say("预约请按1"), "zh")
    assert name.startswith("hotline/zh/") and len(name) == len("hotline/zh/") + 12
    assert prompt_name(Say("预约请按1"), "en") != name


def test_errors_do_not_carry_id_or_phone_numbers() -> None:
    with pytest.raises(AgiError) as err:
        parse_reply("200 result=110105194912310021 junk")
    assert "110105194912310021" not in str(err.value) and "0021" in str(err.value)


def test_bargein_flag_survives_the_session_round_trip() -> None:
    from menus.types import Say, Session

    session = Session(menu="m", version="v", node="n", pending=(Say("告知", bargein=False),))
    assert Session.from_dict(session.to_dict()).pending == (Say("告知", None, False),)
    assert (
        Session.from_dict(Session(menu="m", version="v", node="n", pending=(Say("x"),)).to_dict())
        .pending[0]
        .bargein
    )


def test_parse_reply_remembers_key_replies_but_never_caller_data() -> None:
    from ivr import agi_wire

    assert parse_reply("200 result=0 endpos=16000") is parse_reply("200 result=0 endpos=16000")
    assert parse_reply("200 result=1 (OK,3)") == AgiReply(200, "1", "OK,3")
    for line in ("200 result=1 (OK,110105194912310021)", "200 result=13800138000"):
        first = parse_reply(line)
        assert parse_reply(line) == first and line not in agi_wire._SEEN
    with pytest.raises(AgiError):
        parse_reply("200 result=zz")
    with pytest.raises(AgiError):
        parse_reply("200 result=zz")  # a rejected line is rejected every time
