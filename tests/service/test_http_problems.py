"""Errors as problem+json (404, 409, 412, 422), ETags and If-Match."""

from __future__ import annotations

from uuid import uuid4

from tests.service.conftest import issued_invoice, make_customer, ok

PROBLEM = "application/problem+json"


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail", "code", "instance"} <= set(body)
    return body


def test_unknown_ids_are_404(reader):
    for path in (f"/invoices/{uuid4()}", "/customers/NOPE", f"/payments/{uuid4()}", "/nowhere"):
        body = problem(reader.get(path), 404)
        assert body["code"] == "not_found"
        assert body["instance"] == path


def test_rule_violations_are_409_with_the_ledger_code(writer):
    make_customer(writer)
    invoice = issued_invoice(writer, price="100.00")  # total 120.00
    payment = ok(
        writer.post("/payments", {"customer": "ACME", "amount": "200.00", "status": "completed"}),
        201,
    )
    body = problem(
        writer.post(
            f"/payments/{payment['id']}/allocations",
            {"allocations": [{"invoice": invoice["number"], "amount": "150.00"}]},
        ),
        409,
    )
    assert body["code"] == "over_allocation"
    assert body["type"] == "/problems/over_allocation"
    # the input refused, as the domain names it, so a client can mark that field
    assert (body["field"], body["item"]) == ("amount", invoice["id"])
    # nothing was written: the payment is unchanged
    assert ok(writer.get(f"/payments/{payment['id']}"))["allocated"] == "0.00"

    body = problem(
        writer.post(f"/invoices/{invoice['id']}/lines", {"description": "x", "unit_price": "1"}),
        409,
    )
    assert body["code"] == "invoice_not_editable"


def test_validation_errors_are_422_naming_the_field(writer):
    body = problem(writer.post("/customers", {"account_number": "A"}), 422)
    assert body["code"] == "validation_error"
    assert [e["field"] for e in body["errors"]] == ["body.name"]

    make_customer(writer)
    body = problem(writer.post("/payments", {"customer": "ACME", "amount": 10.5}), 422)
    assert [e["field"] for e in body["errors"]] == ["body.amount"]
    assert "decimal strings" in body["errors"][0]["message"]

    body = problem(writer.post("/payments", {"customer": "ACME", "amount": "1", "colour": 1}), 422)
    assert [e["field"] for e in body["errors"]] == ["body.colour"]

    body = problem(writer.get("/events", after="-1"), 422)
    assert body["errors"][0]["field"] == "query.after"


def test_domain_input_errors_are_422_with_their_code(writer):
    make_customer(writer)
    body = problem(writer.post("/payments", {"customer": "ACME", "amount": "-5"}), 422)
    assert body["code"] in ("invalid_amount", "invalid_input")
    assert body["field"] == "amount" and "item" not in body
    body = problem(writer.get("/events", types="Invoice.Nope"), 422)
    assert body["code"] == "invalid_input" and "Invoice.Nope" in body["detail"]


def test_etag_is_the_version_and_if_match_guards_edits(writer, reader):
    make_customer(writer)
    draft = ok(writer.post("/invoices", {"customer": "ACME"}), 201)
    path = f"/invoices/{draft['id']}"
    first = reader.get(path)
    assert first.headers["etag"] == '"1"' and first.json()["version"] == 1

    line = {"description": "Port fee", "quantity": "2", "unit_price": "10.00"}
    added = writer.post(f"{path}/lines", line, headers={"If-Match": '"1"'})
    assert added.status_code == 201 and added.headers["etag"] == '"2"'

    stale = writer.post(f"{path}/lines", line, headers={"If-Match": '"1"'})
    body = problem(stale, 412)
    assert body["code"] == "version_mismatch" and body["current_version"] == 2
    assert stale.headers["etag"] == '"2"'
    assert len(ok(reader.get(path))["lines"]) == 1  # the stale edit changed nothing

    issued = writer.post(f"{path}/issue", headers={"If-Match": '"2"'})
    assert issued.status_code == 200 and issued.headers["etag"] == '"3"'

    customer = reader.get("/customers/ACME")
    assert customer.headers["etag"] == f'"{customer.json()["version"]}"'
    problem(writer.patch("/customers/ACME", {"email": "a@b.c"}, headers={"If-Match": '"9"'}), 412)
    changed = writer.patch(
        "/customers/ACME", {"email": "a@b.c"}, headers={"If-Match": customer.headers["etag"]}
    )
    assert changed.status_code == 200 and changed.json()["email"] == "a@b.c"

    payment = writer.post("/payments", {"customer": "ACME", "amount": "5"})
    pid = payment.json()["id"]
    assert payment.headers["etag"] == '"1"'
    problem(writer.post(f"/payments/{pid}/complete", headers={"If-Match": '"0"'}), 412)
    assert (
        ok(writer.post(f"/payments/{pid}/complete", headers={"If-Match": '"1"'}))["status"]
        == "completed"
    )
