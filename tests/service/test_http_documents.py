"""Issue #19's documents over HTTP: a new due date (If-Match guarded), credit notes naming the
invoice's number and date and served as PDF, the credited column, and the seller's details."""

from __future__ import annotations

from typing import Any

from tests.pdf_support import flowing, page_texts
from tests.service.conftest import Api, issued_invoice, make_customer, ok

PROBLEM = "application/problem+json"


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == code, body
    return body


def test_a_new_due_date_is_guarded_by_if_match_and_shows_in_the_history(
    writer: Api, reader: Api
) -> None:
    make_customer(writer)
    invoice = issued_invoice(writer)
    path = f"/invoices/{invoice['id']}/due-date"
    body = {"due_date": "2026-11-30", "reason": "customer on holiday"}

    stale = writer.post(path, body, headers={"If-Match": '"1"'})
    problem(stale, 412, "version_mismatch")
    changed = writer.post(path, body, headers={"If-Match": f'"{invoice["version"]}"'})
    doc = ok(changed)
    assert doc["due_date"] == "2026-11-30" and doc["version"] == invoice["version"] + 1
    assert changed.headers["etag"] == f'"{doc["version"]}"'

    history = ok(reader.get(f"/invoices/{invoice['id']}/history"))
    last = history[-1]
    assert last["type"] == "Invoice.DueDateChanged"
    assert last["reason"] == "customer on holiday" and last["actor"] == "write-key"
    listed = ok(reader.get("/invoices"))
    assert [row["due_date"] for row in listed] == ["2026-11-30"]


def test_a_new_due_date_is_refused_clearly_and_writes_nothing(writer: Api, reader: Api) -> None:
    make_customer(writer)
    invoice = issued_invoice(writer)
    path = f"/invoices/{invoice['id']}/due-date"
    problem(writer.post(path, {"due_date": "2026-11-30"}), 422, "validation_error")
    problem(writer.post(path, {"due_date": "2026-11-30", "reason": ""}), 422, "validation_error")
    problem(writer.post(path, {"due_date": "30/11/2026", "reason": "x"}), 422, "validation_error")
    early = writer.post(path, {"due_date": "2026-01-01", "reason": "x"})
    assert problem(early, 422, "invalid_input")["field"] == "due_date"
    problem(reader.post(path, {"due_date": "2026-11-30", "reason": "x"}), 403, "forbidden")
    dates = writer.patch(f"/invoices/{invoice['id']}/dates", {"due_date": "2026-12-01"})
    assert "only its due date" in problem(dates, 409, "invoice_not_editable")["detail"]

    ok(writer.post(f"/invoices/{invoice['id']}/void", {"reason": "duplicate"}))
    void = writer.post(path, {"due_date": "2026-11-30", "reason": "x"})
    assert "is void" in problem(void, 409, "invalid_state")["detail"]
    draft = ok(writer.post("/invoices", {"customer": "ACME"}), 201)
    refused = writer.post(
        f"/invoices/{draft['id']}/due-date", {"due_date": "2026-11-30", "reason": "x"}
    )
    assert "is a draft" in problem(refused, 409, "invalid_state")["detail"]
    assert (
        len(ok(reader.get(f"/invoices/{invoice['id']}/history"))) == 4
    )  # draft, line, issue, void


def test_credit_notes_name_their_invoice_and_download_as_pdf(writer: Api, reader: Api) -> None:
    make_customer(writer)
    invoice = issued_invoice(writer)
    note = ok(
        writer.post(
            "/credit-notes",
            {"invoice": invoice["number"], "reason": "outage", "amount": "10.00"},
        ),
        201,
    )
    assert (note["invoice_number"], note["invoice_date"]) == (invoice["number"], "2026-10-01")
    assert ok(reader.get(f"/credit-notes/{note['number']}"))["invoice_date"] == "2026-10-01"

    pdf = reader.get(f"/credit-notes/{note['number']}.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert f'filename="{note["number"]}.pdf"' in pdf.headers["content-disposition"]
    text = flowing(page_texts(pdf.content)[0])
    assert f"Credits invoice {invoice['number']} of 1 Oct 2026" in text
    assert reader.get(f"/credit-notes/{note['id']}.pdf").content == pdf.content
    problem(reader.get("/credit-notes/CN-1999-000009.pdf"), 404, "not_found")

    row = ok(reader.get("/invoices"))[0]
    assert row["status"] == "partly_credited"
    assert (row["total"], row["credited"], row["paid"], row["amount_due"]) == (
        "120.00",
        "12.00",
        "0.00",
        "108.00",
    )
    assert [r["id"] for r in ok(reader.get("/invoices", status="partly_credited"))] == [
        invoice["id"]
    ]


def test_the_seller_details_are_set_checked_and_printed(admin: Api, writer: Api) -> None:
    details = {
        "registration_number": "01234567",
        "contact_email": "billing@northwind.example",
        "contact_phone": "+44 20 7946 0000",
        "iban": "de89 3704 0044 0532 0130 00",
        "bic": "COBADEFFXXX",
    }
    bad_iban = admin.patch("/settings", {**details, "iban": "DE88370400440532013000"})
    assert problem(bad_iban, 422, "invalid_bank_details")["field"] == "iban"
    bad_bic = admin.patch("/settings", {**details, "bic": "COBA1EFF"})
    assert problem(bad_bic, 422, "invalid_bank_details")["field"] == "bic"
    problem(writer.patch("/settings", details), 403, "forbidden")
    saved = ok(admin.patch("/settings", details))
    assert saved["iban"] == "DE89370400440532013000" and saved["bic"] == "COBADEFFXXX"

    make_customer(writer)
    invoice = issued_invoice(writer)
    text = flowing(page_texts(writer.get(f"/invoices/{invoice['id']}.pdf").content)[0])
    for expected in (
        "Company reg. no. 01234567",
        "billing@northwind.example",
        "Tel. +44 20 7946 0000",
        "Bank details IBAN DE89 3704 0044 0532 0130 00 · BIC COBADEFFXXX",
        "Tax point 1 Oct 2026",
    ):
        assert expected in text, expected
