"""Where the store is: a database URL -> the eventsourcing library's settings, and a plain
PostgreSQL connection to it. Read by the store's own modules, so it lives below the
composition root (adapters/config.py), which builds the ledger from it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlparse

from adapters.config_error import ConfigError

if TYPE_CHECKING:
    import psycopg

DEFAULT_DATABASE_URL = "sqlite:///var/tollbook.sqlite"


def database_url(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get("TOLLBOOK_DATABASE_URL") or DEFAULT_DATABASE_URL


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
            "APPLICATION_RECORDER_TOPIC": "adapters.store.chain_postgres:ChainedPostgresRecorder",
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return env
    raise ConfigError(
        f"unsupported database URL {url!r}: use sqlite:///path, postgresql://... or memory://"
    )


def describe_url(url: str) -> str:
    """A store URL fit for messages and logs: its password left out."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.rsplit("@", 1)[1]
    user = parsed.username or ""
    return parsed._replace(netloc=f"{user}@{netloc}" if user else netloc).geturl()


#: Arbitrary constant naming tollbook's set-up lock among PostgreSQL advisory locks.
SETUP_LOCK_KEY = 7_406_151_923


def setup_lock_key(schema: str | None) -> int:
    """The set-up lock of one schema: advisory locks are per database, and set-up only races
    with set-up of the same schema, so ledgers in other schemas of the database (tenants, or
    tests running side by side) need not wait for each other. No schema (the default search
    path's ``public``): ``SETUP_LOCK_KEY`` itself. Two schemas sharing a key (a crc32
    collision) only wait for each other."""
    if not schema or schema == "public":
        return SETUP_LOCK_KEY
    import zlib  # only to take the lock: a command that reads never pays for it

    return SETUP_LOCK_KEY ^ (zlib.crc32(schema.encode()) << 20)


def postgres_connect(env: Mapping[str, str], **options: Any) -> psycopg.Connection[Any]:
    """A plain psycopg connection to the database the store settings name."""
    import psycopg  # here: a store on SQLite never needs it (nor its import time)

    return psycopg.connect(**connection_kwargs(env, **options))


def connection_kwargs(env: Mapping[str, str], **options: Any) -> dict[str, Any]:
    """psycopg's connection arguments for the database the store settings name. (Here, not
    beside the pool: a command that opens one connection never imports psycopg_pool.)"""
    return {
        "dbname": env["POSTGRES_DBNAME"],
        "host": env["POSTGRES_HOST"],
        "port": int(env["POSTGRES_PORT"]),
        "user": env["POSTGRES_USER"],
        "password": env.get("POSTGRES_PASSWORD") or None,
        **options,
    }
