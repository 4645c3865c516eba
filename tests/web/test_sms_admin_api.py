"""``/api/admin/sms/...`` through StubTreq on the real Redis outbox: behind the admin token, and
no full phone number or message text in any answer (the wired server: tests/sms/test_sms_admin.py).
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest_twisted
from twisted.internet import reactor
from twisted.web.resource import Resource
from web_stub import stub_treq

from sms.api import OutgoingSms
from sms.redis_outbox import RedisOutbox
from web.sms_admin import sms_admin_resource

TOKEN = "t0ken"
PHONE = "8613812345678"


async def get(http: Any, path: str, token: str | None = TOKEN) -> tuple[int, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await http.get(f"http://hotline.example/api/admin/sms/{path}", headers=headers)
    return response.code, json.loads(await response.text("utf-8"))


@pytest_twisted.ensureDeferred
async def test_outbox_status_messages_and_dead_letters_behind_the_token(redis) -> None:
    outbox = RedisOutbox(redis, reactor)
    root, api, admin = Resource(), Resource(), Resource()
    root.putChild(b"api", api)
    api.putChild(b"admin", admin)
    admin.putChild(b"sms", sms_admin_resource(outbox, SimpleNamespace(bound=False), TOKEN))
    http = stub_treq(root)
    sent = OutgoingSms(PHONE, "取号码 1234567890", "booked:1234567890", "booked")
    assert await outbox.put(sent)
    assert await outbox.put(OutgoingSms(PHONE, "x", "booked:2", "booked"))

    for token in (None, "nope"):
        status, body = await get(http, "status", token)
        assert (status, body["error"]["code"]) == (401, "unauthorized")
    assert await get(http, "status") == (200, {"bound": False, "queued": 2, "sending": 0,
                                               "dead": 0})
    status, body = await get(http, "message?key=booked:1234567890")
    assert status == 200 and body["key"] == "booked:1234567890" and body["kind"] == "booked"
    assert "text" not in body and body["to"].endswith(PHONE[-4:])
    assert await get(http, "message?key=booked:none") == (200, {"key": "booked:none",
                                                               "state": None})
    (taken, *_) = await outbox.take(1)
    await outbox.dead(taken, "rejected")
    status, body = await get(http, "dead?limit=5")
    assert status == 200 and [d["key"] for d in body["dead"]] == [taken.key]
    assert body["dead"][0]["reason"] == "rejected"
    raw = json.dumps([await get(http, p) for p in ("status", "dead", "message?key=booked:2")])
    assert PHONE not in raw and "1234567890" not in raw.replace("booked:1234567890", "")
