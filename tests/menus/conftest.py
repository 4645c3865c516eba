"""Fixtures for menu tests (helpers live in menus_support.py)."""

from __future__ import annotations

import pytest
from menus_support import BOOKING_YAML

from menus.definition import MenuDefinition, load_menu


@pytest.fixture(scope="session")
def booking_menu() -> MenuDefinition:
    return load_menu(BOOKING_YAML)
