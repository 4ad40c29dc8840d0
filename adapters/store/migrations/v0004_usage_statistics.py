"""PostgreSQL: no planner statistics for the usage_cdrs columns that no query filters, joins
or groups on. SQLite: nothing changes (it keeps no per-column statistics unless asked).

Every import ANALYZEs the partitions it wrote to, and the billing run analyses usage_cdrs when
an import was not followed by one: the billing run's plans need the statistics of account,
start_epoch, batch and destination, and the import's conflicts query those of call_id. The
other eight columns are only read and summed; gathering their statistics (two of them text
with a value a row: dialled numbers) was half of an ANALYZE's time (200,000 CDRs: 0.17-0.21 s
for all thirteen columns, 0.08-0.09 s for the five). A statistics target of 0 makes
ANALYZE skip a column; set on the partitioned table, it reaches the partitions it has, and
adapters/usage/partitions.py ``create_partition`` copies it to each new one. An operator who
wants a column's statistics back (for queries of their own) sets its target to -1 the same
way: ``ALTER TABLE usage_cdrs ALTER COLUMN prefix SET STATISTICS -1``.
"""

from __future__ import annotations

from typing import Any

from adapters.store.database import Dialect

UNPLANNED = (
    "duration",
    "billed_seconds",
    "dialled",
    "prefix",
    "rate",
    "charge_micros",
    "currency",
    "row_hash",
)


def up(conn: Any, dialect: Dialect) -> None:
    if dialect != "postgres":
        return
    columns = ", ".join(f"ALTER COLUMN {column} SET STATISTICS 0" for column in UNPLANNED)
    conn.execute(f"ALTER TABLE usage_cdrs {columns}")  # and every partition it has
