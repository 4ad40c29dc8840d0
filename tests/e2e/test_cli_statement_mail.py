"""``tollbook customer statement --send``: the statement's PDF by e-mail to a real SMTP server on
127.0.0.1 (aiosmtpd), recorded as ``Customer.StatementSent``, once per period."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import pytest

from adapters.mail.sending import BACKOFF
from domain.changes import CustomerChanges
from domain.customer import Customer
from tests.mail_support import attachment, smtp_env, smtp_server
from tests.statement_support import worked_case

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
NOVEMBER = ("customer", "statement", "ACME", "--from", "2026-11-01", "--to", "2026-11-30")


@pytest.fixture
def smtp_port(monkeypatch: pytest.MonkeyPatch) -> int:
    return smtp_env(monkeypatch)


def sends(ledger, kind):
    return [e for e in ledger.events_of(ledger.customer("ACME").id) if isinstance(e, kind)]


def test_a_statement_is_sent_once_per_period_with_its_pdf(ledger, clock, tollbook, smtp_port,
                                                           tmp_path):  # fmt: skip
    worked_case(ledger, clock)
    ledger.change_customer("ACME", CustomerChanges(email="ap@acme.example, cfo@acme.example"), "t")
    pdf_file = tmp_path / "statement.pdf"
    assert tollbook(*NOVEMBER, "--pdf", str(pdf_file)).code == 0
    with smtp_server(smtp_port) as inbox:
        dry = tollbook(*NOVEMBER, "--send", "--dry-run", "--json")
        first = tollbook(*NOVEMBER, "--send", "--json")
        again = tollbook(*NOVEMBER, "--send", "--json")
        other = tollbook(*NOVEMBER, "--send", "--key", "resend", "--recipients",
                         "ar@acme.example", "--json")  # fmt: skip

    assert dry.code == 0 and dry.json()["status"] == "dry-run"
    assert [first.json()["status"], again.json()["status"]] == ["sent", "already-sent"]
    assert other.json()["status"] == "sent"
    (_, rcpt, message), (_, rcpt2, _) = inbox.received  # the dry run and the repeat sent nothing
    assert rcpt == ["ap@acme.example", "cfo@acme.example"] and rcpt2 == ["ar@acme.example"]
    assert message["Message-ID"] == first.json()["message_id"]
    assert message["Subject"].startswith("Statement of account ACME, 2026-11-01 to 2026-11-30")
    name, data = attachment(message)
    assert name == "statement-ACME-2026-11-01-2026-11-30-GBP.pdf"
    assert data == pdf_file.read_bytes()
    body = " ".join(message.get_body(("plain",)).get_content().split())
    assert "closing balance -5.00 GBP (owed on invoices 70.00, credit on account 75.00)" in body
    recorded = sends(ledger, Customer.StatementSent)
    assert len(recorded) == 2
    sent = recorded[0]
    assert (sent.period_from, sent.period_to, sent.currency) == (
        date(2026, 11, 1), date(2026, 11, 30), "GBP"
    )  # fmt: skip
    assert sent.recipients == ("ap@acme.example", "cfo@acme.example")
    assert sent.message_id == first.json()["message_id"] and sent.actor == "finance:test"
    assert sent.attachment_sha256 == hashlib.sha256(data).hexdigest()


def test_a_failed_send_is_recorded_and_exits_1(ledger, clock, tollbook, smtp_port):
    worked_case(ledger, clock)
    # nothing listens on the port: the server is down
    failed = tollbook(*NOVEMBER, "--send", "--recipients", "ap@acme.example", "--json")
    assert failed.code == 1 and failed.json()["status"] == "failed"
    (event,) = sends(ledger, Customer.StatementSendFailed)
    assert event.message_id == failed.json()["message_id"] and event.error
    assert sends(ledger, Customer.StatementSent) == []
    # no address on the customer and none given: refused before anything is written
    nobody = tollbook(*NOVEMBER, "--send")
    assert nobody.code == 2 and "no billing e-mail address" in nobody.err
    assert len(ledger.events_of(ledger.customer("ACME").id)) == 2


def test_a_failed_statement_send_is_retried_with_back_off_by_retry_sends(
    ledger, clock, tollbook, smtp_port
):
    worked_case(ledger, clock)
    failed = tollbook(*NOVEMBER, "--send", "--recipients", "ap@acme.example", "--json")
    assert failed.json()["status"] == "failed" and failed.json()["retry_at"]
    (first,) = sends(ledger, Customer.StatementSendFailed)
    assert first.attempt == 1 and first.retry_at is not None
    assert first.retry_at.isoformat() == failed.json()["retry_at"]
    assert BACKOFF[0] - timedelta(seconds=5) < first.retry_at - first.timestamp <= BACKOFF[0]

    with smtp_server(smtp_port) as inbox:
        early = tollbook("invoice", "retry-sends", "--json")  # its back-off has not passed
        clock.advance(minutes=2)
        retried = tollbook("invoice", "retry-sends", "--json")
        again = tollbook("invoice", "retry-sends", "--json")

    assert early.json() == [] and again.json() == []
    [outcome] = retried.json()
    assert (outcome["kind"], outcome["status"]) == ("statement", "sent")
    # the same request: the same Message-ID, the same addresses, the period's PDF
    assert outcome["message_id"] == failed.json()["message_id"]
    [(_, rcpt, message)] = inbox.received
    assert rcpt == ["ap@acme.example"]
    assert attachment(message)[0] == "statement-ACME-2026-11-01-2026-11-30-GBP.pdf"
    [sent] = sends(ledger, Customer.StatementSent)
    assert (sent.period_from, sent.period_to) == (date(2026, 11, 1), date(2026, 11, 30))
    # asked again by hand: the period went out
    assert (
        tollbook(*NOVEMBER, "--send", "--recipients", "ap@acme.example", "--json").json()["status"]
        == "already-sent"
    )
