"""Conditional reads: ETag and If-None-Match (304) on one invoice, the invoice list and the
balances, and the kept answers behind them (never stale, never past a revoked key)."""

from __future__ import annotations

from typing import Any

from adapters.app.context import Services
from tests.service.conftest import Api, issued_invoice, make_customer, ok


def _etag(response: Any) -> str:
    tag = response.headers.get("etag")
    assert tag, f"no ETag on {response.request.url}"
    return str(tag)


def test_one_invoice_answers_304_while_its_version_holds(reader: Api, writer: Api) -> None:
    make_customer(writer)
    invoice = issued_invoice(writer)
    path = f"/invoices/{invoice['id']}"
    first = reader.get(path)
    assert first.status_code == 200 and _etag(first) == f'"{invoice["version"]}"'

    for presented in (_etag(first), f"W/{_etag(first)}", f'"999", {_etag(first)}', "*"):
        again = reader.get(path, headers={"If-None-Match": presented})
        assert again.status_code == 304, presented
        assert again.content == b"" and _etag(again) == _etag(first)
    assert reader.get(path, headers={"If-None-Match": '"999"'}).content == first.content
    by_number = reader.get(f"/invoices/{invoice['number']}", headers={"If-None-Match": "*"})
    assert by_number.status_code == 304

    ok(writer.post(f"/invoices/{invoice['id']}/void", {"reason": "wrong customer"}))
    changed = reader.get(path, headers={"If-None-Match": _etag(first)})
    assert changed.status_code == 200 and changed.json()["status"] == "void"
    assert _etag(changed) != _etag(first)


def test_an_overdue_invoice_is_always_sent_whole(reader: Api, writer: Api) -> None:
    make_customer(writer)
    draft = ok(
        writer.post(
            "/invoices",
            {"customer": "ACME", "invoice_date": "2026-08-01", "due_date": "2026-08-15"},
        ),
        201,
    )
    line = {"description": "Ports", "quantity": "1", "unit_price": "10.00"}
    ok(writer.post(f"/invoices/{draft['id']}/lines", line), 201)
    ok(writer.post(f"/invoices/{draft['id']}/issue"))
    first = reader.get(f"/invoices/{draft['id']}")
    assert first.json()["status"] == "overdue"
    # a copy made before the due date said "issued" at the same version: never confirm it
    again = reader.get(f"/invoices/{draft['id']}", headers={"If-None-Match": _etag(first)})
    assert again.status_code == 200 and again.content == first.content


def test_lists_carry_a_weak_etag_that_moves_with_any_event(reader: Api, writer: Api) -> None:
    make_customer(writer)
    issued_invoice(writer)
    for path in ("/invoices", "/balances"):
        first = reader.get(path)
        assert first.status_code == 200 and _etag(first).startswith('W/"')
        kept = reader.get(path)
        assert kept.content == first.content and _etag(kept) == _etag(first)
        not_modified = reader.get(path, headers={"If-None-Match": _etag(first)})
        assert not_modified.status_code == 304 and not_modified.content == b""

    before = {path: _etag(reader.get(path)) for path in ("/invoices", "/balances")}
    invoice = issued_invoice(writer, price="55.00")
    for path, tag in before.items():
        fresh = reader.get(path, headers={"If-None-Match": tag})
        assert fresh.status_code == 200 and _etag(fresh) != tag
    listed = reader.get("/invoices").json()
    assert invoice["id"] in [row["id"] for row in listed]  # the write is seen at once


def test_a_kept_answer_is_the_answer_the_query_gives(
    reader: Api, writer: Api, services: Services
) -> None:
    make_customer(writer)
    for price in ("10.00", "20.00", "30.00"):
        issued_invoice(writer, price=price)
    asked: dict[str, dict[str, Any]] = {
        "first two": {"limit": 2},
        "dearest two": {"limit": 2, "sort": "total", "dir": "desc"},
        "balances": {},
    }
    made = {}
    for name, params in asked.items():
        path = "/balances" if name == "balances" else "/invoices"
        first = made[name] = reader.get(path, **params)
        again = reader.get(path, **params)
        assert again.content == first.content
        assert again.headers.get("x-next-cursor") == first.headers.get("x-next-cursor")
        assert again.headers.get("link") == first.headers.get("link")
    assert [row["total"] for row in made["dearest two"].json()] == ["36.00", "24.00"]
    follow = made["first two"].headers["x-next-cursor"]
    rest = reader.get("/invoices", limit=2, cursor=follow).json()
    assert len(rest) == 1


def test_a_revoked_key_gets_no_kept_answer(
    client: Any, keys: dict[str, str], writer: Api, services: Services
) -> None:
    make_customer(writer)
    invoice = issued_invoice(writer)
    doomed = Api(client, services.api_keys.create("doomed", "read"))
    paths = ["/invoices", "/balances", f"/invoices/{invoice['id']}"]
    for path in paths:  # made, then kept
        assert doomed.get(path).status_code == 200
        assert doomed.get(path).status_code == 200
    services.api_keys.revoke("doomed")
    for path in paths:
        refused = doomed.get(path)
        assert refused.status_code == 401, path
        assert doomed.get(path, headers={"If-None-Match": "*"}).status_code == 401
    stranger = Api(client, "tbk_not-a-key")
    assert stranger.get("/balances").status_code == 401
    assert client.get("/balances").status_code == 401


def test_as_of_reads_carry_no_etag(reader: Api, writer: Api) -> None:
    make_customer(writer)
    invoice = issued_invoice(writer)
    past = reader.get(f"/invoices/{invoice['id']}", version=1)
    assert past.status_code == 200 and past.json()["status"] == "draft"
    assert "etag" not in past.headers


def test_the_openapi_document_declares_etag_304_and_if_none_match(client: Any) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/invoices/{ref}", "/invoices", "/balances"):
        get = paths[path]["get"]
        assert "ETag" in get["responses"]["200"]["headers"], path
        assert "304" in get["responses"] and "ETag" in get["responses"]["304"]["headers"]
        assert "If-None-Match" in [p["name"] for p in get["parameters"] if p["in"] == "header"]
    live = paths["/health/live"]["get"]
    assert live["operationId"] == "getLiveness"


def test_liveness_needs_no_key_and_no_database(client: Any, services: Services) -> None:
    services.ledger.close()  # whatever the database does, the process answers
    answer = client.get("/health/live")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
