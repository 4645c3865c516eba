"""The kiosk API over HTTP (StubTreq, the client at 127.0.0.1), booking on the real Redis: wrong
T-codes limited per client address whatever kiosk_id is sent, X-Forwarded-For believed only
from a trusted proxy, and the optional kiosk registry. Over a real socket through the HTTP
port: tests/hotline/test_end_to_end.py."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import pytest_twisted
from demo_booking import demo_service
from web_stub import stub_treq

from hotline.app import http_edge
from settings.schema import SettingsError, load_settings
from web.kiosk import KioskAccess
from web.root import build_root

LIMIT = 30  # kiosk_failures_per_address_per_minute of the shipped hospital (the default)


class Kiosk:
    def __init__(self, redis: Any, settings: dict[str, Any]) -> None:
        self.service, self.clock = demo_service(redis)
        access = KioskAccess.from_settings(settings)
        self.http = stub_treq(build_root(self.service, redis.ping, kiosk_access=access))
        self.url = "http://kiosk.example/api/kiosk/verify"

    async def verify(self, tcode: str, kiosk_id: str, **headers: str) -> tuple[int, Any, Any]:
        data = json.dumps({"tcode": tcode, "kiosk_id": kiosk_id}).encode()
        response = await self.http.post(self.url, data=data,
                                   headers={k.replace("_", "-"): v for k, v in headers.items()})
        body = json.loads(await response.text("utf-8"))
        self.phrase = response.phrase
        return response.code, body, response.headers.getRawHeaders(b"retry-after")


@pytest.fixture
def make(redis: Any):
    def build(settings: dict[str, Any] | None = None) -> Kiosk:
        return Kiosk(redis, settings or {})

    return build


def guesses(n: int) -> list[str]:
    rng = random.Random(16)
    return [f"{rng.randrange(10**10):010d}" for _ in range(n)]


@pytest_twisted.ensureDeferred
async def test_rotating_kiosk_id_on_120_random_guesses_gets_429_after_30(make) -> None:
    kiosk = make()
    answers = [await kiosk.verify(code, kiosk_id=f"kiosk-{n}")
               for n, code in enumerate(guesses(120))]
    statuses = [status for status, _, _ in answers]
    assert statuses == [404] * LIMIT + [429] * (120 - LIMIT)
    _, body, retry_after = answers[LIMIT]
    assert body["error"]["code"] == "rate_limited"
    assert retry_after is not None and 1 <= int(retry_after[0]) <= 60
    assert body["error"]["retry_after_s"] == int(retry_after[0])
    assert kiosk.phrase == b"Too Many Requests"
    kiosk.clock.advance(60)  # the minute has passed: this address may try again
    assert (await kiosk.verify("0000000001", kiosk_id="kiosk-x"))[0] == 404


@pytest_twisted.ensureDeferred
async def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(make) -> None:
    # the peer (127.0.0.1) is a trusted proxy: the client is the right-most untrusted address
    behind = make({"http": {"trusted_proxies": ["127.0.0.0/8", "10.0.0.0/8"]}})
    for n, code in enumerate(guesses(LIMIT)):  # what the client wrote left of it is not believed
        forwarded = f"198.51.100.{n}, 203.0.113.7, 10.1.2.3"
        assert (await behind.verify(code, f"k{n}", x_forwarded_for=forwarded))[0] == 404
    status, _, _ = await behind.verify("1234567890", "k", x_forwarded_for="1.2.3.4, 203.0.113.7")
    assert status == 429
    # another client behind the same proxy has its own limit
    assert (await behind.verify("1234567890", "k", x_forwarded_for="203.0.113.8"))[0] == 404

    # from an untrusted peer the header is ignored: spoofing it gains nothing
    direct = make({"http": {"trusted_proxies": ["10.0.0.0/8"]}})
    statuses = [(await direct.verify(code, f"k{n}", x_forwarded_for=f"203.0.113.{n}"))[0]
                for n, code in enumerate(guesses(LIMIT + 5))]
    assert statuses == [404] * LIMIT + [429] * 5


@pytest_twisted.ensureDeferred
async def test_a_kiosk_registry_refuses_unknown_kiosks_and_wrong_secrets(make) -> None:
    kiosk = make({"kiosk": {"ids": ["lobby-1"], "secrets": {"lobby-2": "s3cret-of-lobby-2"}}})
    code = "1234567890"
    assert (await kiosk.verify(code, "lobby-1"))[0] == 404  # listed, no secret: looked up
    assert (await kiosk.verify(code, "lobby-2", x_kiosk_secret="s3cret-of-lobby-2"))[0] == 404
    for kiosk_id, secret in (("lobby-3", None), ("lobby-2", None), ("lobby-2", "s3cret"),
                             ("lobby-2", "s3cret-of-lobby-2x"), ("lobby-3", "s3cret-of-lobby-2")):
        headers = {"x_kiosk_secret": secret} if secret else {}
        status, body, _ = await kiosk.verify(code, kiosk_id, **headers)
        assert status == 403 and body["error"]["code"] == "forbidden", (kiosk_id, secret)
    # without a registry (the default) any kiosk_id is served as before
    assert (await make().verify(code, "any-kiosk-at-all"))[0] == 404


def test_malformed_kiosk_settings_are_refused_with_the_key_named() -> None:
    for settings, key in (({"kiosk": {"ids": "lobby-1"}}, "kiosk.ids"),
                          ({"kiosk": {"secrets": {"k": ""}}}, "kiosk.secrets"),
                          ({"http": {"trusted_proxies": ["10.0.0.300"]}}, "http.trusted_proxies")):
        with pytest.raises(ValueError, match=key.replace(".", r"\.")):
            KioskAccess.from_settings(settings)


def test_the_server_does_not_start_with_malformed_edge_settings() -> None:
    for overrides in ({"http": {"trusted_proxies": "10.0.0.1"}}, {"kiosk": {"ids": [1]}},
                      {"http": {"trusted_proxies": ["10.0.0.0/33"]}},
                      {"http": {"header_timeout_s": 0}}, {"http": {"max_body_bytes": "big"}}):
        with pytest.raises(SettingsError):
            http_edge(load_settings(None, overrides))
    _, edge = http_edge(load_settings(None, {"http": {"header_timeout_s": 3, "body_timeout_s": 4}}))
    assert edge == {"header_timeout_s": 3.0, "body_timeout_s": 4.0, "keepalive_timeout_s": 75.0,
                    "max_body_bytes": 65536}
