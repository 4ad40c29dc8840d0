"""The scheduled jobs, one small function each. Every job takes the scheduler's context first.

- ``bill_customer``: a customer's invoice schedule. Bills every period of the schedule that
  has ended and is not yet billed (normally the one that just ended; after downtime, each
  missed one), through the ordinary, idempotent billing run.
- ``export_connection``: one accounting connection's exporter, under a lease.
- ``deliver_webhooks``: a webhook delivery pass (subscription leases are the worker's own).
- ``remind_invoices``: the daily dunning run (adapters/mail/reminders.py), under a lease.
- ``retry_sends``: failed e-mail sends whose back-off has passed, under a lease.

The running scheduler (scheduler/service.py) fires them; the invoice jobs are stored by
scheduler/registry.py, one per customer schedule.
"""

from __future__ import annotations

import time

import structlog

from adapters.accounting.exporter import Exporter
from adapters.accounting.factory import client_for, policy_for
from adapters.accounting.store import ExportStore
from adapters.config_error import ConfigError
from adapters.mail import reminders
from domain.usage import Period
from scheduler.context import JobContext
from scheduler.invoice_runs import bill_due_periods

log = structlog.get_logger("tollbook.scheduler")


class StopRequested(Exception):
    """The service is shutting down: end a long job between two steps."""


def bill_customer(customer_id: str, ctx: JobContext | None = None) -> list[tuple[Period, int]]:
    """A customer's invoice schedule: bills its ended, unbilled periods
    (``invoice_runs.bill_due_periods``). Stored as a job with the customer id only; the job
    store passes ``ctx``."""
    return bill_due_periods(_bound(ctx), customer_id)


def _bound(ctx: JobContext | None) -> JobContext:
    if ctx is None:
        raise RuntimeError("scheduled jobs run under the tollbook scheduler, which passes ctx")
    return ctx


def export_connection(ctx: JobContext, name: str) -> None:
    """Run one connection's exporter, unless another instance is running it."""
    connection = ctx.connections.get(name)
    job_id = f"export:{name}"
    if connection is None:
        ctx.state.record(job_id, "skipped", "connection no longer configured")
        return
    lease = f"export:{name}"
    seconds = ctx.settings.lease_seconds
    if not ctx.state.claim(lease, ctx.instance, time.time(), seconds):
        log.info("export run skipped: another instance holds it", job=job_id)
        return
    renewed = [time.monotonic()]

    def between_events(position: int) -> None:
        del position
        if ctx.stopping.is_set():
            raise StopRequested
        if time.monotonic() - renewed[0] > seconds / 3:
            ctx.state.claim(lease, ctx.instance, time.time(), seconds)
            renewed[0] = time.monotonic()

    try:
        client = client_for(connection, policy_for(connection))
        store = ExportStore(ctx.db)
        report = Exporter(ctx.ledger, store, connection, client, on_event=between_events).run()
        status = "stopped" if report.stopped else "ok"
        ctx.state.record(job_id, status, report.stopped or f"position {report.position}")
    except StopRequested:
        ctx.state.record(job_id, "interrupted", "service stopping; resumes on the next run")
    finally:
        ctx.state.release(lease, ctx.instance)


def deliver_webhooks(ctx: JobContext, budget: float = 30.0) -> int:
    """Queue and deliver webhook events until nothing is left to do (or ``budget`` seconds)."""
    worker = ctx.webhook_worker
    assert worker is not None
    started = time.monotonic()
    delivered = 0
    while not ctx.stopping.is_set() and time.monotonic() - started < budget:
        report = worker.run_once()
        delivered += report.delivered
        if not (report.queued or report.delivered):
            break
    return delivered


#: the dunning job's id, lease and actor on the events it records
DUNNING = "dunning"
#: not renewed while it runs (a run of a few hundred PDFs takes minutes): a crashed run holds
#: the next one off for half an hour at most
DUNNING_LEASE_SECONDS = 1800.0


def remind_invoices(ctx: JobContext | None = None) -> int:
    """The daily dunning run: each open invoice gets the reminder its customer's schedule has
    due (docs/dunning.md). Stored as a job with no arguments; the job store passes ``ctx``.
    One instance at a time (a lease): two would both send a stage before either recorded it.
    Returns how many reminders were sent."""
    ctx = _bound(ctx)
    if not ctx.state.claim(DUNNING, ctx.instance, time.time(), DUNNING_LEASE_SECONDS):
        log.info("dunning run skipped: another instance holds it", job=DUNNING)
        return 0
    try:
        done = reminders.run(ctx.ledger, ctx.environ, "scheduler")
    except ConfigError as error:  # SMTP not configured: nothing can be sent, say so
        ctx.state.record(DUNNING, "skipped", str(error))
        log.warning("dunning run skipped", job=DUNNING, error=str(error))
        return 0
    finally:
        ctx.state.release(DUNNING, ctx.instance)
    sent = sum(1 for r in done if r.status == "sent")
    failed = sum(1 for r in done if r.status in ("failed", "no-address"))
    ctx.state.record(DUNNING, "failed" if failed else "ok", f"{sent} sent, {failed} not sent")
    log.info("dunning run", job=DUNNING, sent=sent, not_sent=failed)
    return sent


#: the lease that keeps send retries to one instance at a time
RETRY_SENDS = "retry-sends"


def retry_sends(ctx: JobContext) -> int:
    """Attempt again the failed invoice and credit-note e-mails whose ``retry_at`` has come
    (``tollbook invoice retry-sends``, docs/email.md "Retries"), unless another instance holds
    the lease: two at once would both find the same request due and send it twice. Returns
    how many requests were attempted."""
    from adapters.mail.sending import retry_due

    if ctx.mail is None:
        ctx.state.record(RETRY_SENDS, "skipped", "no SMTP configured (TOLLBOOK_SMTP_HOST)")
        return 0
    seconds = ctx.settings.lease_seconds
    if not ctx.state.claim(RETRY_SENDS, ctx.instance, time.time(), seconds):
        log.info("send retries skipped: another instance holds them", job=RETRY_SENDS)
        return 0

    def before_each() -> None:
        # each attempt may wait out an SMTP timeout: keep the lease, stop between attempts
        if ctx.stopping.is_set():
            raise StopRequested
        ctx.state.claim(RETRY_SENDS, ctx.instance, time.time(), seconds)

    try:
        outcomes = retry_due(ctx.ledger, ctx.mail, ctx.environ, "scheduler", before_each)
        sent = sum(outcome.status == "sent" for outcome in outcomes)
        detail = f"{len(outcomes)} attempted, {sent} sent"
        ctx.state.record(RETRY_SENDS, "ok", detail)
        return len(outcomes)
    except StopRequested:
        ctx.state.record(RETRY_SENDS, "interrupted", "service stopping; resumes on the next run")
        return 0
    finally:
        ctx.state.release(RETRY_SENDS, ctx.instance)
