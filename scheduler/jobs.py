"""The scheduled jobs, one small function each. Every job takes the scheduler's context first.

- ``bill_customer``: a customer's invoice schedule. Bills every period of the schedule that
  has ended and is not yet billed (normally the one that just ended; after downtime, each
  missed one), through the ordinary, idempotent billing run.
- ``export_connection``: one accounting connection's exporter, under a lease.
- ``deliver_webhooks``: a webhook delivery pass (subscription leases are the worker's own).
- ``sync_jobs`` (run by the scheduler worker's loop, not as a job): one invoice job per
  customer schedule; adds, changes and removes them.
"""

from __future__ import annotations

import contextlib
import time
from datetime import date, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import structlog

from adapters.accounting.exporter import Exporter
from adapters.accounting.factory import client_for, policy_for
from adapters.accounting.store import ExportStore
from adapters.queries import every_customer
from adapters.usage.billing import BillingReport, run_billing
from domain.customer import Customer
from domain.errors import InvoiceNotEditable
from domain.schedule import InvoiceSchedule
from domain.usage import Period
from scheduler.context import JobContext
from scheduler.triggers import invoice_job_id, invoice_job_name, invoice_trigger

log = structlog.get_logger("tollbook.scheduler")


class StopRequested(Exception):
    """The service is shutting down: end a long job between two steps."""


def bill_customer(customer_id: str, ctx: JobContext | None = None) -> list[tuple[Period, int]]:
    """Bill the customer's ended, unbilled schedule periods; returns each period billed and
    how many invoices that run created (0: they already existed). Stored as a job with the
    customer id only; the job store passes ``ctx``."""
    ctx = _bound(ctx)
    customer = ctx.ledger.customer(UUID(customer_id))
    today = local_today(ctx, customer)
    schedule = customer.profile_on(today).invoice_schedule
    job_id = invoice_job_id(customer.id)
    account = customer.registered.account_number
    bound = log.bind(job=job_id, aggregate_id=customer_id, account=account)
    if schedule is None:
        ctx.state.record(job_id, "skipped", "no invoice schedule")
        return []
    through = ctx.state.billed_through(customer_id) or first_through(customer, schedule, today)
    billed: list[tuple[Period, int]] = []
    for start, end in schedule.ended_periods(through, today):
        period = Period(start, end)
        report = _bill(ctx, account, period)
        if report.refused:
            # not advanced: the next run tries this period again (once the cause is put
            # right, it bills it, once: invoice ids are deterministic)
            reasons = "; ".join(f"{r.code}: {r.reason}" for r in report.refused)
            bound.error("scheduled billing run refused", period=period.label, reason=reasons)
            ctx.state.record(job_id, "refused", f"{period.label} refused: {reasons}")
            return billed
        created = report.count("created")
        ctx.state.advance(customer_id, account, end)
        billed.append((period, created))
        bound.info("scheduled billing run", period=period.label, invoices_created=created)
    summary = ", ".join(p.label for p, _ in billed)
    ctx.state.record(job_id, "ok", f"billed {summary}" if billed else "nothing due")
    return billed


def _bound(ctx: JobContext | None) -> JobContext:
    if ctx is None:
        raise RuntimeError("scheduled jobs run under the tollbook scheduler, which passes ctx")
    return ctx


def _bill(ctx: JobContext, account: str, period: Period) -> BillingReport:
    # with ``issue``, another instance may issue a draft between our plan and our issue: the
    # run is idempotent, so running it again settles it
    for attempt in range(3):
        try:
            report = run_billing(
                ctx.ledger,
                ctx.db,
                period,
                customers=[account],
                issue=ctx.settings.issue,
                actor="scheduler",
            )
            return report
        except InvoiceNotEditable:
            if attempt == 2:
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")


def local_today(ctx: JobContext, customer: Customer) -> date:
    zone = customer.profile_on(ctx.now().date()).time_zone
    return ctx.now().astimezone(ZoneInfo(zone)).date()


def first_through(customer: Customer, schedule: InvoiceSchedule, today: date) -> date:
    """Before any run: the day before the period in which the schedule took effect, so the
    first run bills that whole period (and periods missed since, after downtime)."""
    since: date | None = None
    if customer.registered.invoice_schedule is not None:
        zone = ZoneInfo(customer.profile_on(today).time_zone)
        since = customer.created_on.astimezone(zone).date()
    for effective_from, after in customer.changes:
        if effective_from > today or "invoice_schedule" not in after:
            continue
        if after["invoice_schedule"] is None:
            since = None
        elif since is None:
            since = effective_from
    return schedule.boundary_on_or_before(since or today) - timedelta(days=1)


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


def sync_jobs(ctx: JobContext) -> None:
    """One stored job per customer schedule: add new ones, replace changed ones, remove the
    ones whose schedule is gone. An unchanged job is left alone, so its missed run (the
    service was down) still fires once on start."""
    scheduler = ctx.scheduler
    wanted = {}
    for customer in every_customer(ctx.ledger):
        today = local_today(ctx, customer)
        profile = customer.profile_on(today)
        if profile.invoice_schedule is not None:
            wanted[invoice_job_id(customer.id)] = (customer, profile)
    existing = {job.id: job for job in scheduler.get_jobs(jobstore="default")}
    for job_id, (customer, profile) in wanted.items():
        assert profile.invoice_schedule is not None
        name = invoice_job_name(profile, ctx.settings.run_at)
        if job_id in existing and existing[job_id].name == name:
            continue
        trigger = invoice_trigger(profile.invoice_schedule, profile.time_zone, ctx.settings.run_at)
        scheduler.add_job(
            "scheduler.jobs:bill_customer",
            trigger,
            args=[str(customer.id)],  # the job store adds ctx when it loads the job
            id=job_id,
            name=name,
            # From the ledger's clock, not APScheduler's own reading of the wall clock.
            next_run_time=trigger.get_next_fire_time(None, ctx.now()),
            jobstore="default",
            replace_existing=True,
        )
        log.info("invoice schedule registered", job=job_id, aggregate_id=str(customer.id))
    for job_id in existing.keys() - wanted.keys():
        if job_id.startswith("invoice:"):
            with contextlib.suppress(LookupError):  # another instance removed it first
                scheduler.remove_job(job_id, jobstore="default")
            log.info("invoice schedule removed", job=job_id)
