"""PostgreSQL: usage_cdrs partitioned by month of start_epoch, call ids unique in a table of
their own. SQLite: nothing changes (one table, its primary key on call_id).

A unique index on a partitioned table must hold the partition key, so call_id alone can no
longer be usage_cdrs' primary key: ``usage_call_ids`` keeps every stored call id once (with
where its CDR lives: account and start_epoch), and the import inserts there first, which is
how it finds repeats. usage_cdrs keeps its columns and its (account, start_epoch) index, in
every partition. Existing rows move to the partitions of their months in this step's
transaction; the old table is dropped after.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.store.database import Dialect

PARTITIONED = """
CREATE TABLE usage_cdrs (
    call_id TEXT NOT NULL,
    account TEXT NOT NULL,
    start_epoch BIGINT NOT NULL,
    duration INTEGER NOT NULL,
    billed_seconds INTEGER NOT NULL,
    dialled TEXT NOT NULL,
    prefix TEXT NOT NULL,
    destination TEXT NOT NULL,
    rate TEXT NOT NULL,
    charge_micros BIGINT NOT NULL,
    currency TEXT NOT NULL,
    row_hash BIGINT NOT NULL,
    batch BIGINT NOT NULL
) PARTITION BY RANGE (start_epoch)
"""

CALL_IDS = (
    "CREATE TABLE usage_call_ids (call_id TEXT PRIMARY KEY, account TEXT NOT NULL,"
    " start_epoch BIGINT NOT NULL)",
    # a purge deletes a month's ids by start_epoch: rows arrive roughly in time order
    "CREATE INDEX usage_call_ids_start ON usage_call_ids USING brin (start_epoch)",
)

OLD = "usage_cdrs_unpartitioned"


def _partition(conn: Any, year: int, month: int) -> str:
    """The month's partition (named as adapters/usage/partitions.py names them)."""
    name = f"usage_cdrs_y{year:04d}m{month:02d}"
    start = int(datetime(year, month, 1, tzinfo=UTC).timestamp())
    end = int(datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC).timestamp())
    conn.execute(
        f"CREATE TABLE {name} PARTITION OF usage_cdrs FOR VALUES FROM ({start}) TO ({end})"
    )
    return name


def up(conn: Any, dialect: Dialect) -> None:
    if dialect != "postgres":
        return
    conn.execute(f"ALTER TABLE usage_cdrs RENAME TO {OLD}")
    conn.execute(f"ALTER INDEX IF EXISTS usage_cdrs_pkey RENAME TO {OLD}_pkey")
    conn.execute(f"ALTER INDEX IF EXISTS usage_cdrs_account_start RENAME TO {OLD}_account_start")
    conn.execute(PARTITIONED)
    conn.execute("CREATE INDEX usage_cdrs_account_start ON usage_cdrs (account, start_epoch)")
    for statement in CALL_IDS:
        conn.execute(statement)
    months = conn.execute(
        "SELECT DISTINCT CAST(EXTRACT(YEAR FROM t) AS INTEGER),"
        " CAST(EXTRACT(MONTH FROM t) AS INTEGER)"
        f" FROM (SELECT to_timestamp(start_epoch) AT TIME ZONE 'UTC' AS t FROM {OLD}) m"
    ).fetchall()
    names = [_partition(conn, int(year), int(month)) for year, month in sorted(months)]
    conn.execute(f"INSERT INTO usage_cdrs SELECT * FROM {OLD}")
    conn.execute(f"INSERT INTO usage_call_ids SELECT call_id, account, start_epoch FROM {OLD}")
    conn.execute(f"DROP TABLE {OLD}")
    for name in names:
        conn.execute(f"ANALYZE {name}")
