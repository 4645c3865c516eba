"""Fixtures for the USSD tests (helpers live in ussd_harness.py, importable by test modules)."""

from __future__ import annotations

import pytest
import pytest_twisted
from ussd_harness import CountingDialogue, Server, start_server


@pytest_twisted.async_yield_fixture(params=["port", "twisted.web"])
async def server(redis, request):
    """The AT resource as deployed (the HTTP port) and on twisted.web alone."""
    srv = await start_server(CountingDialogue(), redis, via=request.param)
    yield srv
    await srv.port.stopListening()


@pytest.fixture
def dialogue(server: Server) -> CountingDialogue:
    return server.dialogue
