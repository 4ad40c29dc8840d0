"""A customer's invoice schedule, billed: every period of the schedule that has ended and is
not billed yet (normally the one that just ended; after downtime, each missed one), through the
ordinary, idempotent billing run. The scheduled job (``scheduler.jobs.bill_customer``) and
``tollbook schedule run-now`` both bill this way."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import structlog

from adapters.usage.billing import BillingReport, run_billing
from domain.customer import Customer
from domain.errors import InvoiceNotEditable
from domain.schedule import InvoiceSchedule
from domain.usage import Period
from scheduler.context import JobContext
from scheduler.triggers import invoice_job_id

log = structlog.get_logger("tollbook.scheduler")


def bill_due_periods(ctx: JobContext, customer_id: str) -> list[tuple[Period, int]]:
    """Bill the customer's ended, unbilled schedule periods; returns each period billed and
    how many invoices that run created (0: they already existed)."""
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
        for result in report.overlapping:  # left off (never billed twice); a person decides
            bound.warning(
                "scheduled billing run overlap",
                period=period.label,
                invoice_id=str(result.invoice_id),
                action=result.action,
                billed_by=sorted({str(o.number or o.invoice_id) for o in result.overlaps}),
            )
        ctx.state.advance(customer_id, account, end)
        billed.append((period, created))
        bound.info("scheduled billing run", period=period.label, invoices_created=created)
    summary = ", ".join(p.label for p, _ in billed)
    ctx.state.record(job_id, "ok", f"billed {summary}" if billed else "nothing due")
    return billed


def _bill(ctx: JobContext, account: str, period: Period) -> BillingReport:
    # with ``issue``, another instance may issue a draft between our plan and our issue: the
    # run is idempotent, so running it again settles it
    for attempt in range(3):
        try:
            report = run_billing(
                ctx.ledger,
                ctx.usage_db or ctx.db,
                period,
                ledger_db=ctx.db,
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
    return customer.today_at(ctx.now())


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
