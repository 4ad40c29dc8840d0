"""Hostile reads: limits, cursors and references no list or lookup should take.

Each case asserts the exact refusal (HTTP status and problem code, or CLI exit code) and that
no event was written.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from uuid import UUID

import pytest

from adapters.config import build_ledger
from adapters.ledger.application import Ledger
from tests.helpers import completed_payment, customer, event_count, issued_invoice
from tests.service.conftest import Api, client, keys, reader, services  # noqa: F401

AMBIGUOUS = ("abcdef01-0000-4000-8000-000000000001", "abcdef02-0000-4000-8000-000000000002")
LISTS = (
    "/invoices",
    "/payments",
    "/customers",
    "/packages",
    "/credit-notes",
    "/balances",
    "/aged-receivables",
    "/payment-history",
)


def _seed(ledger: Ledger) -> None:
    customer(ledger)
    issued_invoice(ledger)
    for invoice_id in AMBIGUOUS:
        ledger.create_invoice("ACME", "test", invoice_id=UUID(invoice_id))
    completed_payment(ledger)
    ledger.define_package("test", name="Port", unit_price="9.99", currency="GBP")


def _forged(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


# ------------------------------------------------------------------ HTTP

BAD_LIMITS = ["0", "-1", "1001", str(10**9), "abc", "1.5", "1e3", "", "½", "9" * 5000]


@pytest.fixture
def seeded(services) -> Iterator[Ledger]:  # noqa: F811
    _seed(services.ledger)
    yield services.ledger


def _refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code and body["type"] == f"/problems/{code}"


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("limit", ["0", "1001", "abc"])
def test_http_lists_refuse_a_limit_out_of_range(seeded, reader, path, limit):  # noqa: F811
    before = event_count(seeded)
    _refused(reader.get(path, limit=limit), 422, "validation_error")
    assert event_count(seeded) == before


@pytest.mark.parametrize("limit", BAD_LIMITS)
def test_http_invoice_list_refuses_every_malformed_limit(seeded, reader, limit):  # noqa: F811
    before = event_count(seeded)
    _refused(reader.get("/invoices", limit=limit), 422, "validation_error")
    assert event_count(seeded) == before


BAD_CURSORS = [
    "garbage",
    "=",
    "eyJ",  # the start of a JSON document, cut
    _forged(["not", "an", "object"]),
    _forged({"l": "invoices", "f": "0", "k": [1]}),  # filters not this list's
    _forged({"l": "customers", "f": "44136fa355b3678a", "k": [1]}),  # another list's
    _forged({"l": "invoices", "f": "44136fa355b3678a", "k": ["1"]}),  # key of the wrong type
    _forged({"l": "invoices", "f": "44136fa355b3678a", "k": [True]}),
    _forged({"l": "invoices", "f": "44136fa355b3678a", "k": [-5]}),
    _forged({"l": "invoices", "f": "44136fa355b3678a", "k": [2**70]}),
    _forged({"l": "invoices", "f": "44136fa355b3678a", "k": [1, 2]}),
    _forged({"l": "invoices", "f": "44136fa355b3678a", "k": [1], "x": 1}),
    "é" * 10,
    "%00",
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
def test_http_invoice_list_refuses_a_cursor_it_did_not_hand_out(seeded, reader, cursor):  # noqa: F811
    before = event_count(seeded)
    _refused(reader.get("/invoices", cursor=cursor), 422, "invalid_page")
    assert event_count(seeded) == before


def test_http_a_cursor_over_the_length_limit_is_refused(seeded, reader):  # noqa: F811
    before = event_count(seeded)
    _refused(reader.get("/invoices", cursor="A" * 5000), 422, "validation_error")
    assert event_count(seeded) == before


def test_http_a_cursor_is_refused_by_another_list_and_other_filters(seeded, reader):  # noqa: F811
    before = event_count(seeded)
    first = reader.get("/invoices", limit="1")
    cursor = first.headers["X-Next-Cursor"]
    assert first.headers["Link"].endswith('rel="next"')
    _refused(reader.get("/payments", cursor=cursor), 422, "invalid_page")
    _refused(reader.get("/invoices", cursor=cursor, status="draft"), 422, "invalid_page")
    assert reader.get("/invoices", cursor=cursor, limit="1").status_code == 200
    assert event_count(seeded) == before


def test_http_invoice_list_sorts_in_pages(seeded, reader):  # noqa: F811
    issued_invoice(seeded, net="5.00")
    before = event_count(seeded)
    seen, params = [], {"sort": "total", "dir": "desc", "limit": "2"}
    while True:
        response = reader.get("/invoices", **params)
        assert response.status_code == 200, response.text
        seen += [row["total"] for row in response.json()]
        if "X-Next-Cursor" not in response.headers:
            break
        params["cursor"] = response.headers["X-Next-Cursor"]
    assert seen == ["120.00", "6.00", "0.00", "0.00"]  # two drafts owe nothing yet
    _refused(
        reader.get("/invoices", sort="total", cursor=params["cursor"], limit="2"),
        422,
        "invalid_page",
    )
    assert event_count(seeded) == before


def test_http_reports_page_and_refuse_each_others_cursors(seeded, reader):  # noqa: F811
    customer(seeded, "BETA")
    issued_invoice(seeded, "BETA")
    completed_payment(seeded, "BETA")
    before = event_count(seeded)
    first = reader.get("/aged-receivables", limit="1")
    assert first.status_code == 200, first.text
    assert [row["customer_account"] for row in first.json()] == ["ACME"]
    cursor = first.headers["X-Next-Cursor"]
    second = reader.get("/aged-receivables", limit="1", cursor=cursor)
    assert [row["customer_account"] for row in second.json()] == ["BETA"]
    assert "X-Next-Cursor" not in second.headers
    _refused(
        reader.get("/aged-receivables", cursor=cursor, as_of="2026-01-01"), 422, "invalid_page"
    )
    _refused(reader.get("/payment-history", cursor=cursor), 422, "invalid_page")
    moves = reader.get("/payment-history", limit="1")
    assert moves.json()[0]["kind"] == "received" and "X-Next-Cursor" in moves.headers
    _refused(
        reader.get("/aged-receivables", cursor=moves.headers["X-Next-Cursor"]), 422, "invalid_page"
    )
    _refused(reader.get("/aged-receivables", as_of="9999-12-31"), 422, "validation_error")
    assert event_count(seeded) == before


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/invoices/abc", 404, "not_found"),
        ("/invoices/ffffff", 404, "not_found"),
        ("/invoices/INV-2099-000001", 404, "not_found"),
        ("/invoices/abcdef0", 422, "ambiguous_reference"),
        ("/invoices/abcdef", 422, "ambiguous_reference"),
        ("/invoices/abcdef0/history", 422, "ambiguous_reference"),
        ("/payments/zzzzzz", 404, "not_found"),
        ("/payments/000000", 404, "not_found"),
        ("/credit-notes/000000", 404, "not_found"),
        ("/credit-notes/CN-2099-000001", 404, "not_found"),
    ],
)
def test_http_lookups_refuse_unknown_and_ambiguous_references(
    seeded,
    reader,  # noqa: F811
    path,
    status,
    code,
):
    before = event_count(seeded)
    response = reader.get(path)
    _refused(response, status, code)
    if code == "ambiguous_reference":
        assert all(candidate in response.json()["detail"] for candidate in AMBIGUOUS)
    assert event_count(seeded) == before


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"status": "bogus"}, 422, "validation_error"),  # the enum the document declares
        ({"from": "9999-99-99"}, 422, "validation_error"),
        ({"from": "2026-10-31", "to": "2026-10-01"}, 422, "invalid_date"),
        ({"customer": "NOBODY"}, 404, "not_found"),
        ({"number": "N" * 500}, 422, "validation_error"),
        ({"sort": "seq"}, 422, "validation_error"),
        ({"sort": "total; DROP TABLE x"}, 422, "validation_error"),
        ({"sort": "x" * 21}, 422, "validation_error"),
        ({"sort": "total", "dir": "sideways"}, 422, "validation_error"),
    ],
)
def test_http_invoice_list_refuses_bad_filters(seeded, reader, params, status, code):  # noqa: F811
    before = event_count(seeded)
    _refused(reader.get("/invoices", **params), status, code)
    assert event_count(seeded) == before


# ------------------------------------------------------------------ CLI


@pytest.fixture
def cli_ledger(store_url: str) -> Iterator[Ledger]:
    ledger = build_ledger(store_url)
    _seed(ledger)
    yield ledger
    ledger.close()


@pytest.mark.parametrize("command", ["invoice", "payment", "customer", "package", "credit-note"])
@pytest.mark.parametrize("limit", ["0", "-1", "1001", str(10**9), "abc"])
def test_cli_lists_refuse_a_limit_out_of_range(cli_ledger, tollbook, command, limit):
    before = event_count(cli_ledger)
    result = tollbook(command, "list", "--limit", limit)
    assert result.code == 2, result.err
    assert "[invalid_page]" in result.err and result.err.count("\n") == 1
    assert event_count(cli_ledger) == before


@pytest.mark.parametrize("command", [("aged",), ("payment", "history")])
@pytest.mark.parametrize("limit", ["0", "1001", "abc"])
def test_cli_reports_refuse_a_limit_out_of_range(cli_ledger, tollbook, command, limit):
    before = event_count(cli_ledger)
    result = tollbook(*command, "--limit", limit)
    assert result.code == 2, result.err
    assert "[invalid_page]" in result.err and result.err.count("\n") == 1
    assert event_count(cli_ledger) == before


def test_cli_reports_page_with_a_cursor(cli_ledger, tollbook):
    customer(cli_ledger, "BETA")
    issued_invoice(cli_ledger, "BETA")
    completed_payment(cli_ledger, "BETA")
    before = event_count(cli_ledger)
    first = tollbook("aged", "--as-of", "2099-12-31", "--limit", "1", "--json")
    assert first.code == 0, first.err
    assert [r["customer_account"] for r in json.loads(first.out)["customers"]] == ["ACME"]
    cursor = first.err.strip().rsplit(" ", 1)[-1]
    second = tollbook("aged", "--as-of", "2099-12-31", "--limit", "1", "--cursor", cursor, "--json")
    assert [r["customer_account"] for r in json.loads(second.out)["customers"]] == ["BETA"]
    refused = tollbook("payment", "history", "--cursor", cursor)
    assert refused.code == 2 and "[invalid_page]" in refused.err
    history = tollbook("payment", "history", "--limit", "1", "--json")
    assert len(json.loads(history.out)) == 1 and "next page: --cursor" in history.err
    assert event_count(cli_ledger) == before


@pytest.mark.parametrize("cursor", BAD_CURSORS[:8])
def test_cli_invoice_list_refuses_a_cursor_it_did_not_hand_out(cli_ledger, tollbook, cursor):
    before = event_count(cli_ledger)
    result = tollbook("invoice", "list", "--cursor", cursor)
    assert result.code == 2 and "[invalid_page]" in result.err
    assert event_count(cli_ledger) == before


def test_cli_balance_refuses_another_lists_cursor(cli_ledger, tollbook):
    before = event_count(cli_ledger)
    listed = tollbook("invoice", "list", "--limit", "1", "--json")
    assert listed.code == 0
    cursor = listed.err.strip().rsplit(" ", 1)[-1]
    result = tollbook("balance", "--cursor", cursor)
    assert result.code == 2 and "[invalid_page]" in result.err
    assert event_count(cli_ledger) == before


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (("invoice", "show", "abc"), 3, "not_found"),
        (("invoice", "show", "abcdef0"), 2, "ambiguous_reference"),
        (("invoice", "history", "abcdef"), 2, "ambiguous_reference"),
        (("payment", "show", "000000"), 3, "not_found"),
        (("credit-note", "show", "CN-2099-000001"), 3, "not_found"),
        (("invoice", "list", "--status", "bogus"), 2, "invalid_input"),
        (
            ("invoice", "line", "add", "abcdef", "--description", "x", "--unit-price", "1"),
            2,
            "ambiguous_reference",
        ),
    ],
)
def test_cli_lookups_refuse_unknown_and_ambiguous_references(
    cli_ledger, tollbook, args, code, error
):
    before = event_count(cli_ledger)
    result = tollbook(*args)
    assert result.code == code, result.err
    assert f"[{error}]" in result.err
    assert event_count(cli_ledger) == before
