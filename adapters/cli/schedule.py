"""``tollbook schedule list|set|run-now``: customers' automatic invoice schedules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from adapters.cli.context import date_arg, emit_json, json_option, say, state, table
from adapters.cli.customers import schedule_arg
from adapters.config import ConfigError, database_url
from adapters.queries import every_customer
from adapters.store.database import Database
from adapters.usage.location import usage_database
from domain.changes import CustomerChanges
from domain.customer import Customer
from scheduler.context import JobContext, SchedulerSettings
from scheduler.invoice_runs import bill_due_periods, local_today
from scheduler.jobstore import stored_jobs
from scheduler.registry import register_jobs
from scheduler.triggers import invoice_job_id, invoice_trigger


def _context() -> JobContext:
    current = state()
    try:
        db = Database.from_url(current.database_url or database_url())
    except ValueError as error:
        raise ConfigError(f"the scheduler keeps its jobs in SQL: {error}") from None
    usage = usage_database(db, tenant=current.tenant)
    return JobContext(current.ledger, db, settings=SchedulerSettings.from_env(), usage_db=usage)


@click.group()
def schedule() -> None:
    """Automatic invoice schedules (run by `tollbook serve`; see docs/scheduler.md)."""


@schedule.command("list")
@json_option
def list_(as_json: bool) -> None:
    """Every customer with a schedule: next run, periods billed so far, last outcome."""
    ctx = _context()
    stored = stored_jobs(ctx.db)
    through = ctx.state.all_billed_through()
    outcomes = ctx.state.outcomes()
    docs = [
        _doc(ctx, customer, stored, through, outcomes)
        for customer in every_customer(ctx.ledger)
        if customer.profile_on(local_today(ctx, customer)).invoice_schedule is not None
    ]
    if as_json:
        emit_json(docs)
        return
    table(
        "Invoice schedules",
        ["account", "schedule", "time zone", "next run (local)", "billed through", "last run"],
        [
            [
                d["account"],
                d["schedule"],
                d["time_zone"],
                (d["next_run_local"] or "")[:16] + ("" if d["registered"] else " (pending)"),
                d["billed_through"] or "",
                f"{d['last_status']} {d['last_detail']}".strip(),
            ]
            for d in docs
        ],
    )


def _doc(
    ctx: JobContext,
    customer: Customer,
    stored: dict[str, tuple[float | None, dict[str, Any]]],
    through: dict[str, Any],
    outcomes: dict[str, Any],
) -> dict[str, Any]:
    profile = customer.profile_on(local_today(ctx, customer))
    assert profile.invoice_schedule is not None
    job_id = invoice_job_id(customer.id)
    zone = ZoneInfo(profile.time_zone)
    if job_id in stored:
        when = stored[job_id][0]
        next_run = None if when is None else datetime.fromtimestamp(when, UTC)
    else:  # the service has not registered it yet: when it would run
        trigger = invoice_trigger(profile.invoice_schedule, profile.time_zone, ctx.settings.run_at)
        next_run = trigger.get_next_fire_time(None, ctx.now().astimezone(zone))
    outcome = outcomes.get(job_id)
    billed = through.get(str(customer.id))
    return {
        "job": job_id,
        "account": profile.account_number,
        "customer_id": str(customer.id),
        "schedule": profile.invoice_schedule.text,
        "time_zone": profile.time_zone,
        "registered": job_id in stored,
        "next_run": next_run.astimezone(UTC).isoformat() if next_run else None,
        "next_run_local": next_run.astimezone(zone).isoformat() if next_run else None,
        "billed_through": billed.isoformat() if billed else None,
        "last_run_at": outcome.ran_at if outcome else None,
        "last_status": outcome.status if outcome else "",
        "last_detail": outcome.detail if outcome else "",
    }


@schedule.command("set")
@click.argument("account")
@click.argument("frequency")
@click.option("--effective-from", help="Date the schedule takes effect (default: today).")
@click.option("--reason", help="Why (kept in the customer's history).")
@json_option
def set_(
    account: str, frequency: str, effective_from: str | None, reason: str | None, as_json: bool
) -> None:
    """Bill ACCOUNT automatically: FREQUENCY is daily, weekly:1-7, monthly:1-28 or none."""
    ctx = _context()
    value = schedule_arg(frequency)
    when = date_arg(effective_from, "effective date")
    changes = CustomerChanges(invoice_schedule=value)
    ctx.ledger.change_customer(account, changes, state().actor, when, reason)
    register_jobs(ctx)
    if as_json:
        customer = ctx.ledger.customer(account)
        emit_json(
            {
                "account": customer.registered.account_number,
                "customer_id": str(customer.id),
                "schedule": value.text if value else None,
                "effective_from": (when or ctx.ledger.today()).isoformat(),
            }
        )
    else:
        say(f"{account}: {value.text if value else 'no automatic billing'}")


@schedule.command("run-now")
@click.argument("accounts", nargs=-1)
@json_option
def run_now(accounts: tuple[str, ...], as_json: bool) -> None:
    """Run the invoice schedules of ACCOUNTS (default: every scheduled customer) now: bills
    every period that has ended and is not billed yet. Safe to repeat."""
    ctx = _context()
    customers = (
        [ctx.ledger.customer(a) for a in accounts]
        if accounts
        else [
            c
            for c in every_customer(ctx.ledger)
            if c.profile_on(local_today(ctx, c)).invoice_schedule is not None
        ]
    )
    rows: list[dict[str, Any]] = []
    for customer in customers:
        account = customer.registered.account_number
        billed = bill_due_periods(ctx, str(customer.id))
        rows.extend(
            {"account": account, "period": p.label, "start": p.start, "end": p.end, "created": n}
            for p, n in billed
        )
        if not billed:
            rows.append({"account": account, "period": None, "created": 0})
    if as_json:
        emit_json(rows)
        return
    table(
        "Scheduled billing runs",
        ["account", "period", "invoices created"],
        [[r["account"], r["period"] or "(nothing due)", r["created"]] for r in rows],
    )
