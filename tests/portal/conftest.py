"""Fixtures for the portal: the service app on the test's store (both backends), three users,
and a signed-in browser-like client per user."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.clock import SteppingClock
from adapters.http.app import create_app
from adapters.logging import configure_logging
from adapters.portal.web import Portal
from adapters.service.context import Services

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


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


@pytest.fixture
def portal(app: Any) -> Portal:
    found = app.state.portal
    assert isinstance(found, Portal)
    for name, role in (("fiona", "finance"), ("audrey", "auditor"), ("adam", "admin")):
        found.users.add(name, role, PASSWORD)
    return found


class Browser:
    """A TestClient that signs in like a person: form, cookie, CSRF token from the page."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    def sign_in(self, username: str, password: str = PASSWORD) -> Any:
        form = self.client.get("/portal/login")
        token = CSRF.search(form.text)
        assert token, form.text
        response = self.client.post(
            "/portal/login",
            data={"username": username, "password": password, "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        if response.status_code == 303:
            page = self.client.get(response.headers["location"])
            self.csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params, follow_redirects=False)

    def post(self, path: str, data: dict[str, str] | None = None, csrf: str | None = None) -> Any:
        body = {"csrf_token": self.csrf if csrf is None else csrf, **(data or {})}
        return self.client.post(path, data=body, follow_redirects=False)

    def follow(self, response: Any) -> Any:
        assert response.status_code == 303, response.text
        return self.client.get(response.headers["location"], follow_redirects=False)


def signed_in(app: Any, username: str) -> Iterator[Browser]:
    with TestClient(app) as client:
        browser = Browser(client)
        assert browser.sign_in(username).status_code == 303
        yield browser


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
