"""What the scheduler remembers beside its jobs: how far each customer's schedule has billed,
the last outcome of every job, and short leases that keep two instances off one export.

``schedule_runs.billed_through`` only ever moves forward (a compare-and-set on the row), so two
instances finishing the same period leave the same answer. It is a bookmark, not the guard
against double billing: that is the billing run's deterministic invoice ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from adapters.store.database import Database
from adapters.store.migrations.runner import migrate


@dataclass(frozen=True)
class Outcome:
    job_id: str
    ran_at: str
    status: str
    detail: str


class SchedulerState:
    def __init__(self, db: Database) -> None:
        self.db = db

    def ensure_schema(self) -> None:
        migrate(self.db)

    def _rows(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.db.connect() as conn:
            return list(conn.execute(self.db.sql(statement), params).fetchall())

    # ----------------------------------------------------------- billed through

    def billed_through(self, customer_id: str) -> date | None:
        rows = self._rows(
            "SELECT billed_through FROM schedule_runs WHERE customer_id = ?", (customer_id,)
        )
        return date.fromisoformat(rows[0][0]) if rows else None

    def all_billed_through(self) -> dict[str, date]:
        rows = self._rows("SELECT customer_id, billed_through FROM schedule_runs")
        return {customer: date.fromisoformat(through) for customer, through in rows}

    def advance(self, customer_id: str, account: str, through: date) -> None:
        """Record that periods up to ``through`` are billed; never moves backwards."""
        now = _now()
        with self.db.connect() as conn:
            cursor = conn.execute(
                self.db.sql(
                    "UPDATE schedule_runs SET billed_through = ?, updated_at = ?"
                    " WHERE customer_id = ? AND billed_through < ?"
                ),
                (through.isoformat(), now, customer_id, through.isoformat()),
            )
            if cursor.rowcount == 0:
                conn.execute(
                    self.db.sql(
                        "INSERT INTO schedule_runs (customer_id, account, billed_through,"
                        " updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (customer_id) DO NOTHING"
                    ),
                    (customer_id, account, through.isoformat(), now),
                )

    # ---------------------------------------------------------------- outcomes

    def record(self, job_id: str, status: str, detail: str) -> None:
        with self.db.connect() as conn:
            conn.execute(
                self.db.sql(
                    "INSERT INTO scheduler_outcomes (job_id, ran_at, status, detail)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (job_id) DO UPDATE SET"
                    " ran_at = excluded.ran_at, status = excluded.status,"
                    " detail = excluded.detail"
                ),
                (job_id, _now(), status, detail[:500]),
            )

    def outcomes(self) -> dict[str, Outcome]:
        rows = self._rows("SELECT job_id, ran_at, status, detail FROM scheduler_outcomes")
        return {row[0]: Outcome(*row) for row in rows}

    # ------------------------------------------------------------------ leases

    def claim(self, name: str, holder: str, now: float, seconds: float) -> bool:
        """Take (or renew) the lease ``name`` unless another holder has it and it is live."""
        with self.db.connect() as conn:
            cursor = conn.execute(
                self.db.sql(
                    "UPDATE scheduler_leases SET holder = ?, expires_at = ?"
                    " WHERE name = ? AND (expires_at < ? OR holder = ?)"
                ),
                (holder, now + seconds, name, now, holder),
            )
            if cursor.rowcount == 1:
                return True
            cursor = conn.execute(
                self.db.sql(
                    "INSERT INTO scheduler_leases (name, holder, expires_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (name) DO NOTHING"
                ),
                (name, holder, now + seconds),
            )
            return int(cursor.rowcount) == 1

    def release(self, name: str, holder: str) -> None:
        with self.db.connect() as conn:
            conn.execute(
                self.db.sql("DELETE FROM scheduler_leases WHERE name = ? AND holder = ?"),
                (name, holder),
            )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
