"""Hostile HTTP requests: every refusal is a problem document (the portal: a page) with a stable
code, nothing is written, and nothing ever answers a plain-text 500.

Each case names the request, the status and the problem ``code``; the stored events are
counted before and after. Several inputs here answered a plain-text 500 before (a date of
9999-12-31, ``payment_terms_days`` of ``"²"``, a ``from_position`` past 64 bits, 30-digit
amounts) or were accepted as something else (``{"period_start": 0}`` made a 1970 period).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import anyio
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from adapters.app.context import Services
from adapters.clock import SteppingClock
from adapters.http import write_guard
from adapters.logging import configure_logging
from adapters.portal import web as portal_web
from adapters.queries.lists import Queries
from adapters.service.app import create_app
from adapters.webhooks.destinations import ALLOW_ENV
from tests.helpers import event_count
from tests.portal.support import PASSWORD, Browser, action_error, error_of

PROBLEM = "application/problem+json"
LIMIT = 64 * 1024  # the body limit the tests' app runs with


@pytest.fixture(autouse=True)
def _quiet() -> None:
    configure_logging(level="critical")


@pytest.fixture
def services(store_url: str, clock: SteppingClock) -> Iterator[Services]:
    built = Services.from_url(store_url, clock=clock)
    yield built
    built.close()


@dataclass
class World:
    """A ledger with one of everything, and the ids the cases refer to."""

    services: Services
    app: FastAPI
    client: TestClient
    key: str
    ids: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, body: Any = None, **options: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.key}", **options.pop("headers", {})}
        if body is not None:
            options["content"] = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        return self.client.request(method, path.format(**self.ids), headers=headers, **options)


def _world(services: Services) -> Iterator[World]:
    ledger = services.ledger
    ledger.register_customer(
        "setup",
        account_number="ACME",
        name="Acme Telecom",
        currency="GBP",
        tax_rate=Decimal(20),
        tax_description="VAT 20%",
        payment_terms_days=14,
    )
    ledger.define_package("setup", name="SIP", currency="GBP", unit_price=Decimal("40.00"))
    draft = ledger.create_invoice("ACME", "setup")
    ledger.add_line(draft, "setup", description="Calls", quantity=Decimal(1), unit_price=Decimal(5))
    issued = ledger.create_invoice("ACME", "setup")
    ledger.add_line(
        issued, "setup", description="Calls", quantity=Decimal(1), unit_price=Decimal(9)
    )
    ledger.issue_invoice(issued, "setup")
    empty = ledger.create_invoice("ACME", "setup")
    payment = ledger.record_payment("ACME", "setup", amount=Decimal(50), status="completed")
    hook = services.webhooks.add("http://127.0.0.1:9/hooks", "s" * 32, [], 0, "setup")
    app = create_app(services, max_body_bytes=LIMIT)
    with TestClient(app, raise_server_exceptions=True) as client:
        yield World(
            services,
            app,
            client,
            services.api_keys.create("hostile", "admin"),
            {
                "draft": str(draft),
                "empty": str(empty),
                "issued": str(issued),
                "payment": str(payment),
                "hook": hook.id,
            },
        )


@pytest.fixture
def world(services: Services) -> Iterator[World]:
    yield from _world(services)


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM, response.text
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["type"] == f"/problems/{code}"
    return body


V = (422, "validation_error")


@pytest.fixture(autouse=True)
def _webhooks_may_reach_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    # the webhook cases name 127.0.0.1, which webhooks refuse unless configuration allows it
    monkeypatch.setenv(ALLOW_ENV, "127.0.0.1/32")


BIG = "123456789012345678901234567890"

CASES: list[tuple[str, str, str, Any, tuple[int, str]]] = [
    # JSON numbers, timestamps and non-ISO text are not dates
    ("period_start_number", "POST", "/invoices", {"customer": "ACME", "period_start": 0}, V),
    ("period_end_timestamp", "POST", "/invoices", {"customer": "ACME", "period_end": 1.7e9}, V),
    ("date_timestamp_text", "POST", "/invoices", {"customer": "ACME", "due_date": "1700000000"}, V),
    ("date_true", "POST", "/invoices", {"customer": "ACME", "invoice_date": True}, V),
    ("date_basic_format", "POST", "/invoices", {"customer": "ACME", "invoice_date": "20261001"}, V),
    (
        "date_with_time",
        "POST",
        "/invoices",
        {"customer": "ACME", "due_date": "2026-10-01T00:00"},
        V,
    ),
    ("date_feb_30", "POST", "/invoices", {"customer": "ACME", "invoice_date": "2026-02-30"}, V),
    ("date_arabic_digits", "POST", "/invoices", {"customer": "ACME", "due_date": "٢٠٢٦-١٠-٠١"}, V),
    # dates beyond the calendar's arithmetic (9999-12-31 was a plain-text 500)
    ("date_9999", "POST", "/invoices", {"customer": "ACME", "invoice_date": "9999-12-31"}, V),
    ("date_year_1", "POST", "/invoices", {"customer": "ACME", "period_start": "0001-01-01"}, V),
    ("dates_patch_9999", "PATCH", "/invoices/{draft}/dates", {"due_date": "9999-12-31"}, V),
    ("line_period_number", "POST", "/invoices/{draft}/lines", {"period_end": 86400}, V),
    (
        "received_on_number",
        "POST",
        "/payments",
        {"customer": "ACME", "amount": "5", "received_on": 20261001},
        V,
    ),
    (
        "assignment_start_number",
        "POST",
        "/customers/ACME/assignments",
        {"package": "SIP", "start_date": 0},
        V,
    ),
    (
        "assignment_end_9999",
        "POST",
        "/customers/ACME/assignments",
        {"package": "SIP", "start_date": "2026-10-01", "end_date": "9999-12-31"},
        V,
    ),
    ("effective_from_number", "PATCH", "/customers/ACME", {"name": "A", "effective_from": 0}, V),
    ("query_on_number", "GET", "/customers/ACME?on=0", None, V),
    ("query_as_of_timestamp", "GET", "/invoices/{issued}?as_of=1700000000", None, V),
    ("query_as_of_9999", "GET", "/invoices/{issued}?as_of=9999-12-31T23:59:59Z", None, V),
    ("query_pdf_as_of_number", "GET", "/invoices/{issued}.pdf?as_of=0", None, V),
    # day counts are JSON integers within a century (a superscript two was a 500)
    (
        "terms_superscript",
        "POST",
        "/customers",
        {"account_number": "N1", "name": "N", "payment_terms_days": "²"},
        V,
    ),
    ("terms_text", "PATCH", "/customers/ACME", {"payment_terms_days": "14"}, V),
    ("terms_true", "PATCH", "/customers/ACME", {"payment_terms_days": True}, V),
    ("terms_fraction", "PATCH", "/customers/ACME", {"payment_terms_days": 14.5}, V),
    (
        "terms_billion",
        "PATCH",
        "/customers/ACME",
        {"payment_terms_days": 10**9},
        (422, "out_of_range"),
    ),
    (
        "settings_terms_huge",
        "PATCH",
        "/settings",
        {"default_payment_terms_days": 10**30},
        (422, "out_of_range"),
    ),
    # amounts: decimal strings (or whole JSON numbers) of bounded size
    (
        "settings_rate_exponent",
        "PATCH",
        "/settings",
        {"default_tax_rate": "1e400"},
        (422, "invalid_amount"),
    ),
    ("settings_rate_float", "PATCH", "/settings", {"default_tax_rate": 5.5}, V),
    ("settings_unknown_name", "PATCH", "/settings", {"colour": "red"}, V),
    ("settings_not_an_object", "PATCH", "/settings", ["company_name"], V),
    (
        "line_price_30_digits",
        "POST",
        "/invoices/{draft}/lines",
        {"description": "x", "unit_price": BIG},
        (422, "out_of_range"),
    ),
    (
        "line_quantity_huge_int",
        "POST",
        "/invoices/{draft}/lines",
        {"description": "x", "unit_price": "1", "quantity": 10**40},
        (422, "out_of_range"),
    ),
    (
        "line_price_arabic",
        "POST",
        "/invoices/{draft}/lines",
        {"description": "x", "unit_price": "١٢"},
        (422, "invalid_amount"),
    ),
    (
        "line_rate_16_decimals",
        "PATCH",
        "/invoices/{draft}/lines/1",
        {"tax_rate": "0.0000000000000001"},
        (422, "invalid_amount"),
    ),
    (
        "payment_amount_30_digits",
        "POST",
        "/payments",
        {"customer": "ACME", "amount": BIG},
        (422, "out_of_range"),
    ),
    (
        "payment_fee_5000_digits",
        "POST",
        "/payments",
        {"customer": "ACME", "amount": "1", "fee": "1" * 5000},
        (422, "out_of_range"),
    ),
    (
        "refund_huge_int",
        "POST",
        "/payments/{payment}/refunds",
        {"amount": 10**40},
        (422, "out_of_range"),
    ),
    (
        "credit_30_digits",
        "POST",
        "/credit-notes",
        {"invoice": "{issued}", "reason": "r", "amount": BIG},
        (422, "out_of_range"),
    ),
    # a credit note's lines take their tax wording from the invoice's: a draft without lines
    # has none (a 500 found by the stateful schemathesis run)
    (
        "credit_an_empty_draft_by_lines",
        "POST",
        "/credit-notes",
        {
            "invoice": "{empty}",
            "reason": "r",
            "lines": [{"description": "x", "unit_price": "1", "quantity": "1", "tax_rate": "20"}],
        },
        (409, "invalid_state"),
    ),
    (
        "credit_a_draft_in_full",
        "POST",
        "/credit-notes",
        {"invoice": "{draft}", "reason": "r", "full": True},
        (409, "invalid_state"),
    ),
    (
        "allocation_exponent",
        "POST",
        "/payments/{payment}/allocations",
        {"allocations": [{"invoice": "{issued}", "amount": "1e3"}]},
        (422, "invalid_amount"),
    ),
    (
        "package_price_nan",
        "POST",
        "/packages",
        {"name": "P", "unit_price": "NaN"},
        (422, "invalid_amount"),
    ),
    # positions and limits are 64-bit (a from_position past 2**63 was a 500)
    (
        "webhook_position_2_63",
        "POST",
        "/webhooks",
        {"url": "http://127.0.0.1:9/h", "from_position": 2**63},
        V,
    ),
    (
        "webhook_position_2_64",
        "POST",
        "/webhooks",
        {"url": "http://127.0.0.1:9/h", "from_position": 2**64},
        V,
    ),
    (
        "webhook_position_text",
        "POST",
        "/webhooks",
        {"url": "http://127.0.0.1:9/h", "from_position": "5"},
        V,
    ),
    (
        "webhook_url_nul",
        "POST",
        "/webhooks",
        {"url": "http://127.0.0.1:9/\x00"},
        (422, "invalid_webhook_url"),
    ),
    (
        "webhook_secret_nul",
        "POST",
        "/webhooks",
        {"url": "http://127.0.0.1:9/", "secret": "\x00"},
        V,
    ),
    (
        "deliveries_limit_huge",
        "GET",
        "/webhooks/{hook}/deliveries?limit=100000000000000000000",
        None,
        V,
    ),
    ("events_after_2_63", "GET", "/events?after=9223372036854775808", None, V),
    # malformed requests
    ("body_not_json", "POST", "/customers", b"{not json", V),
    ("body_not_utf8", "POST", "/customers", b'{"account_number": "\xff"}', (400, "bad_request")),
    ("unknown_path", "GET", "/nowhere", None, (404, "not_found")),
    ("wrong_method", "DELETE", "/customers", None, (405, "method_not_allowed")),
    # not an entity-tag (ASCII only, as for If-None-Match): refused, not read as "no match"
    ("if_match_superscript", "POST", "/invoices/{draft}/issue", None, (400, "invalid_if_match")),
    (
        "idempotency_key_too_long",
        "POST",
        "/invoices",
        {"customer": "ACME"},
        (400, "invalid_idempotency_key"),
    ),
]
HEADERS = {
    "if_match_superscript": {"If-Match": '"9", "²"'},  # "²".isdigit() is true; int() refuses it
    "idempotency_key_too_long": {"Idempotency-Key": "k" * 256},
}


def _fill(body: Any, ids: dict[str, str]) -> Any:
    if isinstance(body, str):
        return body.format(**ids)
    if isinstance(body, dict):
        return {k: _fill(v, ids) for k, v in body.items()}
    if isinstance(body, list):
        return [_fill(v, ids) for v in body]
    return body


@pytest.mark.parametrize(
    ("case", "method", "path", "body", "expected"),
    [pytest.param(*case, id=case[0]) for case in CASES],
)
def test_hostile_request_is_refused_with_a_problem_and_writes_nothing(
    world: World, case: str, method: str, path: str, body: Any, expected: tuple[int, str]
) -> None:
    headers = {name: value.encode() for name, value in HEADERS.get(case, {}).items()}
    before = event_count(world.services.ledger)
    if isinstance(body, bytes):
        headers["Content-Type"] = b"application/json"
        response = world.call(method, path, content=body, headers=headers)
    else:
        response = world.call(method, path, _fill(body, world.ids), headers=headers)
    problem = assert_problem(response, *expected)
    assert problem["instance"] == path.format(**world.ids).split("?")[0]
    if expected == V:
        assert problem["errors"] and all(e["field"] for e in problem["errors"])
    assert event_count(world.services.ledger) == before


def test_integer_amounts_and_iso_dates_still_work(world: World) -> None:
    """The documented forms are still taken: whole JSON numbers as amounts, ISO dates."""
    response = world.call(
        "POST",
        "/payments",
        {"customer": "ACME", "amount": 12, "fee": "0.50", "received_on": "2026-09-30"},
    )
    assert response.status_code == 201, response.text
    assert (response.json()["amount"], response.json()["received_on"]) == ("12.00", "2026-09-30")
    shown = world.call("GET", "/invoices/{issued}?as_of=2026-10-02T00:00:00Z")
    assert shown.status_code == 200, shown.text


# ------------------------------------------------------------------ the catch-all


def test_an_unexpected_error_is_a_500_problem_without_details(world: World, capfd: Any) -> None:
    def explode() -> None:
        raise RuntimeError("secret detail: /srv/tollbook/db password=hunter2")

    world.app.add_api_route("/test-only/explode", explode, methods=["GET"])
    configure_logging(level="error", fmt="json")
    before = event_count(world.services.ledger)
    response = world.call("GET", "/test-only/explode", headers={"X-Request-Id": "req-42"})
    body = assert_problem(response, 500, "internal_error")
    assert body["request_id"] == "req-42" == response.headers["X-Request-Id"]
    assert "secret" not in response.text and "RuntimeError" not in response.text
    logged = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line]
    failure = next(line for line in logged if line["event"] == "unexpected error")
    assert failure["request_id"] == "req-42" and failure["path"] == "/test-only/explode"
    assert "RuntimeError: secret detail" in failure["exception"]  # the traceback, in the log
    assert event_count(world.services.ledger) == before


def test_a_client_request_id_that_is_not_a_plain_token_is_replaced(world: World) -> None:
    response = world.call("GET", "/nowhere", headers={"X-Request-Id": "a b\x7f" + "x" * 200})
    assert_problem(response, 404, "not_found")
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-Id"])


def test_a_write_whose_result_cannot_be_rendered_writes_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the ledger accepts, a request does not store what it then could not show:
    the response document is rendered before the save, and a failure refuses the save."""

    def unrenderable(*args: Any, **kwargs: Any) -> Any:
        raise ArithmeticError("the totals overflow the decimal context")

    monkeypatch.setattr(write_guard, "invoice_doc", unrenderable)
    before = event_count(world.services.ledger)
    response = world.call(
        "POST", "/invoices/{draft}/lines", {"description": "Calls", "unit_price": "2"}
    )
    assert_problem(response, 422, "value_out_of_range")
    assert event_count(world.services.ledger) == before


def test_outside_requests_the_write_guard_changes_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(write_guard, "invoice_doc", lambda *a, **k: 1 / 0)
    before = event_count(world.services.ledger)
    world.services.ledger.create_invoice("ACME", "cli")  # as the CLI or a worker would
    assert event_count(world.services.ledger) == before + 1


# ------------------------------------------------------------------ body size


def test_a_body_declared_over_the_limit_is_refused_before_it_is_read(world: World) -> None:
    before = event_count(world.services.ledger)
    body = {"account_number": "BIG", "name": "x" * (LIMIT + 1)}
    response = world.call("POST", "/customers", body)
    problem = assert_problem(response, 413, "body_too_large")
    assert problem["max_bytes"] == LIMIT
    response = world.call(
        "POST", "/customers", body, headers={"Idempotency-Key": "big-1"}
    )  # the idempotency layer, which reads bodies whole, never sees it either
    assert_problem(response, 413, "body_too_large")
    assert event_count(world.services.ledger) == before


async def _endless_chunked_post(
    app: Any, path: str, key: str, extra: list[tuple[bytes, bytes]]
) -> tuple[int, bytes, int]:
    """POST an endless chunked body straight into the ASGI app: (status, body, chunks read)."""
    pulled = 0
    chunk = b"x" * 8192
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
            *extra,
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(start["status"]), body, pulled


@pytest.mark.parametrize("idempotency_key", [None, "chunked-1"])
def test_an_endless_chunked_body_is_cut_off_at_the_limit(
    world: World, idempotency_key: str | None
) -> None:
    """No Content-Length: the body is counted as it streams, and the read that crosses the
    limit ends the request. The body never ends, so reading it whole could not finish."""
    extra = [(b"idempotency-key", idempotency_key.encode())] if idempotency_key else []
    before = event_count(world.services.ledger)
    status, body, pulled = anyio.run(
        _endless_chunked_post, world.app, "/customers", world.key, extra
    )
    assert status == 413
    assert json.loads(body)["code"] == "body_too_large"
    assert pulled == LIMIT // 8192 + 1  # one chunk past the limit, not one more
    assert event_count(world.services.ledger) == before


@pytest.fixture
def live(services: Services) -> Iterator[tuple[str, int, str]]:
    """The app on a free port of 127.0.0.1 (uvicorn in a thread): (host, port, key)."""
    key = services.api_keys.create("hostile-live", "write")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(services, max_body_bytes=LIMIT),
            host="127.0.0.1",
            port=port,
            log_level="critical",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield "127.0.0.1", port, key
    server.should_exit = True
    thread.join(10)


def test_a_chunked_upload_over_the_limit_gets_413_over_real_http(
    live: tuple[str, int, str], services: Services
) -> None:
    """A client streaming 256 MiB in chunks (generated, never held) is answered 413 long
    before it is done, and the server did not need the body in memory to say so."""
    host, port, key = live
    total = 256 * 1024 * 1024
    chunk = b"x" * 65536

    def chunks() -> Iterator[bytes]:
        for _ in range(total // len(chunk)):
            yield b"%x\r\n%s\r\n" % (len(chunk), chunk)
        yield b"0\r\n\r\n"

    before = event_count(services.ledger)
    sent = 0
    answer = b""
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(
            b"POST /customers HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + key.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        conn.setblocking(False)
        for piece in chunks():
            with contextlib.suppress(BlockingIOError):
                answer += conn.recv(65536)
            if answer:
                break
            view = memoryview(piece)
            while view and not answer:
                try:
                    view = view[conn.send(view) :]
                except BlockingIOError:
                    time.sleep(0.001)
                    with contextlib.suppress(BlockingIOError):
                        answer += conn.recv(65536)
                except (BrokenPipeError, ConnectionResetError):
                    break
            sent += len(piece) - len(view)
        conn.settimeout(10)
        while b"\r\n\r\n" not in answer:
            more = conn.recv(65536)
            if not more:
                break
            answer += more
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"content-type: application/problem+json" in answer.lower()
    assert sent < total // 8  # answered long before the end of the upload
    assert event_count(services.ledger) == before


# ------------------------------------------------------------------ the portal


@pytest.fixture
def finance(world: World) -> Browser:
    world.app.state.portal.users.add("fiona", "finance", PASSWORD)
    browser = Browser(world.client)
    assert browser.sign_in("fiona").status_code == 303
    return browser


PORTAL_FORMS: list[tuple[str, str, dict[str, str], str, str]] = [
    # (id, path, form, field, words): each answered 422 with the form shown again
    (
        "terms_superscript",
        "/portal/customers",
        {
            "account_number": "N",
            "name": "N",
            "currency": "GBP",
            "tax_rate": "20",
            "payment_terms_days": "²",
        },
        "payment_terms_days",
        "whole number",
    ),
    (
        "terms_arabic",
        "/portal/customers/ACME/settings",
        {"name": "A", "tax_rate": "20", "payment_terms_days": "١٤"},
        "s-payment_terms_days",
        "whole number",
    ),
    (
        "terms_billion",
        "/portal/customers/ACME/settings",
        {"name": "A", "tax_rate": "20", "payment_terms_days": "1000000000"},
        "s-payment_terms_days",
        "between 0 and 365 days",
    ),
    (
        "invoice_date_9999",
        "/portal/invoices",
        {"customer": "ACME", "invoice_date": "9999-12-31"},
        "invoice_date",
        "between 2000-01-01 and 2099-12-31",
    ),
    (
        "period_start_year_1",
        "/portal/invoices",
        {"customer": "ACME", "period_start": "0001-01-01", "period_end": "2026-10-31"},
        "period_start",
        "between 2000-01-01 and 2099-12-31",
    ),
    (
        "line_price_30_digits",
        "/portal/invoices/{draft}/lines",
        {"description": "x", "unit_price": BIG},
        "add-unit_price",
        "less than 10,000,000,000,000",
    ),
    (
        "payment_amount_30_digits",
        "/portal/payments",
        {"customer": "ACME", "amount": BIG, "status": "completed"},
        "pay-amount",
        "less than 10,000,000,000,000",
    ),
]


@pytest.mark.parametrize(
    ("path", "form", "field_name", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in PORTAL_FORMS],
)
def test_hostile_portal_form_shows_the_form_again_and_writes_nothing(
    world: World, finance: Browser, path: str, form: dict[str, str], field_name: str, words: str
) -> None:
    before = event_count(world.services.ledger)
    response = finance.post(path.format(**world.ids), form)
    assert response.status_code == 422, response.text[-2000:]
    assert response.headers["content-type"].startswith("text/html")
    assert words in error_of(response.text, field_name), response.text[-3000:]
    assert event_count(world.services.ledger) == before


def test_a_portal_change_whose_result_cannot_be_shown_is_a_form_error(
    world: World, finance: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unrenderable(*args: Any, **kwargs: Any) -> Any:
        raise ArithmeticError("the totals overflow the decimal context")

    monkeypatch.setattr(write_guard, "invoice_doc", unrenderable)
    before = event_count(world.services.ledger)
    response = finance.post(
        "/portal/invoices/{draft}/lines".format(**world.ids),
        {"description": "Calls", "unit_price": "2"},
    )
    assert response.status_code == 422
    assert "too large to compute" in action_error(response.text)
    assert event_count(world.services.ledger) == before


@pytest.mark.parametrize("version", ["²", "1" * 5000, "-1"])
def test_a_hostile_history_version_is_a_form_error(
    world: World, finance: Browser, version: str
) -> None:
    response = finance.get("/portal/invoices/{issued}/history".format(**world.ids), version=version)
    assert response.status_code == 422
    assert "whole number" in error_of(response.text, "at")


def test_an_unexpected_portal_error_is_a_500_page(
    world: World, finance: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(Queries, "customers", broken)  # what the customers page reads
    response = finance.client.get(
        "/portal/customers", headers={"X-Request-Id": "portal-7"}, follow_redirects=False
    )
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "Something went wrong" in response.text and "portal-7" in response.text
    assert "secret" not in response.text
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_when_even_the_portal_error_page_fails_a_plain_html_500_is_sent(
    world: World, finance: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(Queries, "customers", broken)  # what the customers page reads
    monkeypatch.setattr(portal_web, "error_page", broken)
    response = finance.client.get(
        "/portal/customers", headers={"X-Request-Id": "portal-8"}, follow_redirects=False
    )
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "Something went wrong" in response.text and "portal-8" in response.text
    assert "secret" not in response.text
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
