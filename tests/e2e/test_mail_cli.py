"""``tollbook invoice send`` / ``retry-sends`` against a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal as D
from email.utils import parsedate_to_datetime

import pytest

from adapters.describe import describe
from domain.credit_note import CreditNote
from domain.invoice import Invoice
from tests.mail_support import Inbox, attachment, smtp_env, smtp_server


@pytest.fixture
def smtp_port(monkeypatch: pytest.MonkeyPatch) -> int:
    return smtp_env(monkeypatch)


@pytest.fixture
def issued(ledger):
    ledger.register_customer(
        "t",
        account_number="ZRH01",
        name="Zürich Telekom AG",
        currency="CHF",
        tax_rate=D("8.1"),
        email="ap@zuerich.example, Finance@zuerich.example",
    )
    invoice_id = ledger.create_invoice("ZRH01", "t", period_start=date(2026, 10, 1))
    ledger.add_line(invoice_id, "t", description="Transit", quantity=D("1"), unit_price=D("100"))
    return ledger.issue_invoice(invoice_id, "t")


def _events(ledger, number, kind):
    return [e for e in ledger.events_of(ledger.invoice_id(number)) if isinstance(e, kind)]


def test_the_message_received_carries_the_invoice_pdf(
    ledger, tollbook, issued, smtp_port, tmp_path
):
    pdf_file = tmp_path / "invoice.pdf"
    assert tollbook("invoice", "pdf", issued, "-o", str(pdf_file)).code == 0
    with smtp_server(smtp_port) as inbox:
        result = tollbook("invoice", "send", issued, "--json")

    assert result.code == 0, result.err
    report = result.json()
    ((mail_from, rcpt, message),) = inbox.received
    assert mail_from == "billing@carrier.example"
    assert rcpt == ["ap@zuerich.example", "Finance@zuerich.example"]
    assert message["From"] == "billing@carrier.example"
    assert message["To"] == "ap@zuerich.example, Finance@zuerich.example"
    invoice = ledger.invoice(issued)
    assert message["Subject"] == f"Invoice {issued} from {invoice.billing.seller_name}"
    assert message["Message-ID"] == report["message_id"]
    assert report["message_id"].endswith("@carrier.example>")
    assert parsedate_to_datetime(message["Date"]).year == 2026
    name, data = attachment(message)
    assert name == f"{issued}.pdf" and data == pdf_file.read_bytes()
    body = message.get_body(("plain",)).get_content()
    assert f"{invoice.totals.total} CHF" in body and "Dear Zürich Telekom AG" in body
    (sent,) = _events(ledger, issued, Invoice.Sent)
    assert sent.recipients == ("ap@zuerich.example", "Finance@zuerich.example")
    assert sent.message_id == report["message_id"] and sent.actor == "finance:test"
    assert sent.attachment_sha256 == hashlib.sha256(data).hexdigest()


def test_dry_run_shows_what_would_go_and_writes_nothing(ledger, tollbook, issued, smtp_port):
    before = len(ledger.events_of(ledger.invoice_id(issued)))
    with smtp_server(smtp_port) as inbox:
        result = tollbook(
            "invoice", "send", issued, "--dry-run", "--to", "x@other.example", "--json"
        )

    assert result.code == 0, result.err
    report = result.json()
    assert report["status"] == "dry-run" and report["to"] == ["x@other.example"]
    assert report["attachment"] == f"{issued}.pdf" and report["attachment_size"] > 1000
    assert inbox.received == []
    assert len(ledger.events_of(ledger.invoice_id(issued))) == before


def test_only_issued_invoices_are_sent(ledger, tollbook, issued, smtp_port):
    draft = ledger.create_invoice("ZRH01", "t", period_start=date(2026, 11, 1))
    ledger.add_line(draft, "t", description="x", quantity=D("1"), unit_price=D("1"))
    with smtp_server(smtp_port) as inbox:
        drafted = tollbook("invoice", "send", str(draft))
        ledger.void_invoice(issued, "t", "wrong customer")
        voided = tollbook("invoice", "send", issued)

    assert drafted.code != 0 and "a draft: only issued invoices are sent" in drafted.err
    assert voided.code != 0 and "void: only issued invoices are sent" in voided.err
    assert inbox.received == []


def test_server_down_is_recorded_and_one_retry_sends_exactly_once(
    ledger, tollbook, issued, smtp_port, clock
):
    down = tollbook("invoice", "send", issued, "--key", "october")  # nothing listens yet

    assert down.code == 1 and "not sent" in down.out
    (failed,) = _events(ledger, issued, Invoice.SendFailed)
    assert failed.attempt == 1 and failed.retry_at is not None
    with smtp_server(smtp_port) as inbox:
        early = tollbook("invoice", "retry-sends", "--json")
        assert early.json() == [] and inbox.received == []  # back-off not over yet
        clock.advance(minutes=2)
        first = tollbook("invoice", "retry-sends", "--json")
        again = tollbook("invoice", "retry-sends", "--json")
        repeat = tollbook("invoice", "send", issued, "--key", "october", "--json")

    assert [r["status"] for r in first.json()] == ["sent"] and again.json() == []
    assert repeat.json()["status"] == "already-sent"
    assert len(inbox.received) == 1
    assert inbox.received[0][2]["Message-ID"] == failed.message_id  # the same message, retried
    (sent,) = _events(ledger, issued, Invoice.Sent)
    assert sent.send_id == failed.send_id
    # the invoice's history says why it failed and when it is tried again, then that it went
    assert describe(failed) == (
        "e-mail to ap@zuerich.example, Finance@zuerich.example failed (attempt 1):"
        f" {failed.error}; retried from {failed.retry_at:%Y-%m-%d %H:%M} UTC"
    )
    assert "Connection refused" in failed.error
    assert describe(sent) == (
        f"e-mailed {issued}.pdf to ap@zuerich.example, Finance@zuerich.example, {sent.message_id}"
    )


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # back-off, not storage
def test_a_request_failing_six_times_is_given_up_and_says_so(
    ledger, tollbook, issued, smtp_port, clock
):
    first = tollbook("invoice", "send", issued, "--key", "october", "--json")
    tries = [first.json()]
    for wait in (1, 5, 30, 120, 720):  # docs/email.md: the back-off after attempts 1..5
        clock.advance(minutes=wait - 1)
        assert tollbook("invoice", "retry-sends", "--json").json() == []  # not yet
        clock.advance(minutes=1)
        (attempt,) = tollbook("invoice", "retry-sends", "--json").json()
        tries.append(attempt)
    clock.advance(days=30)
    after = tollbook("invoice", "retry-sends", "--json")

    assert [t["status"] for t in tries] == ["failed"] * 6
    assert [t["retry_at"] is None for t in tries] == [False] * 5 + [True]
    assert after.json() == []  # given up: nothing is tried again
    failures = _events(ledger, issued, Invoice.SendFailed)
    assert [f.attempt for f in failures] == [1, 2, 3, 4, 5, 6]
    assert describe(failures[-1]).endswith("given up: send again with a new request")


def test_a_refused_recipient_is_recorded_and_every_refusal_is_a_failure(
    ledger, tollbook, issued, smtp_port
):
    with smtp_server(smtp_port, Inbox(refuse={"Finance@zuerich.example"})) as inbox:
        partly = tollbook("invoice", "send", issued, "--json")
        inbox.refuse.add("ap@zuerich.example")
        nobody = tollbook("invoice", "send", issued, "--json")

    assert partly.code == 0 and partly.json()["refused"] == ["Finance@zuerich.example"]
    (sent,) = _events(ledger, issued, Invoice.Sent)
    assert sent.recipients == ("ap@zuerich.example",)
    assert sent.refused == ("Finance@zuerich.example",)
    assert describe(sent).endswith("; refused Finance@zuerich.example")
    assert nobody.code == 1 and "550" in nobody.json()["error"]
    (failed,) = _events(ledger, issued, Invoice.SendFailed)
    assert "every recipient refused" in failed.error
    assert len(inbox.received) == 1


def test_a_credit_note_is_sent_with_its_pdf_and_retried_once(
    ledger, tollbook, issued, smtp_port, clock, tmp_path
):
    note = ledger.issue_credit_note(issued, "t", "overcharged", amount=D("10"))
    pdf_file = tmp_path / "note.pdf"
    assert tollbook("credit-note", "pdf", note, "-o", str(pdf_file)).code == 0

    down = tollbook("credit-note", "send", note, "--json")
    clock.advance(minutes=2)
    with smtp_server(smtp_port) as inbox:
        retried = tollbook("invoice", "retry-sends", "--json")
        again = tollbook("invoice", "retry-sends", "--json")

    assert down.code == 1 and down.json()["status"] == "failed"
    assert [r["status"] for r in retried.json()] == ["sent"] and again.json() == []
    ((_, rcpt, message),) = inbox.received
    assert rcpt == ["ap@zuerich.example", "Finance@zuerich.example"]
    assert message["Subject"].startswith(f"Credit note {note} for invoice {issued}")
    assert attachment(message) == (f"{note}.pdf", pdf_file.read_bytes())
    note_id = ledger.credit_note(note).id
    (sent,) = [e for e in ledger.events_of(note_id) if isinstance(e, CreditNote.Sent)]
    assert sent.message_id == message["Message-ID"] == down.json()["message_id"]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # documents, not storage
def test_with_a_signing_key_the_attachment_is_signed(
    ledger, tollbook, issued, smtp_port, tmp_path, monkeypatch
):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    from adapters.einvoice.signing import SigningConfig
    from adapters.einvoice.verify import verify
    from adapters.pdf.config import PdfConfig
    from tests.einvoice_support import certificate

    key, cert = certificate("Carrier Ltd")
    p12 = tmp_path / "seller.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(b"s", key, cert, None, serialization.NoEncryption())
    )
    monkeypatch.setenv("TOLLBOOK_SIGNING_PKCS12", str(p12))
    unsigned = tmp_path / "unsigned.pdf"
    assert tollbook("invoice", "pdf", issued, "--no-sign", "-o", str(unsigned)).code == 0

    with smtp_server(smtp_port) as inbox:
        result = tollbook("invoice", "send", issued, "--json")

    assert result.code == 0, result.err
    ((_, _, message),) = inbox.received
    _, data = attachment(message)
    assert data.startswith(unsigned.read_bytes()) and len(data) > unsigned.stat().st_size
    assert result.json()["attachment_sha256"] == hashlib.sha256(data).hexdigest()
    seller = SigningConfig.from_env()
    assert seller is not None
    verdict = verify(data, ledger, PdfConfig(), seller.certificate())
    assert (verdict.outcome, verdict.signature.status) == ("verified", "intact")
