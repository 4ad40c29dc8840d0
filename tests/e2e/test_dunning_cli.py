"""``tollbook invoice remind`` and ``customer --reminders`` through the CLI, against a real SMTP
server on 127.0.0.1 (aiosmtpd), on SQLite and PostgreSQL: the storage behaviour of dunning.
The schedule's finer rules run on the memory store (tests/integration/test_dunning.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from domain.invoice import Invoice
from tests.mail_support import attachment, free_port, smtp_server


@pytest.fixture
def smtp_port(monkeypatch: pytest.MonkeyPatch) -> int:
    port = free_port()
    monkeypatch.setenv("TOLLBOOK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("TOLLBOOK_SMTP_PORT", str(port))
    monkeypatch.setenv("TOLLBOOK_SMTP_TLS", "none")
    monkeypatch.setenv("TOLLBOOK_SMTP_FROM", "billing@carrier.example")
    return port


def _on(clock, month: int, day: int) -> None:
    clock.set(datetime(2026, month, day, 9, 0, tzinfo=UTC))


def test_reminders_go_out_at_their_stages_once_each_and_stop_when_paid(
    ledger, tollbook, smtp_port, clock, tmp_path
):
    added = tollbook(
        "customer", "add", "ZRH01", "--name", "Zürich Telekom AG", "--currency", "CHF",
        "--email", "ap@zuerich.example", "--terms", "30", "--tax-rate", "0",
        "--reminders", "14, -7,0", "--json",
    )  # fmt: skip
    assert added.code == 0, added.err
    assert added.json()["reminder_offsets"] == [-7, 0, 14]
    invoice_id = ledger.create_invoice("ZRH01", "t")  # dated 2026-10-01, due 2026-10-31
    ledger.add_line(invoice_id, "t", description="Transit", quantity=D("1"), unit_price=D("100"))
    number = ledger.issue_invoice(invoice_id, "t")
    pdf = tmp_path / "invoice.pdf"
    assert tollbook("invoice", "pdf", number, "-o", str(pdf)).code == 0

    with smtp_server(smtp_port) as inbox:
        _on(clock, 10, 23)  # 8 days before: no stage yet
        early = tollbook("invoice", "remind", "--json")
        preview = tollbook("invoice", "remind", "--dry-run", "--as-of", "2026-10-24")
        assert inbox.received == []
        _on(clock, 10, 24)
        first = tollbook("invoice", "remind", "--json")
        again = tollbook("invoice", "remind", "--json")  # the same day: nothing new
        _on(clock, 11, 14)  # +14
        overdue = tollbook("invoice", "remind", "--json")
        payment = ledger.record_payment("ZRH01", "t", amount=D("100.00"), status="completed")
        ledger.allocate(payment, [(number, D("100.00"))], "t")
        _on(clock, 11, 30)
        paid = tollbook("invoice", "remind", "--json")

    assert early.code == 0 and early.json() == []
    assert preview.code == 0, preview.err
    assert "dry run: nothing sent" in preview.out and "7 days before the due date" in preview.out
    assert number in preview.out and "ap@zuerich.example" in preview.out
    (sent,) = first.json()
    assert (sent["status"], sent["offset"], sent["outstanding"]) == ("sent", -7, "100.00")
    assert again.json() == []
    assert [r["offset"] for r in overdue.json()] == [14]
    assert paid.json() == [], "a paid invoice gets no more reminders"
    assert len(inbox.received) == 2
    (_, rcpt, message), (_, _, later) = inbox.received
    assert rcpt == ["ap@zuerich.example"]
    assert message["Subject"] == f"Reminder: invoice {number}, 100.00 CHF due 2026-10-31"
    assert later["Subject"].startswith(f"Overdue: invoice {number}")
    assert "14 days overdue" in later.get_body(("plain",)).get_content()
    assert attachment(message) == (f"{number}.pdf", pdf.read_bytes())
    events = [e for e in ledger.events_of(invoice_id) if isinstance(e, Invoice.ReminderSent)]
    assert [(e.offset, e.message_id) for e in events] == [
        (-7, message["Message-ID"]),
        (14, later["Message-ID"]),
    ]
    history = tollbook("invoice", "history", number)
    assert "payment reminder sent, 7 days before the due date (2026-10-31)" in history.out
    assert "14 days overdue" in history.out


def test_a_refused_schedule_writes_nothing(ledger, tollbook):
    assert tollbook("customer", "add", "ACME", "--name", "Acme").code == 0
    before = len(ledger.events_of(ledger.customer("ACME").id))
    repeated = tollbook("customer", "update", "ACME", "--reminders", "7,7")
    far = tollbook("customer", "update", "ACME", "--reminders", "400")
    assert repeated.code == 2 and "+7 repeated" in repeated.err
    assert far.code == 2 and "between -90 and +365" in far.err
    assert len(ledger.events_of(ledger.customer("ACME").id)) == before
    cleared = tollbook("customer", "update", "ACME", "--reminders", "-3, 10")
    assert cleared.code == 0 and ledger.customer("ACME").latest.reminder_offsets == (-3, 10)
    assert "-3, +10" in tollbook("customer", "show", "ACME").out  # as --reminders takes them


def test_each_customer_is_reminded_on_its_own_day_and_as_of_only_where_it_has_begun(
    ledger, tollbook, smtp_port, clock
):
    for account, zone in (("AKL", "Pacific/Auckland"), ("LAX", "America/Los_Angeles")):
        added = tollbook(
            "customer", "add", account, "--name", f"{account} Ltd", "--currency", "GBP",
            "--email", f"ap@{account.lower()}.example", "--terms", "30", "--tax-rate", "0",
            "--time-zone", zone, "--reminders", "0",
        )  # fmt: skip
        assert added.code == 0, added.err
        invoice_id = ledger.create_invoice(account, "t")  # dated 2026-10-01, due 2026-10-31
        ledger.add_line(invoice_id, "t", description="Port", quantity=D("1"), unit_price=D("5"))
        ledger.issue_invoice(invoice_id, "t")

    with smtp_server(smtp_port) as inbox:
        clock.set(datetime(2026, 10, 30, 11, 30, tzinfo=UTC))  # Auckland 10-31; LA 10-30
        today = tollbook("invoice", "remind", "--json")
        as_of = tollbook("invoice", "remind", "--as-of", "2026-10-31", "--json")
        preview = tollbook("invoice", "remind", "--dry-run", "--as-of", "2026-10-31")
        later = tollbook("invoice", "remind", "--as-of", "2026-11-01")

    assert [(r["customer"], r["day"], r["status"]) for r in today.json()] == [
        ("AKL", "2026-10-31", "sent")
    ]
    assert [(r["customer"], r["status"]) for r in as_of.json()] == [("LAX", "not-yet")]
    assert "LAX" in preview.out and "dry-run" in preview.out
    assert later.code == 2 and "not today yet in any time zone" in later.err
    assert [rcpt for _, rcpt, _ in inbox.received] == [["ap@akl.example"]]
