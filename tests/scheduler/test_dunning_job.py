"""The daily dunning job: stored with the scheduler's jobs (so a missed day runs once on start),
run under a lease (one instance at a time), its outcome recorded; against a real SMTP server."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from domain.invoice import Invoice
from scheduler import jobs, registry
from scheduler.jobstore import stored_jobs
from tests.mail_support import free_port, smtp_server


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # the dunning storage: e2e
def test_the_dunning_job_is_stored_leased_and_sends_what_is_due(make_context, at, monkeypatch):
    at(2026, 10, 1, 9)
    ctx = make_context()
    with registry.job_writer(ctx):
        registry.ensure_dunning_job(ctx)
        registry.ensure_dunning_job(ctx)  # the next start finds it: left alone
    next_run, state = stored_jobs(ctx.db)["dunning"]
    assert next_run == datetime(2026, 10, 2, 1, 0, tzinfo=UTC).timestamp()
    assert state["func"] == registry.REMIND_INVOICES

    ctx.ledger.register_customer(
        "t", account_number="ACME", name="Acme", currency="GBP", tax_rate=D("0"),
        payment_terms_days=0, email="ap@acme.example", reminder_offsets=(0, 3),
    )  # fmt: skip
    invoice_id = ctx.ledger.create_invoice("ACME", "t")  # due the day it is dated
    ctx.ledger.add_line(invoice_id, "t", description="Port", quantity=D("1"), unit_price=D("9"))
    ctx.ledger.issue_invoice(invoice_id, "t")

    monkeypatch.delenv("TOLLBOOK_SMTP_HOST", raising=False)
    assert jobs.remind_invoices(ctx) == 0
    assert ctx.state.outcomes()[jobs.DUNNING].status == "skipped"

    port = free_port()
    for name, value in (("HOST", "127.0.0.1"), ("PORT", str(port)), ("TLS", "none"),
                        ("FROM", "billing@carrier.example")):  # fmt: skip
        monkeypatch.setenv(f"TOLLBOOK_SMTP_{name}", value)
    other = make_context()
    with smtp_server(port) as inbox:
        assert other.state.claim(jobs.DUNNING, other.instance, time.time(), 60)
        assert jobs.remind_invoices(ctx) == 0, "another instance holds the run"
        other.state.release(jobs.DUNNING, other.instance)
        assert jobs.remind_invoices(ctx) == 1
        assert jobs.remind_invoices(ctx) == 0  # the same day again: nothing new

    assert len(inbox.received) == 1
    outcome = ctx.state.outcomes()[jobs.DUNNING]
    assert (outcome.status, outcome.detail) == ("ok", "0 sent, 0 not sent")
    (sent,) = [e for e in ctx.ledger.events_of(invoice_id) if isinstance(e, Invoice.ReminderSent)]
    assert sent.actor == "scheduler" and sent.offset == 0


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_dunning_job_reminds_each_customer_on_its_own_day(make_context, at, monkeypatch):
    at(2026, 10, 1, 9)
    ctx = make_context()
    for account, zone in (("AKL", "Pacific/Auckland"), ("LAX", "America/Los_Angeles")):
        ctx.ledger.register_customer(
            "t", account_number=account, name=account, currency="GBP", tax_rate=D("0"),
            payment_terms_days=5, email=f"ap@{account.lower()}.example", time_zone=zone,
            reminder_offsets=(0,),
        )  # fmt: skip
        invoice_id = ctx.ledger.create_invoice(account, "t")  # due 2026-10-06
        ctx.ledger.add_line(invoice_id, "t", description="Port", quantity=D("1"), unit_price=D("9"))
        ctx.ledger.issue_invoice(invoice_id, "t")
    port = free_port()
    for name, value in (("HOST", "127.0.0.1"), ("PORT", str(port)), ("TLS", "none"),
                        ("FROM", "billing@carrier.example")):  # fmt: skip
        monkeypatch.setenv(f"TOLLBOOK_SMTP_{name}", value)

    with smtp_server(port) as inbox:
        at(2026, 10, 6, 1)  # the job's hour: Auckland 10-06 14:00, Los Angeles 10-05 18:00
        first = jobs.remind_invoices(ctx)
        at(2026, 10, 7, 1)  # Los Angeles 10-06 18:00
        second = jobs.remind_invoices(ctx)

    assert (first, second) == (1, 1)
    assert [rcpt for _, rcpt, _ in inbox.received] == [["ap@akl.example"], ["ap@lax.example"]]
