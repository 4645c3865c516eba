"""The FastAGI server's hot-path shortcuts keep the wire and the logs as they were."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from ivr_toys import ToyDialogue
from structlog.testing import capture_logs
from twisted.internet.testing import StringTransport

from ivr.server import FastAGIFactory, listen_fastagi
from ivr.simulator import place_call

ID = "11010519491231002*"


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


@pytest_twisted.ensureDeferred
async def test_a_completed_call_logs_one_info_line_its_record() -> None:
    reactor = _reactor()
    dialogue = ToyDialogue()
    factory = FastAGIFactory(dialogue, clock=reactor)
    port = listen_fastagi(reactor, 0, factory)
    try:
        with capture_logs() as logs:
            await place_call(reactor, port.getHost().port, ["1", ID])
            await factory.when_idle()
    finally:
        await port.stopListening()
    loud = [e for e in logs if e["log_level"] not in ("debug",)]
    assert [e["event"] for e in loud] == ["ivr.call_record"]
    record = loud[0]
    assert record["result"] == "completed" and record["caller_tail"] == "8000"
    assert record["call"] and record["menu"] == "booking"
    assert "ivr.call_start" in [e["event"] for e in logs]  # still there, at debug


def _play_toy_call(proto: Any, transport: StringTransport) -> None:
    """Answer every command of the toy booking (keys '1' then the ID) until the call closes."""
    keys = ["1", ID]
    while not transport.disconnecting:
        lines = transport.value().decode().splitlines()
        transport.clear()
        assert lines, "the call stopped sending commands"
        for line in lines:
            if line.startswith("GET DATA"):
                proto.dataReceived(f"200 result={keys.pop(0)}\n".encode())
            elif line == "HANGUP":
                proto.dataReceived(b"200 result=1\nHANGUP\n")
            else:
                proto.dataReceived(b"200 result=0\n")


def test_an_ended_call_is_freed_without_the_cyclic_collector() -> None:
    """Protocol, call and channel effects point at each other while the call runs; at the end
    the links are dropped, so reference counting frees the call at once (with 1,000 calls
    alive, the collector's full passes over such garbage stopped the server for 100s of ms)."""
    import gc
    import weakref

    from twisted.internet.task import Clock

    from ivr.simulator_rules import env_lines

    records: list[object] = []
    factory = FastAGIFactory(ToyDialogue(), clock=Clock(), on_record=records.append)
    proto = factory.buildProtocol(None)
    transport = StringTransport()
    proto.makeConnection(transport)
    env = "".join(line + "\n" for line in env_lines(script="booking")).encode()
    gc.collect()
    gc.disable()
    try:
        proto.dataReceived(env)
        _play_toy_call(proto, transport)
        assert len(records) == 1 and not factory.active
        gone = weakref.ref(proto)
        del proto, transport
        assert gone() is None
    finally:
        gc.enable()
