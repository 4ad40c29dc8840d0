"""The tables as tollbook created them before migrations, every statement idempotent: a
database set up by that code (``CREATE ... IF NOT EXISTS`` at start-up) passes through it
unchanged, a new one gets every table. Later steps need not be idempotent: they run once."""

from __future__ import annotations

from typing import Any

from adapters.store.database import Dialect

API_KEYS = """
CREATE TABLE IF NOT EXISTS api_keys (
    name TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
)
"""

IDEMPOTENCY = (
    """
    CREATE TABLE IF NOT EXISTS idempotency_keys (
        owner TEXT NOT NULL,
        idem_key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        status INTEGER,
        headers TEXT,
        body TEXT,
        created_at TEXT NOT NULL,
        PRIMARY KEY (owner, idem_key)
    )
    """,
    "CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at)",
)

USAGE = (
    """
    CREATE TABLE IF NOT EXISTS usage_cdrs (
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
        batch BIGINT NOT NULL,
        PRIMARY KEY (call_id)
    )
    """,
    "CREATE INDEX IF NOT EXISTS usage_cdrs_account_start ON usage_cdrs (account, start_epoch)",
    """
    CREATE TABLE IF NOT EXISTS usage_imports (
        batch BIGINT PRIMARY KEY,
        file_name TEXT NOT NULL,
        file_sha256 TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        rows_read BIGINT NOT NULL,
        inserted BIGINT NOT NULL,
        duplicates BIGINT NOT NULL,
        rejected BIGINT NOT NULL
    )
    """,
)

EXPORTS = (
    """
    CREATE TABLE IF NOT EXISTS export_positions (
        connection TEXT PRIMARY KEY, system TEXT NOT NULL, position BIGINT NOT NULL,
        updated_at TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS export_done (
        connection TEXT NOT NULL, event_key TEXT NOT NULL, position BIGINT NOT NULL,
        kind TEXT NOT NULL, local_id TEXT NOT NULL, remote_id TEXT NOT NULL,
        exported_at TEXT NOT NULL,
        PRIMARY KEY (connection, event_key)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS export_mappings (
        connection TEXT NOT NULL, kind TEXT NOT NULL, local_id TEXT NOT NULL,
        remote_id TEXT NOT NULL, label TEXT NOT NULL,
        PRIMARY KEY (connection, kind, local_id)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS export_dead_letters (
        id {serial}, connection TEXT NOT NULL, position BIGINT NOT NULL,
        event_key TEXT NOT NULL, kind TEXT NOT NULL, customer_id TEXT NOT NULL,
        label TEXT NOT NULL, status TEXT NOT NULL, error TEXT NOT NULL,
        attempts INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
        UNIQUE (connection, event_key)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS export_resolutions (
        connection TEXT NOT NULL, event_key TEXT NOT NULL, letter_id BIGINT NOT NULL,
        kind TEXT NOT NULL, label TEXT NOT NULL, action TEXT NOT NULL, reason TEXT NOT NULL,
        actor TEXT NOT NULL, remote_id TEXT NOT NULL, resolution_id TEXT NOT NULL,
        settled_at TEXT NOT NULL,
        PRIMARY KEY (connection, event_key)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS export_reconciliation (
        connection TEXT NOT NULL, event_key TEXT NOT NULL, kind TEXT NOT NULL,
        label TEXT NOT NULL, currency TEXT NOT NULL, ledger_total TEXT NOT NULL,
        remote_total TEXT NOT NULL, difference TEXT NOT NULL, note TEXT NOT NULL,
        noted_at TEXT NOT NULL,
        PRIMARY KEY (connection, event_key)
    )
    """,
)

WEBHOOKS = (
    """
    CREATE TABLE IF NOT EXISTS webhook_subscriptions (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        event_types TEXT NOT NULL,
        status TEXT NOT NULL,
        position BIGINT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        lease_owner TEXT,
        lease_until DOUBLE PRECISION,
        idem_owner TEXT,
        idem_key TEXT,
        idem_fingerprint TEXT,
        idem_answer TEXT
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS webhook_deliveries (
        id TEXT PRIMARY KEY,
        subscription_id TEXT NOT NULL,
        position BIGINT NOT NULL,
        event_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        aggregate_id TEXT NOT NULL,
        body TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt_at DOUBLE PRECISION NOT NULL,
        last_status INTEGER,
        last_error TEXT,
        delivered_at DOUBLE PRECISION,
        created_at DOUBLE PRECISION NOT NULL,
        UNIQUE (subscription_id, position)
    )
    """,
    """
    CREATE INDEX IF NOT EXISTS webhook_deliveries_open
        ON webhook_deliveries (subscription_id, status, position)
    """,
    """
    CREATE TABLE IF NOT EXISTS webhook_attempts (
        delivery_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        status_code INTEGER,
        error TEXT,
        duration_ms INTEGER NOT NULL,
        PRIMARY KEY (delivery_id, attempt)
    )
    """,
)
#: added to a subscriptions table made before a key was kept in the row
WEBHOOK_KEY_COLUMNS = ("idem_owner", "idem_key", "idem_fingerprint", "idem_answer")
WEBHOOK_KEY_INDEX = (
    "CREATE UNIQUE INDEX IF NOT EXISTS webhook_subscriptions_idem"
    " ON webhook_subscriptions (idem_owner, idem_key)"
)

PORTAL = (
    """
    CREATE TABLE IF NOT EXISTS portal_users (
        username TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS portal_sessions (
        token_hash TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        csrf_token TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
    )
    """,
    # attempts: slots claimed since the count was last cleared (a slot is taken before the
    # password is checked); in_flight: claimed slots whose check has not finished; failures:
    # wrong passwords ever recorded for the name (only grows, so an attempt can tell whether
    # one was recorded while it ran); locked_until: set when the last slot is claimed
    """
    CREATE TABLE IF NOT EXISTS portal_sign_in_attempts (
        username TEXT PRIMARY KEY,
        attempts INTEGER NOT NULL,
        in_flight INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        locked_until DOUBLE PRECISION NOT NULL
    )
    """,
    # the counts of the version before slots were claimed; a lock is short-lived state
    "DROP TABLE IF EXISTS portal_sign_in_failures",
)

SCHEDULER = (
    "CREATE TABLE IF NOT EXISTS scheduler_jobs (id TEXT PRIMARY KEY,"
    " next_run_time DOUBLE PRECISION, job_state {blob} NOT NULL)",
    "CREATE INDEX IF NOT EXISTS scheduler_jobs_next ON scheduler_jobs (next_run_time)",
    "CREATE TABLE IF NOT EXISTS schedule_runs (customer_id TEXT PRIMARY KEY, account TEXT NOT"
    " NULL, billed_through TEXT NOT NULL, updated_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS scheduler_outcomes (job_id TEXT PRIMARY KEY, ran_at TEXT NOT"
    " NULL, status TEXT NOT NULL, detail TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS scheduler_leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL,"
    " expires_at DOUBLE PRECISION NOT NULL)",
)

#: where each read model has got to, and why one stopped (its own tables follow the code's
#: shape of them: adapters/store/read_models.py builds them again when that changes)
READ_MODELS = (
    "CREATE TABLE IF NOT EXISTS projection_tracking (name TEXT PRIMARY KEY,"
    " position BIGINT NOT NULL, generation BIGINT NOT NULL, shape TEXT NOT NULL,"
    " updated_at TEXT, rebuilt_at TEXT)",
    "CREATE TABLE IF NOT EXISTS projection_faults (name TEXT PRIMARY KEY,"
    " position BIGINT NOT NULL, event_id BIGINT NOT NULL, event_type TEXT NOT NULL,"
    " aggregate_id TEXT NOT NULL, aggregate_version BIGINT NOT NULL,"
    " error TEXT NOT NULL, since TEXT)",
)


def up(conn: Any, dialect: Dialect) -> None:
    postgres = dialect == "postgres"
    serial = "BIGSERIAL PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
    blob = "BYTEA" if postgres else "BLOB"
    for statement in (
        API_KEYS,
        *IDEMPOTENCY,
        *USAGE,
        *(s.format(serial=serial) for s in EXPORTS),
        *WEBHOOKS,
        *PORTAL,
        *(s.format(blob=blob) for s in SCHEDULER),
        *READ_MODELS,
    ):
        conn.execute(statement)
    _add_webhook_key_columns(conn, postgres)
    conn.execute(WEBHOOK_KEY_INDEX)


def _add_webhook_key_columns(conn: Any, postgres: bool) -> None:
    if postgres:
        for column in WEBHOOK_KEY_COLUMNS:
            conn.execute(
                f"ALTER TABLE webhook_subscriptions ADD COLUMN IF NOT EXISTS {column} TEXT"
            )
        return
    present = {row[1] for row in conn.execute("PRAGMA table_info(webhook_subscriptions)")}
    for column in WEBHOOK_KEY_COLUMNS:
        if column not in present:
            conn.execute(f"ALTER TABLE webhook_subscriptions ADD COLUMN {column} TEXT")
