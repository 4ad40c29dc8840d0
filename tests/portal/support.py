"""Helpers for the portal's tests: a browser-like client that signs in, and ledger set-up."""

from __future__ import annotations

import html
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import uvicorn
from fastapi.testclient import TestClient

from adapters.ledger.application import Ledger

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


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


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """The app served by uvicorn on a free port of 127.0.0.1 in a thread (real HTTP, real
    concurrency); yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    # browsers are set up one by one and then post together: keep their connections open
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="error",
        access_log=False,
        timeout_keep_alive=120,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Guesser:
    """One browser over real HTTP with the sign-in form already loaded (its CSRF cookie and
    token), ready to post one guess."""

    def __init__(self, base: str) -> None:
        self.client = httpx.Client(base_url=base, timeout=60)
        form = self.client.get("/portal/login")
        token = CSRF.search(form.text)
        assert token, form.text
        self.token = token.group(1)

    def guess(self, username: str, password: str) -> int:
        response = self.client.post(
            "/portal/login",
            data={"username": username, "password": password, "csrf_token": self.token},
            follow_redirects=False,
        )
        return int(response.status_code)

    def close(self) -> None:
        self.client.close()


def acme(ledger: Ledger, account: str = "ACME", currency: str = "GBP") -> UUID:
    return ledger.register_customer(
        "setup",
        account_number=account,
        name=f"{account} Telecom",
        currency=currency,
        tax_rate=Decimal(20),
        tax_description="VAT 20%",
        payment_terms_days=30,
    )


def sip_trunk(ledger: Ledger, currency: str = "GBP", name: str = "SIP trunk") -> UUID:
    return ledger.define_package(
        "setup",
        name=name,
        currency=currency,
        unit_price=Decimal("40.00"),
        setup_price=Decimal("99.00"),
        default_quantity=Decimal(3),
        tax_rate=Decimal("5"),
        tax_description="VAT 5%",
    )


def issued(ledger: Ledger, price: str, account: str = "ACME") -> UUID:
    """An issued invoice of one line at ``price`` (+20% tax)."""
    invoice_id = ledger.create_invoice(account, "setup")
    ledger.add_line(
        invoice_id, "setup", description="Service", quantity=Decimal(1), unit_price=Decimal(price)
    )
    ledger.issue_invoice(invoice_id, "setup")
    return invoice_id


def completed_payment(ledger: Ledger, amount: str, account: str = "ACME") -> UUID:
    return ledger.record_payment(account, "setup", amount=Decimal(amount), status="completed")


def error_of(page: str, field: str) -> str:
    """The error shown under a field (its element id), lower case; "" when there is none."""
    found = re.search(rf'id="{re.escape(field)}-error" role="alert">([^<]*)</p>', page)
    return html.unescape(found.group(1)).lower() if found else ""


def action_error(page: str) -> str:
    found = re.search(r'class="error action-error" role="alert">([^<]*)</p>', page)
    return html.unescape(found.group(1)).lower() if found else ""


def value_of(page: str, field_id: str) -> str:
    found = re.search(rf'id="{re.escape(field_id)}" name="[^"]+" [^>]*?value="([^"]*)"', page)
    return html.unescape(found.group(1)) if found else ""
