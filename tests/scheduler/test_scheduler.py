"""APScheduler with the database job store, on SQLite and PostgreSQL: jobs survive a restart,
a run missed while the service was down fires once on start, and two schedulers started on
the same due job bill each period once."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED

from adapters.ledger.folds import LogFolds
from domain.changes import CustomerChanges
from scheduler import registry, service
from scheduler.context import JobContext
from scheduler.jobstore import stored_jobs
from scheduler.registry import sync_jobs
from tests.scheduler.conftest import scheduled_customer

# A run time every wall clock has passed: APScheduler decides what is due by its own clock,
# the ledger's (injected) clock decides which periods have ended.
LONG_AGO = datetime(2026, 8, 2, 9, tzinfo=UTC)


def _make_due(ctx: JobContext, job_id: str, when: datetime) -> None:
    """What a stopped service leaves behind: a stored job whose run time has passed (moved
    back by a scheduler that runs nothing)."""
    with registry.job_writer(ctx) as writer:
        writer.modify_job(job_id, jobstore="default", next_run_time=when)


class Runs:
    """Counts executions (and failures) of stored jobs across schedulers."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.failed: list[str] = []
        self.lock = threading.Lock()

    def listen(self, scheduler) -> None:
        def record(event) -> None:
            with self.lock:
                (self.failed if event.exception else self.done).append(event.job_id)

        scheduler.add_listener(record, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.done) + len(self.failed) < count and time.monotonic() < deadline:
            time.sleep(0.02)


def test_sync_stores_one_job_per_schedule_in_the_customers_zone(make_context, at):
    at(2026, 10, 1, 9)
    ctx = make_context()
    paris = scheduled_customer(ctx.ledger, "PAR", "monthly:1", zone="Europe/Paris")
    scheduled_customer(ctx.ledger, "MON", "weekly:1")
    ctx.ledger.register_customer("t", account_number="NONE", name="No schedule")

    registry.register_jobs(ctx)

    jobs = stored_jobs(ctx.db)
    assert len(jobs) == 2
    when, state = jobs[f"invoice:{paris}"]
    assert state["args"] == (paris,) or state["args"] == [paris]
    # 01:00 in Paris on the 1st: midnight UTC (winter time)
    fire = datetime.fromtimestamp(when, UTC)
    assert (fire.day, fire.hour, fire.minute) == (1, 0, 0)

    # the schedule is removed: so is its job; the other stays untouched
    ctx.ledger.change_customer(
        "PAR", CustomerChanges.model_validate({"invoice_schedule": None}), "t"
    )
    registry.register_jobs(ctx)
    assert set(stored_jobs(ctx.db)) == {k for k in jobs if k != f"invoice:{paris}"}


def test_a_missed_run_fires_once_on_start_and_bills_every_missed_period(make_context, at):
    at(2026, 8, 5, 9)
    ctx = make_context()
    customer_id = scheduled_customer(ctx.ledger, "ACME", "monthly:1")
    registry.register_jobs(ctx)
    job_id = f"invoice:{customer_id}"
    # the service stopped in August; it is started again on 3 November (three runs missed)
    _make_due(ctx, job_id, LONG_AGO)
    at(2026, 11, 3, 9)

    restarted = make_context()
    scheduler = service.build_scheduler(restarted)
    runs = Runs()
    runs.listen(scheduler)
    scheduler.start()
    try:
        runs.wait_for(1)
        time.sleep(0.5)  # room for a wrong second run to show up
    finally:
        scheduler.shutdown(wait=True)

    assert runs.failed == []
    assert runs.done == [job_id]
    assert sorted(i.period_start for i in LogFolds(ctx.ledger).invoices()) == [
        date(2026, 8, 1),
        date(2026, 9, 1),
        date(2026, 10, 1),
    ]
    next_run, _ = stored_jobs(ctx.db)[job_id]
    assert next_run is not None and next_run > time.time()  # moved on: not caught up again


def test_two_schedulers_started_on_the_same_due_job_bill_each_period_once(make_context, at):
    at(2026, 9, 5, 9)
    setup = make_context()
    ids = [scheduled_customer(setup.ledger, f"C{n}", "monthly:1") for n in range(3)]
    registry.register_jobs(setup)
    for customer_id in ids:
        _make_due(setup, f"invoice:{customer_id}", LONG_AGO)
    at(2026, 11, 3, 9)

    instances = [make_context(), make_context()]
    schedulers = [service.build_scheduler(ctx) for ctx in instances]
    runs = Runs()
    for scheduler in schedulers:
        runs.listen(scheduler)
        scheduler.start(paused=True)
    for scheduler in schedulers:  # let both loose on the due jobs together
        scheduler.resume()
    try:
        runs.wait_for(len(ids))
        time.sleep(0.5)
    finally:
        for scheduler in schedulers:
            scheduler.shutdown(wait=True)

    assert runs.failed == []
    assert set(runs.done) == {f"invoice:{i}" for i in ids}  # each ran, once or twice
    keys = [(i.customer_account, i.period_start) for i in LogFolds(setup.ledger).invoices()]
    assert sorted(keys) == sorted(
        (f"C{n}", date(2026, month, 1)) for n in range(3) for month in (9, 10)
    )


def test_a_running_service_picks_up_a_new_schedule_and_stops_cleanly(make_context, at):
    at(2026, 10, 1, 9)
    ctx = make_context()
    ctx.settings.sync_every = 0.1
    ctx.settings.webhooks_every = 0.1
    worker = threading.Thread(target=service.run, args=(ctx,))
    worker.start()
    try:
        customer_id = scheduled_customer(ctx.ledger, "LATE", "daily")
        deadline = time.monotonic() + 10
        while f"invoice:{customer_id}" not in stored_jobs(ctx.db):
            assert time.monotonic() < deadline, "the sync never registered the schedule"
            time.sleep(0.05)
    finally:
        ctx.stopping.set()
        worker.join(20)
    assert not worker.is_alive(), "the scheduler did not stop"


def test_sync_leaves_an_unchanged_job_alone_so_its_missed_run_survives(make_context, at):
    at(2026, 10, 1, 9)
    ctx = make_context()
    customer_id = scheduled_customer(ctx.ledger, "ACME", "monthly:1")
    registry.register_jobs(ctx)
    job_id = f"invoice:{customer_id}"
    past = LONG_AGO
    _make_due(ctx, job_id, past)

    with registry.job_writer(ctx):
        sync_jobs(ctx)

    assert stored_jobs(ctx.db)[job_id][0] == past.timestamp()
