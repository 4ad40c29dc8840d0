"""Schema migrations on both stores: a new database, a database made by the code before
migrations (``CREATE ... IF NOT EXISTS`` at start-up), a second run, a failing step, and
``tollbook migrate``."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from click.testing import CliRunner

from adapters.cli.main import cli
from adapters.config_error import ConfigError
from adapters.store.database import Database, Dialect
from adapters.store.migrations.runner import Migration, migrate, migrations, status
from adapters.usage.partitions import Month, create_partition

#: tables the first step makes (a sample from each former owner)
SOME_TABLES = {
    "api_keys",
    "idempotency_keys",
    "usage_cdrs",
    "export_dead_letters",
    "webhook_subscriptions",
    "portal_users",
    "scheduler_jobs",
    "projection_tracking",
}

#: what the code before migrations had made in a database last set up before webhook
#: subscriptions kept their Idempotency-Key in the row, with a row in it
OLD_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS api_keys (name TEXT PRIMARY KEY, scope TEXT NOT NULL,"
    " key_hash TEXT NOT NULL UNIQUE, hint TEXT NOT NULL, created_at TEXT NOT NULL,"
    " revoked_at TEXT)",
    "CREATE TABLE IF NOT EXISTS webhook_subscriptions (id TEXT PRIMARY KEY, url TEXT NOT NULL,"
    " secret TEXT NOT NULL, event_types TEXT NOT NULL, status TEXT NOT NULL,"
    " position BIGINT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL,"
    " lease_owner TEXT, lease_until DOUBLE PRECISION)",
    "CREATE TABLE IF NOT EXISTS portal_sign_in_failures (username TEXT PRIMARY KEY,"
    " failures INTEGER NOT NULL)",
    "INSERT INTO api_keys VALUES ('ops', 'admin', 'abc', 'tbk_x…', '2026-01-02', NULL)",
    "INSERT INTO webhook_subscriptions VALUES ('s1', 'https://hooks.example/x', 'k', '*',"
    " 'active', 7, '2026-01-02', 'ops', NULL, NULL)",
)


def tables(db: Database) -> set[str]:
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'table'"
        if db.dialect == "sqlite"
        else "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    )
    with db.connect() as conn:
        return {row[0] for row in conn.execute(query)}


def columns(db: Database, table: str) -> set[str]:
    with db.connect() as conn:
        cursor = conn.execute(f"SELECT * FROM {table} WHERE 1 = 0")
        return {d[0] for d in cursor.description}


@pytest.fixture
def db(new_store_url: str) -> Database:
    return Database.from_url(new_store_url)


def test_a_new_database_gets_every_step_once(db: Database) -> None:
    assert [m.version for m in status(db).pending] == [m.version for m in migrations()]
    assert status(db).applied == []

    ran = migrate(db)

    assert [m.version for m in ran] == [m.version for m in migrations()]
    assert tables(db) >= SOME_TABLES
    found = status(db)
    assert found.pending == []
    assert [(a.version, a.name) for a in found.applied] == [
        (m.version, m.name) for m in migrations()
    ]
    assert migrate(db) == []  # a second run applies nothing
    assert len(status(db).applied) == len(migrations())


def test_a_database_made_before_migrations_upgrades_and_keeps_its_rows(db: Database) -> None:
    with db.connect() as conn:
        for statement in OLD_SCHEMA:
            conn.execute(statement)

    assert [m.version for m in migrate(db)] == [m.version for m in migrations()]

    assert tables(db) >= SOME_TABLES
    assert "portal_sign_in_failures" not in tables(db)  # dropped then, dropped now
    assert {"idem_owner", "idem_key", "idem_fingerprint", "idem_answer"} <= columns(
        db, "webhook_subscriptions"
    )
    with db.connect() as conn:
        assert conn.execute("SELECT name, scope FROM api_keys").fetchall() == [("ops", "admin")]
        assert conn.execute("SELECT id, position FROM webhook_subscriptions").fetchall() == [
            ("s1", 7)
        ]
    assert migrate(db) == []


def test_a_failing_step_leaves_nothing_behind_and_runs_again_later(db: Database) -> None:
    migrate(db)
    calls: list[Dialect] = []

    def broken(conn: Any, dialect: Dialect) -> None:
        calls.append(dialect)
        conn.execute("CREATE TABLE half_done (x INTEGER)")
        conn.execute("SELECT * FROM no_such_table")

    def fixed(conn: Any, dialect: Dialect) -> None:
        calls.append(dialect)
        conn.execute("CREATE TABLE half_done (x INTEGER)")

    last = len(migrations()) + 1
    steps = [*migrations(), Migration(last, "half_done", broken)]
    with pytest.raises(Exception, match="no_such_table"):
        migrate(db, steps)
    assert "half_done" not in tables(db)
    assert [m.version for m in status(db, steps).pending] == [last]

    steps[-1] = Migration(last, "half_done", fixed)
    assert [m.version for m in migrate(db, steps)] == [last]
    assert migrate(db, steps) == []
    assert calls == [db.dialect, db.dialect]
    assert "half_done" in tables(db)


def test_the_migrate_command_applies_and_reports(new_store_url: str) -> None:
    runner = CliRunner()
    before = runner.invoke(cli, ["--db", new_store_url, "migrate", "--status", "--json"])
    assert before.exit_code == 0, before.output
    assert json.loads(before.output) == {
        "applied": [],
        "pending": [{"version": m.version, "name": m.name} for m in migrations()],
    }

    applied = runner.invoke(cli, ["--db", new_store_url, "migrate", "--json"])
    assert applied.exit_code == 0, applied.output
    document = json.loads(applied.output)
    assert document["applied_now"] == [m.version for m in migrations()]
    assert [a["version"] for a in document["applied"]] == [m.version for m in migrations()]
    assert document["pending"] == []

    again = runner.invoke(cli, ["--db", new_store_url, "migrate"])
    assert again.exit_code == 0, again.output
    assert "nothing to apply" in again.output
    assert "baseline" in again.output


def test_the_migrate_command_refuses_a_store_without_tables() -> None:
    result = CliRunner().invoke(cli, ["--db", "memory://", "migrate", "--status"])
    assert isinstance(result.exception, ConfigError)  # main() prints it and exits 2
    assert "has no SQL database" in str(result.exception)


def test_processes_starting_together_apply_each_step_once(db: Database) -> None:
    barrier = threading.Barrier(4)
    ran: list[list[int]] = []
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            ran.append([m.version for m in migrate(db)])
        except BaseException as error:  # reported below: a thread's error is otherwise lost
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    every = [m.version for m in migrations()]
    assert sorted(version for versions in ran for version in versions) == every  # each once
    assert [a.version for a in status(db).applied] == every


def test_usage_cdrs_move_into_month_partitions_and_keep_their_rows(db: Database) -> None:
    """PostgreSQL: step 2 partitions usage_cdrs by month; SQLite keeps one table."""
    migrate(db, migrations()[:1])
    call = ("ACME", 60, 60, "4477", "447", "UK Mobile", "0.01", 10_000, "GBP")
    rows = [
        ("a1", call[0], 1_790_000_000, *call[1:], 7, 1),
        ("a2", call[0], 1_792_000_000, *call[1:], 8, 2),
    ]
    with db.connect() as conn:
        conn.cursor().executemany(
            db.sql(f"INSERT INTO usage_cdrs VALUES ({', '.join('?' * 13)})"), rows
        )
    assert [m.version for m in migrate(db)] == [m.version for m in migrations()[1:]]
    with db.connect() as conn:
        moved = conn.execute("SELECT * FROM usage_cdrs ORDER BY call_id").fetchall()
        assert [tuple(r) for r in moved] == rows
        if db.dialect == "postgres":
            parts = conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'usage_cdrs'::regclass ORDER BY 1"
            ).fetchall()
            assert [p[0] for p in parts] == ["usage_cdrs_y2026m09", "usage_cdrs_y2026m10"]
            ids = conn.execute("SELECT * FROM usage_call_ids ORDER BY call_id").fetchall()
            assert [tuple(i) for i in ids] == [
                ("a1", "ACME", 1_790_000_000),
                ("a2", "ACME", 1_792_000_000),
            ]
    assert "usage_cdrs_unpartitioned" not in tables(db)


def usage_indexes(db: Database, table: str) -> list[str]:
    """The columns of each index of ``table`` (PostgreSQL), as its definition lists them."""
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            " AND tablename = %s",
            (table,),
        ).fetchall()
    return sorted(str(definition).split(" USING btree ", 1)[1] for (definition,) in rows)


def test_usage_cdrs_are_found_by_account_start_and_call_id(db: Database) -> None:
    """PostgreSQL: step 3 makes usage_cdrs' index (account, start_epoch, call_id), on the
    partitions step 2 made and on those made after, keeping the rows; SQLite's call_id is
    its primary key already."""
    migrate(db, migrations()[:2])
    call = ("ACME", 60, 60, "4477", "447", "UK Mobile", "0.01", 10_000, "GBP")
    rows = [("a1", call[0], 1_790_000_000, *call[1:], 7, 1)]
    with db.connect() as conn:
        if db.dialect == "postgres":
            create_partition(conn, Month.of(1_790_000_000))
            conn.execute("INSERT INTO usage_call_ids VALUES ('a1', 'ACME', 1790000000)")
        conn.execute(db.sql(f"INSERT INTO usage_cdrs VALUES ({', '.join('?' * 13)})"), rows[0])
    assert [m.version for m in migrate(db)] == [m.version for m in migrations()[2:]]
    with db.connect() as conn:
        assert [tuple(r) for r in conn.execute("SELECT * FROM usage_cdrs")] == rows
        if db.dialect == "sqlite":
            return
        create_partition(conn, Month.of(1_792_000_000))
    wanted = ["(account, start_epoch, call_id)"]
    assert usage_indexes(db, "usage_cdrs") == wanted
    assert usage_indexes(db, "usage_cdrs_y2026m09") == wanted
    assert usage_indexes(db, "usage_cdrs_y2026m10") == wanted


def test_usage_cdrs_gather_statistics_only_for_the_columns_plans_use(db: Database) -> None:
    """PostgreSQL: step 4 leaves out of ANALYZE the columns no query filters, joins or groups
    on, on the partitions made before it and on those made after; the rows stay."""
    migrate(db, migrations()[:3])
    row = ("a1", "ACME", 1_790_000_000, 60, 60, "4477", "447", "UK Mobile", "0.01", 10_000, "GBP")
    with db.connect() as conn:
        if db.dialect == "postgres":
            create_partition(conn, Month.of(row[2]))
            conn.execute("INSERT INTO usage_call_ids VALUES ('a1', 'ACME', 1790000000)")
        conn.execute(db.sql(f"INSERT INTO usage_cdrs VALUES ({', '.join('?' * 13)})"), (*row, 7, 1))
    assert [m.version for m in migrate(db)] == [m.version for m in migrations()[3:]]
    if db.dialect == "sqlite":
        return
    with db.connect() as conn:
        create_partition(conn, Month.of(1_792_000_000))
        conn.execute("ANALYZE usage_cdrs")
        analysed = {
            (str(table), str(column))
            for table, column in conn.execute(
                "SELECT tablename, attname FROM pg_stats WHERE tablename LIKE 'usage\\_cdrs%'"
                " AND NOT inherited"
            )
        }
    planned = {"call_id", "account", "start_epoch", "destination", "batch"}
    assert analysed == {("usage_cdrs_y2026m09", column) for column in planned}
    # the partition made after the step would be analysed alike (it has no rows yet)
    with db.connect() as conn:
        targets = dict(
            conn.execute(
                "SELECT attname, attstattarget FROM pg_attribute WHERE attnum > 0"
                " AND attrelid = 'usage_cdrs_y2026m10'::regclass"
            ).fetchall()
        )
    assert {name for name, target in targets.items() if target != 0} == planned
