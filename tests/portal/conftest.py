"""Fixtures for the portal: the service app on the test's store (both backends), three users,
and a signed-in browser-like client per user."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from fastapi.testclient import TestClient

from adapters.app import users as users_module
from adapters.app.context import Services
from adapters.clock import SteppingClock
from adapters.logging import configure_logging
from adapters.portal.web import Portal
from adapters.service.app import create_app
from tests.portal.support import PASSWORD, Browser, signed_in


@pytest.fixture(autouse=True)
def _quiet() -> None:
    configure_logging(level="error")


@pytest.fixture
def services(store_url: str, clock: SteppingClock) -> Iterator[Services]:
    built = Services.from_url(store_url, clock=clock)
    yield built
    built.close()


@pytest.fixture
def app(services: Services) -> Any:
    return create_app(services)


@functools.cache
def _password_hash() -> str:
    """One real argon2id hash of PASSWORD for the fixture's users (each hash costs ~70 ms of CPU
    by design; every portal test set up three). Sign-in still checks it with real argon2id."""
    return _real_hash_password(PASSWORD)


_real_hash_password = users_module.hash_password


@pytest.fixture
def portal(app: Any) -> Portal:
    found = app.state.portal
    assert isinstance(found, Portal)

    def hashed(password: str) -> str:
        # argon2id salts each hash itself: one shared hash for the fixture's password is still
        # a real one, verified as any other
        return _password_hash() if password == PASSWORD else _real_hash_password(password)

    with mock.patch.object(users_module, "hash_password", hashed):
        for name, role in (("fiona", "finance"), ("audrey", "auditor"), ("adam", "admin")):
            found.users.add(name, role, PASSWORD)
    return found


@pytest.fixture
def finance(app: Any, portal: Portal) -> Iterator[Browser]:
    yield from signed_in(app, "fiona")


@pytest.fixture
def auditor(app: Any, portal: Portal) -> Iterator[Browser]:
    yield from signed_in(app, "audrey")


@pytest.fixture
def anonymous(app: Any, portal: Portal) -> Iterator[Browser]:
    with TestClient(app) as client:
        yield Browser(client)


@pytest.fixture
def ledger(services: Services) -> Any:
    """The service's own ledger (same store and clock as the pages)."""
    return services.ledger
