"""POST /ussd/at over real HTTP, real Redis, with a small hand-written dialogue."""

from __future__ import annotations

import pytest_twisted
import treq
from twisted.internet.defer import Deferred
from ussd_harness import MSISDN, PHONE, CountingDialogue, Server


@pytest_twisted.ensureDeferred
async def test_new_session_continues_with_the_first_screen(server: Server) -> None:
    code, body = await server.post(text="")
    assert (code, body) == (200, "CON 欢迎\n1 预约挂号")
    record = await server.store.load("at", MSISDN)
    assert record is not None and record.session.msisdn == MSISDN and record.hop == 1


@pytest_twisted.ensureDeferred
async def test_cumulative_text_steps_one_input_at_a_time(server: Server) -> None:
    dialogue: CountingDialogue = server.dialogue
    assert (await server.post(text=""))[1].startswith("CON ")
    assert await server.post(text="1") == (200, "CON 请输入身份证号")
    code, body = await server.post(text="1*11010519491231002*")
    assert code == 200
    assert body == "END 预约成功 ID 002*\n0123456789"
    # the ID's X keyed as '*' came through whole, not split at the '*'
    assert dialogue.resumes == ["1", "11010519491231002*"]


@pytest_twisted.ensureDeferred
async def test_retried_hop_returns_the_same_reply_without_stepping(server: Server) -> None:
    dialogue: CountingDialogue = server.dialogue
    await server.post(text="")
    first = await server.post(text="1")
    again = await server.post(text="1")
    assert again == first
    assert dialogue.resumes == ["1"]
    ended = await server.post(text="1*11010519491231002*")
    assert server.store.cached("at", MSISDN) is None  # an ended dialogue leaves the node cache
    final = await server.post(text="1*11010519491231002*")  # so the retry reads Redis
    assert final == ended and final[1].startswith("END ")
    assert dialogue.resumes == ["1", "11010519491231002*"]
    assert dialogue.begins == 1


@pytest_twisted.ensureDeferred
async def test_concurrent_retry_of_an_in_flight_hop_steps_once(server: Server) -> None:
    dialogue: CountingDialogue = server.dialogue
    await server.post(text="")
    dialogue.gate, dialogue.entered = Deferred(), Deferred()
    entered = dialogue.entered
    first = Deferred.fromCoroutine(server.post(text="1"))
    await entered
    second = Deferred.fromCoroutine(server.post(text="1"))
    gate, dialogue.gate = dialogue.gate, None
    gate.callback(None)
    assert await first == await second == (200, "CON 请输入身份证号")
    assert dialogue.resumes == ["1"]


@pytest_twisted.ensureDeferred
async def test_unknown_session_with_text_is_told_to_dial_again(server: Server) -> None:
    code, body = await server.post(sessionId="never-seen", text="1*2")
    assert code == 200 and body == "END 会话已过期，请重新拨号。"
    assert server.dialogue.begins == 0 and server.dialogue.resumes == []


@pytest_twisted.ensureDeferred
async def test_expired_session_is_told_to_dial_again(server: Server, redis) -> None:
    await server.post(text="")
    await server.post(text="1")
    await redis.delete(server.store.key("at", MSISDN))  # what the TTL does after 180 s of silence
    assert await server.post(text="1*2") == (200, "END 会话已过期，请重新拨号。")


@pytest_twisted.ensureDeferred
async def test_ttl_is_set_and_slides(server: Server, redis) -> None:
    await server.post(text="")
    key = server.store.key("at", MSISDN)
    await redis.expire(key, 5)
    await server.post(text="1")
    assert 590 < int(await redis.ttl(key)) <= 600  # kept 10 min so a redial can resume


@pytest_twisted.ensureDeferred
async def test_a_dialogue_idle_longer_than_the_timeout_has_expired(server: Server) -> None:
    await server.post(text="")
    server.clock.advance(179)
    assert await server.post(text="1") == (200, "CON 请输入身份证号")  # the timeout slides
    server.clock.advance(181)
    assert await server.post(text="1*2") == (200, "END 会话已过期，请重新拨号。")
    assert server.dialogue.resumes == ["1"]


@pytest_twisted.ensureDeferred
async def test_after_end_new_input_is_told_the_session_ended(server: Server) -> None:
    await server.post(text="")
    await server.post(text="1")
    await server.post(text="1*123")
    assert await server.post(text="1*123*1") == (200, "END 本次会话已结束，请重新拨号。")
    assert server.dialogue.resumes == ["1", "123"]


@pytest_twisted.ensureDeferred
async def test_other_phone_cannot_continue_a_session(server: Server) -> None:
    await server.post(text="")
    code, body = await server.post(text="1", phoneNumber="+8613900139000")
    assert (code, body) == (200, "END 会话已过期，请重新拨号。")
    assert server.dialogue.resumes == []


@pytest_twisted.ensureDeferred
async def test_stale_text_is_409_and_does_not_step(server: Server) -> None:
    await server.post(text="")
    await server.post(text="1")
    code, body = await server.post(text="2")
    assert code == 409 and "stale" in body
    assert server.dialogue.resumes == ["1"]


@pytest_twisted.ensureDeferred
async def test_engine_error_is_an_apology_not_a_500_and_session_is_kept(server: Server) -> None:
    await server.post(text="")
    code, body = await server.post(text="boom")
    assert code == 200 and body == "END 抱歉，系统暂时故障，请稍后重新拨号。"
    record = await server.store.load("at", MSISDN)
    assert record is not None and record.text == "" and record.hop == 1
    assert await server.post(text="1") == (200, "CON 请输入身份证号")  # the dialogue goes on


@pytest_twisted.ensureDeferred
async def test_slow_hop_gets_busy_apology_and_finishes_for_the_retry(server: Server) -> None:
    dialogue: CountingDialogue = server.dialogue
    await server.post(text="")
    dialogue.gate, dialogue.entered = Deferred(), Deferred()
    entered = dialogue.entered
    pending = Deferred.fromCoroutine(server.post(text="1"))
    await entered
    server.clock.advance(server.resource.hop_timeout_s)
    assert await pending == (200, "END 抱歉，系统繁忙，请稍后重新拨号。")
    gate, dialogue.gate = dialogue.gate, None
    gate.callback(None)
    assert await server.post(text="1") == (200, "CON 请输入身份证号")
    assert dialogue.resumes == ["1"]


@pytest_twisted.ensureDeferred
async def test_phone_numbers_are_normalised_to_e164_digits(server: Server) -> None:
    for i, phone in enumerate(["13800138000", "+86 138-0013-8000", "008613800138000"]):
        code, _ = await server.post(sessionId=f"p{i}", phoneNumber=phone)
        assert code == 200
        record = await server.store.load("at", MSISDN)
        assert record is not None and record.session.msisdn == MSISDN


async def _bad(server: Server, **fields: str) -> tuple[int, str]:
    return await server.post(**fields)


@pytest_twisted.ensureDeferred
async def test_malformed_requests_are_400_with_a_clear_message(server: Server) -> None:
    cases = {
        "missing sessionId": {"sessionId": ""},
        "missing phoneNumber": {"phoneNumber": ""},
        "phoneNumber is not a phone number": {"phoneNumber": "hello"},
        "phoneNumber is not a valid phone number": {"phoneNumber": "+861234"},
        "sessionId is longer than 200": {"sessionId": "x" * 201},
        "text is longer than 1000": {"text": "1*" * 501},
    }
    for expected, fields in cases.items():
        code, body = await server.post(**fields)
        assert code == 400, fields
        assert expected in body
    assert server.dialogue.begins == 0


@pytest_twisted.ensureDeferred
async def test_non_post_bad_utf8_and_repeated_fields_are_400(server: Server) -> None:
    resp = await treq.get(server.url)
    assert resp.code == 400 and "POST" in await treq.text_content(resp)
    assert resp.headers.getRawHeaders("content-type") == ["text/plain; charset=utf-8"]
    resp = await treq.post(
        server.url, data=b"sessionId=s9&phoneNumber=13800138000&text=%FF",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert resp.code == 400 and "text is not valid UTF-8" in await treq.text_content(resp)
    resp = await treq.post(
        server.url, data=b"sessionId=a&sessionId=b&phoneNumber=13800138000",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert resp.code == 400 and "more than once" in await treq.text_content(resp)
    resp = await treq.post(server.url, json={"sessionId": "s9"})
    assert resp.code == 400 and "missing sessionId" in await treq.text_content(resp)
    assert server.dialogue.begins == 0


@pytest_twisted.ensureDeferred
async def test_gateway_hanging_up_mid_hop_is_harmless_and_the_hop_is_stored(
    server: Server,
) -> None:
    from twisted.internet import reactor
    from twisted.internet.protocol import ClientFactory, Protocol
    from twisted.logger import globalLogPublisher

    dialogue: CountingDialogue = server.dialogue
    await server.post(text="")
    dialogue.gate, dialogue.entered = Deferred(), Deferred()
    entered = dialogue.entered
    port = int(server.url.split(":")[2].split("/")[0])
    form = f"sessionId=s1&phoneNumber={PHONE.replace('+', '%2B')}&text=1".encode()
    head = (
        "POST /ussd/at HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(form)}\r\n\r\n"
    ).encode()

    lost: Deferred[None] = Deferred()

    class Raw(Protocol):
        def connectionMade(self) -> None:
            self.transport.write(head + form)

        def connectionLost(self, reason: object = None) -> None:
            lost.callback(None)

    connected: Deferred[Protocol] = Deferred()

    class Factory(ClientFactory):
        def buildProtocol(self, addr: object) -> Protocol:
            proto = Raw()
            connected.callback(proto)
            return proto

    errors: list[dict] = []

    def observe(event: dict) -> None:
        if event.get("log_failure") is not None or event.get("isError"):
            errors.append(event)

    globalLogPublisher.addObserver(observe)
    try:
        reactor.connectTCP("127.0.0.1", port, Factory())
        proto = await connected
        await entered
        proto.transport.loseConnection()
        await lost
        # a Redis round trip gives the reactor time to see the close on the server side too
        assert (await server.store.load("at", MSISDN)).hop == 1
        gate, dialogue.gate = dialogue.gate, None
        gate.callback(None)
        record = await server.store.load("at", MSISDN)
        assert record is not None and record.text == "1" and record.hop == 2
        assert await server.post(text="1") == (200, "CON 请输入身份证号")
        assert dialogue.resumes == ["1"]
    finally:
        globalLogPublisher.removeObserver(observe)
    assert errors == []


@pytest_twisted.ensureDeferred
async def test_end_of_session_notification_is_answered_and_keeps_the_record(
    server: Server,
) -> None:
    await server.post(text="")
    end_url = server.url + "/end"
    resp = await treq.post(end_url, data={
        "sessionId": "s1", "phoneNumber": PHONE, "status": "Success", "durationInSeconds": "12",
    })
    assert resp.code == 200 and await treq.text_content(resp) == "OK"
    assert server.store.cached("at", MSISDN) is None  # this node re-reads Redis next time
    assert (await server.store.load("at", MSISDN)) is not None  # kept for a redial
    resp = await treq.post(end_url, data={"status": "Failed"})
    assert resp.code == 400 and "missing sessionId" in await treq.text_content(resp)
    resp = await treq.get(end_url)
    assert resp.code == 400
    resp = await treq.post(server.url + "/nope", data={"sessionId": "s1"})
    assert resp.code == 404 and "no such USSD endpoint" in await treq.text_content(resp)


@pytest_twisted.ensureDeferred
async def test_trailing_slash_reaches_the_same_endpoint(server: Server) -> None:
    resp = await treq.post(server.url + "/", data={"sessionId": "t", "phoneNumber": PHONE})
    body = await treq.content(resp)
    assert resp.code == 200 and body.decode("utf-8").startswith("CON 欢迎")
    # an explicit length, not chunked: the simplest gateway HTTP clients expect it
    assert resp.length == len(body)  # the client moves Content-Length here; chunked is UNKNOWN
    assert resp.headers.getRawHeaders("content-type") == ["text/plain; charset=utf-8"]
