"""``POST /dunning/run`` and the reminders in ``GET /invoices/{ref}/history``, against a real
SMTP server on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.mail_support import attachment, free_port, smtp_server
from tests.service.conftest import issued_invoice, make_customer, ok

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # PG: e2e


def test_a_run_over_http_sends_each_stage_once_and_shows_in_the_history(writer, clock, monkeypatch):
    port = free_port()
    for name, value in (("HOST", "127.0.0.1"), ("PORT", str(port)), ("TLS", "none"),
                        ("FROM", "billing@carrier.example")):  # fmt: skip
        monkeypatch.setenv(f"TOLLBOOK_SMTP_{name}", value)
    make_customer(writer)
    changed = writer.patch(
        "/customers/ACME", {"email": "ap@acme.example", "reminder_offsets": [3, -2]}
    )
    assert ok(changed)["reminder_offsets"] == [-2, 3]
    ref = issued_invoice(writer)["number"]  # 2026-10-01, due 2026-10-15
    pdf = writer.get(f"/invoices/{ref}.pdf").content

    ahead = ok(writer.post("/dunning/run", {"as_of": "2026-10-18", "dry_run": True}))
    early = writer.post("/dunning/run", {"as_of": "2026-10-18"})
    clock.set(datetime(2026, 10, 18, 9, tzinfo=UTC))
    with smtp_server(port) as inbox:
        first = ok(writer.post("/dunning/run", {}))
        again = ok(writer.post("/dunning/run", {}))

    assert [(r["invoice"], r["offset"], r["status"]) for r in ahead["reminders"]] == [
        (ref, 3, "dry-run")
    ]
    assert early.status_code == 422 and early.json()["code"] == "invalid_date"
    assert early.json()["field"] == "as_of"
    assert (first["as_of"], first["sent"], again["sent"]) == ("2026-10-18", 1, 0)
    ((_, rcpt, message),) = inbox.received
    assert rcpt == ["ap@acme.example"] and attachment(message) == (f"{ref}.pdf", pdf)
    history = ok(writer.get(f"/invoices/{ref}/history"))
    (reminder,) = [e for e in history if e["type"] == "Invoice.ReminderSent"]
    assert reminder["data"]["offset"] == 3
    assert reminder["data"]["message_id"] == message["Message-ID"]


def test_without_smtp_a_run_is_a_503_and_a_dry_run_still_answers(writer, monkeypatch):
    monkeypatch.delenv("TOLLBOOK_SMTP_HOST", raising=False)
    make_customer(writer)
    ok(writer.patch("/customers/ACME", {"email": "ap@acme.example", "reminder_offsets": [-14]}))
    nothing_due = ok(writer.post("/dunning/run", {}))  # no SMTP needed to send nothing
    issued_invoice(writer)  # due in 14 days: its -14 stage is today

    down = writer.post("/dunning/run", {})
    dry = ok(writer.post("/dunning/run", {"dry_run": True}))

    assert nothing_due["reminders"] == []
    assert down.status_code == 503 and down.json()["code"] == "mail_not_configured"
    assert dry["sent"] == 0 and [r["status"] for r in dry["reminders"]] == ["dry-run"]


def test_each_reminder_says_the_customers_day_it_was_worked_out_on(writer, clock, monkeypatch):
    monkeypatch.delenv("TOLLBOOK_SMTP_HOST", raising=False)  # dry runs and not-yet need none
    for account, zone in (("AKL", "Pacific/Auckland"), ("LAX", "America/Los_Angeles")):
        make_customer(writer, account)
        details = {"email": f"ap@{account.lower()}.example", "time_zone": zone}
        ok(writer.patch(f"/customers/{account}", {**details, "reminder_offsets": [0]}))
        issued_invoice(writer, account)  # 2026-10-01, due 2026-10-15
    clock.set(datetime(2026, 10, 14, 11, 30, tzinfo=UTC))  # Auckland 10-15; LA 10-14

    today = ok(writer.post("/dunning/run", {"dry_run": True}))
    ahead = ok(writer.post("/dunning/run", {"as_of": "2026-10-15", "dry_run": True}))
    refused = writer.post("/dunning/run", {"as_of": "2026-10-16"})

    assert [(r["customer"], r["day"], r["status"]) for r in today["reminders"]] == [
        ("AKL", "2026-10-15", "dry-run")
    ]
    assert [(r["customer"], r["day"]) for r in ahead["reminders"]] == [
        ("AKL", "2026-10-15"), ("LAX", "2026-10-15"),
    ]  # fmt: skip
    assert refused.status_code == 422 and refused.json()["field"] == "as_of"
