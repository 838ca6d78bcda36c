"""Fixtures for the guards in front of Relay: a signed-up owner and their API tokens, the pages' browser
fixtures (tests/web/conftest.py), and ``@pytest.mark.settings(NAME=value)`` to change the app's settings
for one test (a tiny rate limit, a trusted proxy hop, CORS origins)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from automation.accounts import create_api_token, create_user
from tests.web.conftest import PASSWORD, live_server, page  # noqa: F401 - shared browser fixtures

OWNER = "owner@example.com"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "settings(**values): app settings for this test only")


@pytest.fixture
def settings(settings: dict[str, Any], request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("settings")
    return {**settings, **(marker.kwargs if marker else {})}


@pytest.fixture
def owner(app: Flask) -> str:
    """The email of the workspace's owner, whose password is tests.web.conftest.PASSWORD."""
    with app.app_context():
        create_user(OWNER, PASSWORD, "owner")
    return OWNER


@pytest.fixture
def new_token(app: Flask, owner: str) -> Callable[[], str]:
    """A fresh API token of the owner at each call."""

    def make() -> str:
        with app.app_context():
            return create_api_token(owner)

    return make


@pytest.fixture
def bearer(new_token: Callable[[], str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {new_token()}"}
