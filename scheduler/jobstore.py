"""An APScheduler 3 job store on the ledger's own database (same SQLite file or PostgreSQL
schema), through ``adapters.store.database.Database`` like every other adapter table.

Jobs are stored as APScheduler stores them everywhere: the pickled job state (a textual
reference to the function, its arguments and trigger) and the next run time, indexed. A job
found due after a restart is run (once, coalesced) by the scheduler: that is the catch-up.

Stored job functions (``scheduler.jobs.bill_customer``) take the running service's context as
the keyword ``ctx``; the context is not stored (it holds connections): the store binds it when
it loads a job, so each scheduler instance runs its jobs with its own ledger.
"""

from __future__ import annotations

import functools
import pickle
from datetime import datetime
from typing import Any

from apscheduler.job import Job
from apscheduler.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError
from apscheduler.util import datetime_to_utc_timestamp, utc_timestamp_to_datetime

from adapters.store.database import Database
from adapters.store.migrations.runner import migrate

TABLE = "scheduler_jobs"


class DatabaseJobStore(BaseJobStore):  # type: ignore[misc]
    """Persistent jobs beside the event store; ``context`` is passed to every job it runs."""

    def __init__(self, db: Database, context: object) -> None:
        super().__init__()
        self.db = db
        self.context = context

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        ensure_schema(self.db)

    def lookup_job(self, job_id: str) -> Job | None:
        rows = self._rows(f"SELECT id, job_state FROM {TABLE} WHERE id = ?", (job_id,))
        jobs = self._restore(rows)
        return jobs[0] if jobs else None

    def get_due_jobs(self, now: datetime) -> list[Job]:
        rows = self._rows(
            f"SELECT id, job_state FROM {TABLE} WHERE next_run_time <= ? ORDER BY next_run_time",
            (datetime_to_utc_timestamp(now),),
        )
        return self._restore(rows)

    def get_next_run_time(self) -> datetime | None:
        rows = self._rows(f"SELECT MIN(next_run_time) FROM {TABLE}")
        value = rows[0][0] if rows else None
        return None if value is None else utc_timestamp_to_datetime(float(value))

    def get_all_jobs(self) -> list[Job]:
        rows = self._rows(f"SELECT id, job_state FROM {TABLE} ORDER BY next_run_time")
        jobs = self._restore(rows)
        self._fix_paused_jobs_sorting(jobs)
        return jobs

    def add_job(self, job: Job) -> None:
        with self.db.connect() as conn:
            found = conn.execute(self.db.sql(f"SELECT 1 FROM {TABLE} WHERE id = ?"), (job.id,))
            if found.fetchone() is not None:
                raise ConflictingIdError(job.id)
            conn.execute(
                self.db.sql(f"INSERT INTO {TABLE} (id, next_run_time, job_state) VALUES (?, ?, ?)"),
                (job.id, datetime_to_utc_timestamp(job.next_run_time), _dump(job)),
            )

    def update_job(self, job: Job) -> None:
        with self.db.connect() as conn:
            cursor = conn.execute(
                self.db.sql(f"UPDATE {TABLE} SET next_run_time = ?, job_state = ? WHERE id = ?"),
                (datetime_to_utc_timestamp(job.next_run_time), _dump(job), job.id),
            )
            if cursor.rowcount == 0:
                raise JobLookupError(job.id)

    def remove_job(self, job_id: str) -> None:
        with self.db.connect() as conn:
            cursor = conn.execute(self.db.sql(f"DELETE FROM {TABLE} WHERE id = ?"), (job_id,))
            if cursor.rowcount == 0:
                raise JobLookupError(job_id)

    def remove_all_jobs(self) -> None:
        with self.db.connect() as conn:
            conn.execute(f"DELETE FROM {TABLE}")

    # ------------------------------------------------------------------ helpers

    def _rows(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.db.connect() as conn:
            return list(conn.execute(self.db.sql(statement), params).fetchall())

    def _restore(self, rows: list[tuple[Any, ...]]) -> list[Job]:
        jobs = []
        for job_id, state in rows:
            try:
                jobs.append(self._reconstitute(bytes(state)))
            except Exception:
                # another instance may run newer code: leave its job alone, just skip it here
                self._logger.exception("cannot load scheduled job %r; skipping it", job_id)
        return jobs

    def _reconstitute(self, state: bytes) -> Job:
        job_state = pickle.loads(state)  # our own rows, written by _dump
        job_state["jobstore"] = self
        job = Job.__new__(Job)
        job.__setstate__(job_state)
        job._scheduler = self._scheduler
        job._jobstore_alias = self._alias
        # the stored reference stays the plain function; the running one gets the context
        job.func = functools.partial(job.func, ctx=self.context)
        return job


def _dump(job: Job) -> bytes:
    return pickle.dumps(job.__getstate__(), pickle.HIGHEST_PROTOCOL)


def ensure_schema(db: Database) -> None:
    migrate(db)


def stored_jobs(db: Database) -> dict[str, tuple[float | None, dict[str, Any]]]:
    """Every stored job's next run time (epoch seconds) and state, without a scheduler."""
    ensure_schema(db)
    with db.connect() as conn:
        rows = conn.execute(f"SELECT id, next_run_time, job_state FROM {TABLE}").fetchall()
    return {
        job_id: (None if when is None else float(when), pickle.loads(bytes(state)))
        for job_id, when, state in rows
    }
