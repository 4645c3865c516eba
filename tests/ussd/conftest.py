"""Fixtures for the USSD tests (helpers live in ussd_harness.py, importable by test modules)."""

from __future__ import annotations

import pytest
import pytest_twisted
from ussd_harness import CountingDialogue, Server, start_server


@pytest_twisted.async_yield_fixture
async def server(redis):
    srv = await start_server(CountingDialogue(), redis)
    yield srv
    await srv.port.stopListening()


@pytest.fixture
def dialogue(server: Server) -> CountingDialogue:
    return server.dialogue
