"""POST /ussd/hubtel: the JSON gateway over real HTTP and Redis, including a Hypothesis fuzz."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest_twisted
import treq
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.internet.threads import deferToThread
from twisted.web.resource import Resource
from ussd_harness import CountingDialogue, listen

from ussd.gateway import HopEvent
from ussd.hubtel import HubtelUssdResource
from ussd.sessions import UssdSessionStore

MOBILE = "8613800138000"


class Hubtel:
    def __init__(self, url: str, resource: HubtelUssdResource, port: Any) -> None:
        self.url, self.resource, self.port = url, resource, port

    async def post(self, **fields: Any) -> tuple[int, dict[str, Any]]:
        body = {"Type": "Response", "SessionId": "h1", "Mobile": MOBILE, "ServiceCode": "125",
                "Operator": "cmcc", "ClientState": "", **fields}
        resp = await treq.post(self.url, json=body)
        return resp.code, json.loads(await treq.text_content(resp, encoding="utf-8"))


async def start(redis: Any, dialogue: Any = None, **kw: Any) -> Hubtel:
    resource = HubtelUssdResource(dialogue or CountingDialogue(), UssdSessionStore(redis),
                                  clock=Clock(), **kw)
    root, ussd = Resource(), Resource()
    root.putChild(b"ussd", ussd)
    ussd.putChild(b"hubtel", resource)
    port = listen(root)
    return Hubtel(f"http://127.0.0.1:{port.getHost().port}/ussd/hubtel", resource, port)


@pytest_twisted.ensureDeferred
async def test_a_dialogue_in_the_json_convention(redis) -> None:
    hub = await start(redis)
    try:
        code, first = await hub.post(Type="Initiation", Message="*125#", Sequence=1)
        assert code == 200
        assert first == {"SessionId": "h1", "Type": "response", "Message": "欢迎\n1 预约挂号",
                         "Label": "欢迎", "ClientState": "", "DataType": "input",
                         "FieldType": "text"}
        code, second = await hub.post(Message="1", Sequence=2, ClientState="abc")
        assert second["Message"] == "请输入身份证号" and second["ClientState"] == "abc"
        # a retry of Sequence 2 does not step again
        assert (await hub.post(Message="1", Sequence=2, ClientState="abc")) == (200, second)
        code, last = await hub.post(Message="11010519491231002*", Sequence=3)
        assert last["Type"] == "release" and last["Message"].startswith("预约成功")
        dialogue: CountingDialogue = hub.resource.gateway.dialogue  # type: ignore[assignment]
        assert dialogue.resumes == ["1", "11010519491231002*"] and dialogue.begins == 1
    finally:
        await hub.port.stopListening()


@pytest_twisted.ensureDeferred
async def test_release_and_timeout_are_acknowledged_and_unknown_sessions_expire(redis) -> None:
    events: list[HopEvent] = []
    hub = await start(redis, on_hop=events.append)
    try:
        await hub.post(Type="Initiation", Message="*125#")
        code, body = await hub.post(Type="Timeout")
        assert code == 200 and body["Type"] == "release"
        assert events[-1].outcome == "timeout" and events[-1].msisdn == "*********8000"
        code, body = await hub.post(SessionId="never", Message="1")
        assert body["Type"] == "release" and body["Message"] == "会话已过期，请重新拨号。"
    finally:
        await hub.port.stopListening()


@pytest_twisted.ensureDeferred
async def test_bad_requests_are_400_json(redis) -> None:
    hub = await start(redis)
    try:
        for payload, why in [
            (b"{not json", "not UTF-8 JSON"),
            (b"[1]", "JSON object"),
            (json.dumps({"Type": "Dance", "SessionId": "x", "Mobile": MOBILE}).encode(), "Type"),
            (json.dumps({"Type": "Response", "Mobile": MOBILE}).encode(), "missing SessionId"),
            (json.dumps({"Type": "Response", "SessionId": "x", "Mobile": "12"}).encode(),
             "phone"),
            (json.dumps({"Type": "Response", "SessionId": "x", "Mobile": MOBILE,
                         "Sequence": "2"}).encode(), "Sequence"),
            (json.dumps({"Type": "Response", "SessionId": 5, "Mobile": MOBILE}).encode(),
             "string"),
        ]:
            resp = await treq.post(hub.url, data=payload)
            body = json.loads(await treq.text_content(resp))
            assert resp.code == 400 and why in body["error"], (payload, body)
        resp = await treq.get(hub.url)
        assert resp.code == 400
    finally:
        await hub.port.stopListening()


values = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**7), st.text(max_size=30),
                   st.just("*" * 3000), st.just("1"), st.just("98"), st.just("00"),
                   st.lists(st.integers(), max_size=2))
valid = st.fixed_dictionaries({
    "Type": st.just("Response"), "SessionId": st.sampled_from(["h1", "h2"]),
    "Mobile": st.sampled_from([MOBILE, "13900139000"]),
    "Message": st.sampled_from(["1", "98", "00", "11010519491231002*", "9", "boom"]),
    "Sequence": st.integers(1, 6),
}).map(lambda d: json.dumps(d).encode())
start_hop = st.fixed_dictionaries({
    "Type": st.just("Initiation"), "SessionId": st.sampled_from(["h1", "h2"]),
    "Mobile": st.sampled_from([MOBILE, "13900139000"]), "Message": st.just("*125#"),
    "Sequence": st.just(1),
}).map(lambda d: json.dumps(d).encode())
bodies = st.one_of(
    valid, valid, start_hop,
    st.fixed_dictionaries({
        "Type": st.sampled_from(["Initiation", "Response", "response", "Release", "x", None]),
        "SessionId": st.sampled_from(["h1", "h2", "", "x" * 300]),
        "Mobile": st.sampled_from([MOBILE, "13900139000", "", "abc", "9" * 250]),
        "Message": values, "Sequence": values, "ClientState": values,
    }).map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=40), st.just(b"\xff\xfe{}"), st.just(b"{" * 5000),
)


def _post(url: str, body: bytes) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("POST", parts.path, body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest_twisted.ensureDeferred
async def test_fuzzed_json_never_fails_and_never_steps_twice(redis) -> None:
    events: list[HopEvent] = []
    hub = await start(redis, on_hop=events.append)
    dialogue: CountingDialogue = hub.resource.gateway.dialogue  # type: ignore[assignment]

    @settings(max_examples=150, deadline=None, database=None)
    @given(start_hop, st.lists(bodies, min_size=1, max_size=6), st.booleans())
    def check(first: bytes, reqs: list[bytes], repeat: bool) -> None:
        reqs = [first, *reqs]
        if repeat:
            reqs = [*reqs, reqs[-1]]
        last: tuple[bytes, int, list[str]] | None = None
        for body in reqs:
            before, n_events = len(dialogue.resumes) + dialogue.begins, len(events)
            code, out = _post(hub.url, body)
            assert code in (200, 400), (code, out)
            parsed = json.loads(out)
            if code == 200:
                assert parsed["Type"] in ("response", "release")
            stepped = len(dialogue.resumes) + dialogue.begins - before
            kinds = [e.outcome for e in events[n_events:]]
            assert stepped == sum(k in ("step", "new") for k in kinds) or "error" in kinds
            data = json.loads(body) if code == 200 else None
            # (a hop that failed inside the engine stored nothing: trying it again is right)
            if (last is not None and last[0] == body and code == 200 and last[1] == 200
                    and "error" not in last[2]
                    and isinstance(data, dict) and isinstance(data.get("Sequence"), int)
                    and str(data.get("Type")).lower() == "response"):
                assert stepped == 0, "a repeated Sequence stepped the menu again"
            last = (body, code, kinds)

    try:
        await deferToThread(check)
        assert {"new", "step", "retry"} <= {e.outcome for e in events}
    finally:
        await hub.port.stopListening()
