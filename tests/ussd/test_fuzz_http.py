"""Hypothesis against the real HTTP resource: every field empty, huge, not UTF-8, ``*`` storms,
unknown or reused session ids, fields given twice. Never a 5xx; a 200 is always CON/END; an
immediately repeated request never steps the menu; the menu is stepped exactly once per "step"."""

from __future__ import annotations

import http.client
from typing import Any
from urllib.parse import quote_from_bytes, urlsplit

import pytest_twisted
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.threads import deferToThread
from ussd_harness import CountingDialogue, Server, start_server

from ussd.gateway import HopEvent

PHONES = [b"+8613800138000", b"13900139000", b"008613700137000"]
ids = st.one_of(
    st.sampled_from([b"s1", b"s2", b"ATUid_3"]),
    st.just(b""), st.binary(max_size=12), st.just(b"x" * 5000), st.just(b"\xff\xfe\xfd"),
)
phones = st.one_of(
    st.sampled_from(PHONES), st.just(b""), st.just(b"123"), st.binary(max_size=16),
    st.just(b"9" * 300), st.just(b"+86\xff138"),
)
inputs = st.one_of(
    st.sampled_from(["1", "2", "98", "00", "11010519491231002*", "boom"]),
    st.text(alphabet="0123456789*#", max_size=25),
    st.builds(lambda n: "*" * n, st.integers(1, 400)),
)
texts = st.one_of(
    st.just(b""), st.binary(max_size=20), st.just(b"\xc3\x28"), st.just(b"*" * 2000),
    st.just(b"1*" * 600),
)


@st.composite
def requests(draw: Any) -> list[tuple[bytes, bytes, bytes, bool]]:
    """(sessionId, phoneNumber, value, field twice) per hop; the value extends the session's
    cumulative text unless it is a raw text (starting with '*' or not UTF-8, or empty)."""
    good_ids, good_phones = st.sampled_from([b"s1", b"s2"]), st.sampled_from(PHONES[:2])
    out = [(draw(good_ids), draw(good_phones), b"", False)]  # every example starts a dialogue
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.integers(0, 2)):  # mostly well-formed hops, so the menu gets deep
            hop = (draw(good_ids), draw(good_phones), draw(inputs).encode(), False)
        else:
            hop = (draw(ids), draw(phones), draw(st.one_of(texts, inputs.map(str.encode))),
                   draw(st.integers(0, 5)) == 0)
        out.append(hop)
        if draw(st.integers(0, 3)) == 0:
            out.append(out[-1])  # a gateway retry of the same request
    return out


def form(fields: list[tuple[bytes, bytes]]) -> bytes:
    return b"&".join(quote_from_bytes(k).encode() + b"=" + quote_from_bytes(v).encode()
                     for k, v in fields)


def post(url: str, body: bytes) -> tuple[int, bytes]:
    """A blocking POST (the fuzz runs in a worker thread while the reactor serves)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("POST", parts.path, body,
                     {"Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest_twisted.ensureDeferred
async def test_fuzzed_hops_never_fail_and_never_step_twice(redis) -> None:
    events: list[HopEvent] = []
    server = await start_server(CountingDialogue(), redis, on_hop=events.append)
    try:
        await deferToThread(fuzz, server, events)
        # the fuzz reached the interesting paths, not only the 400s
        assert {"new", "step", "retry"} <= {e.outcome for e in events}
    finally:
        await server.port.stopListening()


def fuzz(server: Server, events: list[HopEvent]) -> None:
    @settings(max_examples=60, deadline=None, database=None)
    @given(reqs=requests())
    def check(reqs: list[tuple[bytes, bytes, bytes, bool]]) -> None:
        run_requests(server, events, reqs)

    check()


def run_requests(
    server: Server, events: list[HopEvent], reqs: list[tuple[bytes, bytes, bytes, bool]]
) -> None:
    dialogue: CountingDialogue = server.dialogue
    texts: dict[bytes, bytes] = {}
    previous: tuple[Any, ...] | None = None
    previous_code, previous_body, failed = 0, b"", False
    last_hop: object = None
    for hop in reqs:
        sid, phone, value, twice = hop
        if hop is last_hop:  # a gateway retry: the very same request again
            text = texts[sid]
        else:  # extend the session's cumulative text AT-style, unless it is a raw text
            text = value if value.startswith((b"*", b"\xc3")) or not value else (
                texts.get(sid, b"") + b"*" + value if texts.get(sid) else value)
        texts[sid], last_hop = text, hop
        fields = [(b"sessionId", sid), (b"phoneNumber", phone), (b"text", text),
                  (b"serviceCode", b"*125#")]
        if twice:
            fields.append((b"text", b"1"))
        steps_before, events_before = len(dialogue.resumes) + dialogue.begins, len(events)
        code, body = post(server.url, form(fields))
        assert code in (200, 400, 409), (code, body)
        if code == 200:
            assert body.startswith((b"CON ", b"END ")), body
        new_events = events[events_before:]
        assert len(new_events) <= 1
        stepped = len(dialogue.resumes) + dialogue.begins - steps_before
        kinds = [e.outcome for e in new_events]
        assert stepped == sum(k in ("step", "new") for k in kinds) or "error" in kinds, kinds
        request = (sid, phone, text, twice)
        # (a hop that failed inside the engine stored nothing: trying it again is right)
        if request == previous and code == 200 and previous_code == 200 and not failed:
            assert stepped == 0, "a repeated hop stepped the menu again"
            assert body == previous_body or previous_body.startswith(b"END ")
        previous, previous_code, previous_body = request, code, body
        failed = "error" in kinds
