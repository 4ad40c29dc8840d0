"""``POST /invoices/{ref}/send`` against a real SMTP server on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

import pytest

from tests.mail_support import attachment, smtp_env, smtp_server
from tests.service.conftest import issued_invoice, make_customer, ok


@pytest.fixture
def smtp_port(monkeypatch: pytest.MonkeyPatch) -> int:
    return smtp_env(monkeypatch)


def test_send_over_http_delivers_the_pdf_once_per_key(writer, smtp_port):
    make_customer(writer)
    invoice = issued_invoice(writer)
    ref = invoice["number"]
    pdf = writer.get(f"/invoices/{ref}.pdf").content
    stale = {"If-Match": '"1"'}
    with smtp_server(smtp_port) as inbox:
        refused = writer.post(f"/invoices/{ref}/send", {"to": ["ap@acme.example"]}, headers=stale)
        dry = ok(writer.post(f"/invoices/{ref}/send", {"to": ["ap@acme.example"], "dry_run": True}))
        body = {"to": ["ap@acme.example"], "key": "october"}
        first = ok(writer.post(f"/invoices/{ref}/send", body))
        second = ok(writer.post(f"/invoices/{ref}/send", body))

    assert refused.status_code == 412
    assert dry["status"] == "dry-run" and dry["attachment_size"] == len(pdf)
    assert first["status"] == "sent" and second["status"] == "already-sent"
    ((_, rcpt, message),) = inbox.received
    assert rcpt == ["ap@acme.example"] and message["Message-ID"] == first["message_id"]
    assert attachment(message) == (f"{ref}.pdf", pdf)
    history = ok(writer.get(f"/invoices/{ref}/history"))
    assert [e["type"] for e in history].count("Invoice.Sent") == 1


def test_a_draft_is_refused_and_a_server_down_is_a_recorded_202(writer, smtp_port):
    make_customer(writer)
    draft = ok(writer.post("/invoices", {"customer": "ACME"}), 201)
    invoice = issued_invoice(writer)

    drafted = writer.post(f"/invoices/{draft['id']}/send", {"to": ["ap@acme.example"]})
    down = writer.post(f"/invoices/{invoice['number']}/send", {"to": ["ap@acme.example"]})

    assert drafted.status_code == 409 and drafted.json()["code"] == "invalid_state"
    assert down.status_code == 202 and down.json()["status"] == "failed"
    assert down.json()["retry_at"] is not None


def test_no_smtp_configuration_is_a_503_problem(writer, monkeypatch):
    monkeypatch.delenv("TOLLBOOK_SMTP_HOST", raising=False)
    make_customer(writer)
    invoice = issued_invoice(writer)

    response = writer.post(f"/invoices/{invoice['number']}/send", {"to": ["ap@acme.example"]})

    assert response.status_code == 503 and response.json()["code"] == "mail_not_configured"


def test_a_credit_note_is_sent_over_http_once_per_key_and_a_failure_is_a_202(writer, smtp_port):
    make_customer(writer)
    invoice = issued_invoice(writer)
    note = ok(writer.post("/credit-notes", {"invoice": invoice["number"], "amount": "10.00",
                                           "reason": "overcharge"}), 201)  # fmt: skip
    ref = note["number"]
    pdf = writer.get(f"/credit-notes/{ref}.pdf").content
    body = {"to": ["ap@acme.example"], "key": "refund-1"}
    down = writer.post(f"/credit-notes/{ref}/send", {"to": ["ap@acme.example"]})
    with smtp_server(smtp_port) as inbox:
        stale = writer.post(f"/credit-notes/{ref}/send", body, headers={"If-Match": '"99"'})
        first = ok(writer.post(f"/credit-notes/{ref}/send", body))
        second = ok(writer.post(f"/credit-notes/{ref}/send", body))
    unknown = writer.post("/credit-notes/CN-2026-999999/send", body)

    assert down.status_code == 202 and down.json()["status"] == "failed"
    assert down.json()["kind"] == "credit_note" and down.json()["retry_at"] is not None
    assert stale.status_code == 412
    assert first["status"] == "sent" and second["status"] == "already-sent"
    assert first["kind"] == "credit_note" and first["document_id"] == note["id"]
    ((_, rcpt, message),) = inbox.received
    assert rcpt == ["ap@acme.example"] and message["Message-ID"] == first["message_id"]
    assert attachment(message) == (f"{ref}.pdf", pdf)
    assert unknown.status_code == 404
