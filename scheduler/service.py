"""The scheduler of a running service: APScheduler's background scheduler with two job
stores, started by ``tollbook serve`` (role ``all`` or ``worker``).

- ``default``: :class:`scheduler.jobstore.DatabaseJobStore`, the customers' invoice schedules,
  kept in the ledger's database so they survive restarts and a missed run fires once on start.
- ``local``: in memory, the periodic jobs derived from this process's configuration (webhook
  delivery, one export job per accounting connection, e-mail send retries when SMTP is
  configured). They have nothing to
  catch up (each resumes from its own position in the log), and keeping them out of the shared
  store stops two workers with different configurations from rewriting each other's jobs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
    JobExecutionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from adapters import metrics
from scheduler import jobs
from scheduler.context import JobContext
from scheduler.jobstore import DatabaseJobStore
from scheduler.registry import JOB_DEFAULTS, ensure_dunning_job, sync_jobs

log = structlog.get_logger("tollbook.scheduler")


def build_scheduler(ctx: JobContext, workers: int = 4) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        jobstores={"default": DatabaseJobStore(ctx.db, ctx), "local": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(workers)},
        job_defaults=JOB_DEFAULTS,
        timezone=UTC,
    )
    scheduler.add_listener(lambda event: _on_failure(ctx, event), EVENT_JOB_ERROR)
    scheduler.add_listener(
        _count, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES
    )
    ctx.scheduler = scheduler
    return scheduler


def start(ctx: JobContext) -> BackgroundScheduler:
    """Start the scheduler: stored jobs that fell due while it was down run now, once."""
    scheduler = build_scheduler(ctx)
    scheduler.start()
    now = datetime.now(UTC)
    settings = ctx.settings

    def every(seconds: float, job_id: str, job: Callable[..., object], *args: object) -> None:
        scheduler.add_job(
            job, "interval", args=[ctx, *args], seconds=seconds, id=job_id,
            jobstore="local", next_run_time=now, replace_existing=True,
        )  # fmt: skip

    # with the JetStream source (serve --source), webhooks and exports are JetStream consumers
    # in workers of their own; the scheduler keeps to invoice schedules (and mail retries)
    if settings.event_source == "database":
        every(settings.webhooks_every, "webhooks", jobs.deliver_webhooks)
        for name in ctx.connections:
            every(settings.export_every, f"export:{name}", jobs.export_connection, name)
    if ctx.mail is not None:
        every(settings.retry_sends_every, jobs.RETRY_SENDS, jobs.retry_sends)
    _sync(ctx)
    try:
        ensure_dunning_job(ctx)
    except Exception:  # as the sync: a database hiccup must not stop the scheduler
        log.exception("registering the dunning job failed")
    log.info("scheduler started", instance=ctx.instance, exports=sorted(ctx.connections))
    return scheduler


def stop(ctx: JobContext, scheduler: BackgroundScheduler) -> None:
    """Stop taking jobs, let the running ones finish (long ones stop between steps)."""
    ctx.stopping.set()
    scheduler.shutdown(wait=True)
    log.info("scheduler stopped", instance=ctx.instance)


def run(ctx: JobContext) -> None:
    """Run until ``ctx.stopping`` is set (the service's worker loop), syncing the invoice jobs
    with the customers' schedules every ``sync_every`` seconds.

    The sync runs here, in the worker's own thread, not as a scheduled job: a job that adds or
    removes jobs would deadlock APScheduler 3's shutdown, which holds the job-store lock while
    it waits for running jobs to finish."""
    scheduler = start(ctx)
    try:
        while not ctx.stopping.wait(ctx.settings.sync_every):
            _sync(ctx)
    finally:
        stop(ctx, scheduler)


def _sync(ctx: JobContext) -> None:
    try:
        sync_jobs(ctx)
    except Exception:  # a database hiccup must not stop the scheduler: next time
        log.exception("syncing invoice schedules failed")


def _on_failure(ctx: JobContext, event: JobExecutionEvent) -> None:
    ctx.state.record(event.job_id, "failed", repr(event.exception))
    log.error(
        "scheduled job failed",
        job=event.job_id,
        error=repr(event.exception),
        traceback=event.traceback,
    )


#: a run that starts this long after it fell due counts as a late (missed, caught up) run
LATE_AFTER_SECONDS = 60.0


def _count(event: JobEvent) -> None:
    """The scheduler's metrics: each run and its outcome, and each run not made on time."""
    job = metrics.job_kind(event.job_id)
    if event.code == EVENT_JOB_MISSED:
        metrics.SCHEDULER_MISSES.labels(job, "missed").inc()
    elif event.code == EVENT_JOB_MAX_INSTANCES:
        metrics.SCHEDULER_MISSES.labels(job, "overlapping").inc()
    elif isinstance(event, JobExecutionEvent):
        outcome = "failed" if event.code == EVENT_JOB_ERROR else "ok"
        metrics.SCHEDULER_RUNS.labels(job, outcome).inc()
        late = (datetime.now(UTC) - event.scheduled_run_time).total_seconds()
        if late >= LATE_AFTER_SECONDS:
            metrics.SCHEDULER_MISSES.labels(job, "late").inc()
