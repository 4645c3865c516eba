"""Session life over real HTTP: a redial within resume_s is offered to continue; telemetry."""

from __future__ import annotations

import pytest
import pytest_twisted
from ussd_harness import CountingDialogue, start_server

from ussd.gateway import HopEvent

OFFER = "CON 您上次的预约尚未完成。\n1.继续上次\n2.重新开始"


@pytest_twisted.ensureDeferred
async def test_redial_within_ten_minutes_continues_where_the_caller_left_off(redis) -> None:
    server = await start_server(CountingDialogue(), redis)
    try:
        await server.post(sessionId="a", text="")
        asked = await server.post(sessionId="a", text="1")
        assert asked == (200, "CON 请输入身份证号")
        server.clock.advance(300)  # the network dropped the dialogue; the patient redials
        assert await server.post(sessionId="b", text="") == (200, OFFER)
        assert await server.post(sessionId="b", text="") == (200, OFFER)  # a retry
        assert await server.post(sessionId="b", text="1") == asked  # the same screen again
        final = await server.post(sessionId="b", text="1*110105194912310021")
        assert final[1].startswith("END 预约成功")
        assert server.dialogue.begins == 1
        assert server.dialogue.resumes == ["1", "110105194912310021"]
        # the old gateway session id is gone for good
        assert (await server.post(sessionId="a", text="1*2"))[1].startswith("END 会话已过期")
    finally:
        await server.port.stopListening()


@pytest_twisted.ensureDeferred
async def test_start_over_and_the_cases_without_an_offer(redis) -> None:
    server = await start_server(CountingDialogue(), redis)
    try:
        await server.post(sessionId="a", text="")
        await server.post(sessionId="a", text="1")
        assert await server.post(sessionId="b", text="") == (200, OFFER)
        assert await server.post(sessionId="b", text="2") == (200, "CON 欢迎\n1 预约挂号")
        assert server.dialogue.begins == 2
        # nothing answered yet in "b": a redial just starts again
        assert (await server.post(sessionId="c", text=""))[1] == "CON 欢迎\n1 预约挂号"
        # after 10 minutes there is no offer
        await server.post(sessionId="c", text="1")
        server.clock.advance(601)
        assert (await server.post(sessionId="d", text=""))[1] == "CON 欢迎\n1 预约挂号"
        # a finished dialogue is not offered either
        await server.post(sessionId="d", text="1")
        await server.post(sessionId="d", text="1*110105194912310021")
        assert (await server.post(sessionId="e", text=""))[1] == "CON 欢迎\n1 预约挂号"
    finally:
        await server.port.stopListening()


@pytest_twisted.ensureDeferred
async def test_every_hop_reports_node_input_kind_time_and_outcome(redis) -> None:
    events: list[HopEvent] = []
    server = await start_server(CountingDialogue(), redis, on_hop=events.append)
    try:
        await server.post(text="")
        await server.post(text="1")
        await server.post(text="1")
        await server.post(text="1*11010519491231002*")
        await server.post(text="1*11010519491231002**9")
        await server.post(sessionId="zz", text="5")
    finally:
        await server.port.stopListening()
    assert [(e.node, e.input, e.outcome) for e in events] == [
        ("main", "start", "new"),
        ("id", "digits", "step"),
        ("id", "retry", "retry"),
        ("done", "star", "step"),
        ("done", "digits", "ended"),
        ("-", "digits", "expired"),
    ]
    assert all(e.msisdn == "*********8000" and e.gateway == "at" for e in events)
    assert all(isinstance(e.ms, float) and 0 <= e.ms < 5000 for e in events)


@pytest.mark.parametrize("cache_size", [20000, 0])
@pytest_twisted.ensureDeferred
async def test_two_nodes_serving_one_dialogue_never_step_a_stale_copy(
    redis, cache_size: int
) -> None:
    """Each node caches what it saved last; hops alternate between the nodes, so every cached
    copy is stale when its node is asked again. No hop may be stepped on a stale copy."""
    from ussd.gateway import UssdGateway
    from ussd.sessions import UssdSessionStore

    dialogue = CountingDialogue()
    nodes = [UssdGateway(dialogue, UssdSessionStore(redis, cache_size=cache_size),
                         gateway="at") for _ in range(2)]
    msisdn = "8613800138000"
    texts = ["", "2", "2*3", "2*3*4", "2*3*4*1"]  # wrong choices re-ask; "1" goes on
    replies = []
    for i, text in enumerate(texts):
        replies.append(await nodes[i % 2].hop("s1", msisdn, text))
    assert [r.status for r in replies] == [200] * 5
    assert dialogue.begins == 1
    assert dialogue.resumes == ["2", "3", "4", "1"]  # each input stepped once, in order
    # the gateway retries the last hop on the other node, whose copy is one hop behind
    again = await nodes[1].hop("s1", msisdn, "2*3*4*1")
    assert again.body == replies[-1].body == "CON 请输入身份证号"  # the winner's reply
    if cache_size:
        # the documented residual race of the node cache: the same input on the same state
        # is stepped once more and thrown away (booking's idempotency covers its effect)
        assert dialogue.resumes == ["2", "3", "4", "1", "1"]
    else:
        assert dialogue.resumes == ["2", "3", "4", "1"]  # without the cache: never


@pytest_twisted.ensureDeferred
async def test_a_hop_refused_after_losing_the_save_reports_no_node(redis) -> None:
    """Node A steps its cached copy, but node B moved the record on meanwhile (the caller
    redialled there): A's save loses, the reloaded record is another session's, the hop is
    refused, and its event names no menu node (the step that was thrown away is not where the
    caller is)."""
    from ussd.gateway import UssdGateway
    from ussd.sessions import UssdSessionStore

    dialogue = CountingDialogue()
    events: list[HopEvent] = []
    node_a, node_b = (UssdGateway(dialogue, UssdSessionStore(redis), gateway="at",
                                  on_hop=events.append) for _ in range(2))
    msisdn = "8613800138000"
    await node_a.hop("s1", msisdn, "")
    await node_a.hop("s1", msisdn, "1")
    assert (await node_b.hop("s2", msisdn, "")).body == OFFER
    late = await node_a.hop("s1", msisdn, "1*2")
    assert late.body.startswith("END 会话已过期") and late.kind == "expired"
    assert dialogue.resumes == ["1", "2"]  # stepped on A's copy, then thrown away
    assert [(e.node, e.input, e.outcome) for e in events] == [
        ("main", "start", "new"),
        ("id", "digits", "step"),
        ("id", "start", "offer"),
        ("-", "digits", "expired"),
    ]
