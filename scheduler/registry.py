"""The stored invoice jobs: one per customer schedule, kept in line with the customers'
schedules by the running scheduler (every ``sync_every`` seconds, scheduler/service.py) and by
``tollbook schedule set``, which writes them from a process that runs none (``job_writer``).

A stored job names its function (``BILL_CUSTOMER``) instead of holding it: the name is what the
job store keeps, and the scheduler that runs the job resolves it when the job fires.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import Any

import structlog
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from adapters.queries import every_customer
from scheduler.context import JobContext
from scheduler.invoice_runs import local_today
from scheduler.jobstore import DatabaseJobStore
from scheduler.triggers import invoice_job_id, invoice_job_name, invoice_trigger

log = structlog.get_logger("tollbook.scheduler")

#: A late job runs however late (misfire_grace_time None), several missed runs of one job run
#: once (coalesce), and never two runs of one job at once in one instance.
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
#: The job a customer's invoice schedule runs (scheduler/jobs.py).
BILL_CUSTOMER = "scheduler.jobs:bill_customer"
#: The daily dunning run (scheduler/jobs.py), one job for every customer.
REMIND_INVOICES = "scheduler.jobs:remind_invoices"
DUNNING_JOB = "dunning"


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
            BILL_CUSTOMER,
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


def ensure_dunning_job(ctx: JobContext) -> None:
    """The daily dunning job, at the schedule time in UTC (started with the scheduler). Stored
    like the invoice jobs, so a day missed while the service was down is run once on start
    (coalesced: one run, which sends each invoice only its latest stage due)."""
    name = f"dunning {ctx.settings.run_at:%H:%M} UTC"
    found: Any = next(
        (job for job in ctx.scheduler.get_jobs(jobstore="default") if job.id == DUNNING_JOB),
        None,
    )
    if found is not None and found.name == name:
        return
    trigger = CronTrigger(hour=ctx.settings.run_at.hour, minute=ctx.settings.run_at.minute,
                          timezone=UTC)  # fmt: skip
    ctx.scheduler.add_job(
        REMIND_INVOICES,
        trigger,
        id=DUNNING_JOB,
        name=name,
        next_run_time=trigger.get_next_fire_time(None, ctx.now()),
        jobstore="default",
        replace_existing=True,
    )
    log.info("dunning job registered", job=DUNNING_JOB, at=f"{ctx.settings.run_at:%H:%M}")


class _JobWriter(BaseScheduler):  # type: ignore[misc]
    """A scheduler that never runs a job: it only adds, changes and removes stored ones."""

    def wakeup(self) -> None:
        pass  # nothing to wake: this scheduler has no loop

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)


@contextmanager
def job_writer(ctx: JobContext) -> Iterator[BaseScheduler]:
    """Change stored jobs from a process that does not run them (the CLI, tests)."""
    writer = _JobWriter(
        jobstores={"default": DatabaseJobStore(ctx.db, ctx)},
        job_defaults=JOB_DEFAULTS,
        timezone=UTC,
    )
    writer.start(paused=True)
    previous, ctx.scheduler = ctx.scheduler, writer
    try:
        yield writer
    finally:
        ctx.scheduler = previous
        writer.shutdown(wait=False)


def register_jobs(ctx: JobContext) -> None:
    """Bring the stored invoice jobs in line with the customers' schedules now."""
    with job_writer(ctx):
        sync_jobs(ctx)
