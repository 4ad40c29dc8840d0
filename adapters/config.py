"""The composition root: configuration from the environment -> a ready Ledger.

``TOLLBOOK_DATABASE_URL`` selects the store:
- ``sqlite:///var/tollbook.sqlite`` (the default; a path relative to the working directory),
- ``postgresql://user:password@host:5432/dbname?schema=tollbook`` (production),
- ``memory://`` (in-process, for tests and experiments).
The library's own variables (``PERSISTENCE_MODULE``, ``POSTGRES_*``, ``SQLITE_DBNAME``) still
work when ``TOLLBOOK_DATABASE_URL`` is unset and ``PERSISTENCE_MODULE`` is set.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import psycopg
from psycopg import sql

from domain import limits
from domain.application import Ledger, utc_now

DEFAULT_DATABASE_URL = "sqlite:///var/tollbook.sqlite"


class ConfigError(ValueError):
    pass


def database_url(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get("TOLLBOOK_DATABASE_URL") or DEFAULT_DATABASE_URL


def key_retention_days(environ: Mapping[str, str] | None = None) -> int | None:
    """``TOLLBOOK_IDEMPOTENCY_KEY_DAYS``: how many days an Idempotency-Key's answer is given
    (unset: for ever); a replay after that is refused as expired (docs/http-api.md)."""
    environ = os.environ if environ is None else environ
    text = environ.get("TOLLBOOK_IDEMPOTENCY_KEY_DAYS", "").strip()
    if not text:
        return None
    low, high = limits.MIN_KEY_RETENTION_DAYS, limits.MAX_KEY_RETENTION_DAYS
    if not (text.isascii() and text.isdigit() and len(text) <= 6 and low <= int(text) <= high):
        raise ConfigError(
            f"TOLLBOOK_IDEMPOTENCY_KEY_DAYS must be a whole number of days from {low} to {high:,}"
        )
    return int(text)


def store_env(url: str) -> dict[str, str]:
    """Translate a database URL into the eventsourcing library's settings."""
    parsed = urlparse(url)
    if parsed.scheme == "memory":
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        # sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy spells them
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise ConfigError("sqlite URL needs a file path, e.g. sqlite:///var/tollbook.sqlite")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "30",
            # events are hash-chained in the same transaction (docs/audit.md)
            "APPLICATION_RECORDER_TOPIC": "adapters.store.chain:ChainedSQLiteRecorder",
        }
    if parsed.scheme in ("postgres", "postgresql"):
        query = parse_qs(parsed.query)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(parsed.path.lstrip("/")) or "tollbook",
            "POSTGRES_HOST": parsed.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": unquote(parsed.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parsed.password or ""),
            "POSTGRES_LOCK_TIMEOUT": "10",
            "POSTGRES_POOL_SIZE": "2",
            "POSTGRES_MAX_OVERFLOW": "4",
            "APPLICATION_RECORDER_TOPIC": "adapters.store.chain:ChainedPostgresRecorder",
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return env
    raise ConfigError(
        f"unsupported database URL {url!r}: use sqlite:///path, postgresql://... or memory://"
    )


def build_ledger(
    url: str | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    environ: Mapping[str, str] | None = None,
) -> Ledger:
    environ = os.environ if environ is None else environ
    if url is None and "TOLLBOOK_DATABASE_URL" not in environ and "PERSISTENCE_MODULE" in environ:
        return _with_queries(Ledger(env=dict(environ), clock=clock), environ)
    env = store_env(url or database_url(environ))
    if env["PERSISTENCE_MODULE"] != "eventsourcing.postgres":
        return _with_queries(Ledger(env=env, clock=clock), env)
    # Processes starting together would race on the library's CREATE ... IF NOT EXISTS
    # ("tuple concurrently updated"); an advisory lock makes schema set-up one at a time.
    with postgres_connect(env, autocommit=True, connect_timeout=10) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SETUP_LOCK_KEY,))
        try:
            schema = env.get("POSTGRES_SCHEMA")
            if schema:
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
                )
            return _with_queries(Ledger(env=env, clock=clock), env)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK_KEY,))


def _with_queries(ledger: Ledger, env: Mapping[str, str]) -> Ledger:
    """Lists and lookups by number or id prefix read the read models (adapters/queries)."""
    from adapters.queries import attach  # imports this module: only once it is loaded

    attach(ledger, env)
    return ledger


#: Arbitrary constant naming tollbook's set-up lock among PostgreSQL advisory locks.
SETUP_LOCK_KEY = 7_406_151_923


def postgres_connect(env: Mapping[str, str], **options: Any) -> psycopg.Connection[Any]:
    """A plain psycopg connection to the database the store settings name."""
    return psycopg.connect(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=int(env["POSTGRES_PORT"]),
        user=env["POSTGRES_USER"],
        password=env.get("POSTGRES_PASSWORD") or None,
        **options,
    )
