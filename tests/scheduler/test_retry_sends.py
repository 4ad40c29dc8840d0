"""The running scheduler retries failed e-mail sends (docs/email.md "Retries"), one instance at
a time, against a real SMTP server on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

import time

import pytest

from adapters.mail.config import SmtpConfig
from adapters.mail.sending import request_send
from domain.invoice import Invoice
from scheduler import jobs, service
from scheduler.context import SchedulerSettings
from tests.helpers import customer, issued_invoice
from tests.mail_support import free_port, smtp_server


def _sent(ledger, number: str) -> list[Invoice.Sent]:
    return [e for e in ledger.events_of(ledger.invoice_id(number)) if isinstance(e, Invoice.Sent)]


def test_the_scheduler_retries_a_due_send_once_and_never_beside_another_instance(
    make_context, clock
):
    port = free_port()
    env = {
        "TOLLBOOK_SMTP_HOST": "127.0.0.1",
        "TOLLBOOK_SMTP_PORT": str(port),
        "TOLLBOOK_SMTP_TLS": "none",
        "TOLLBOOK_SMTP_FROM": "billing@carrier.example",
    }
    ctx = make_context()
    ctx.mail = SmtpConfig.from_env(env)
    ctx.settings = SchedulerSettings(retry_sends_every=0.2, sync_every=0.2)
    other = make_context()
    other.mail = ctx.mail
    customer(ctx.ledger)
    number = issued_invoice(ctx.ledger)
    # the server is down: the request is recorded as failed, due again a minute later
    failed = request_send(ctx.ledger, number, "t", env, to="ap@acme.example", key="oct")
    assert failed.status == "failed" and failed.retry_at is not None
    not_yet = jobs.retry_sends(ctx)
    clock.advance(minutes=2)

    with smtp_server(port) as inbox:
        assert other.state.claim(jobs.RETRY_SENDS, other.instance, time.time(), 60)
        held = jobs.retry_sends(ctx)
        other.state.release(jobs.RETRY_SENDS, other.instance)
        scheduler = service.start(ctx)
        try:
            deadline = time.monotonic() + 10
            while not _sent(ctx.ledger, number) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)  # more passes: nothing is due any more
        finally:
            service.stop(ctx, scheduler)

    assert not_yet == 0 and held == 0
    ((_, rcpt, message),) = inbox.received
    assert rcpt == ["ap@acme.example"]
    assert message["Message-ID"] == failed.prepared.delivery.message_id
    (sent,) = _sent(ctx.ledger, number)
    assert sent.send_id == failed.prepared.delivery.send_id and sent.actor == "scheduler"
    assert ctx.state.outcomes()[jobs.RETRY_SENDS].status == "ok"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # nothing stored differs
def test_without_smtp_the_job_is_not_scheduled_and_skips(make_context):
    ctx = make_context()
    scheduler = service.start(ctx)
    try:
        assert scheduler.get_job("retry-sends") is None
    finally:
        service.stop(ctx, scheduler)
    assert jobs.retry_sends(ctx) == 0
    assert ctx.state.outcomes()[jobs.RETRY_SENDS].status == "skipped"
