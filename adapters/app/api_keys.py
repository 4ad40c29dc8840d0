"""API keys: named, scoped (read < write < admin), stored only as a SHA-256 hash.

A key is shown once, when it is created. Keys are 256 bits from ``secrets``, so a plain SHA-256
is enough to make a stolen table useless (no dictionary to try, unlike passwords) while keeping
the per-request check a single indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, cast

from adapters.store.database import Database
from adapters.store.migrations.runner import migrate
from domain.errors import AlreadyExists, InvalidInput, NotFound
from domain.limits import ACTOR, check_text
from domain.tenancy import tagged, tenant_of_token

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
KEY_PREFIX = "tbk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def tenant_of_key(key: str) -> str | None:
    """The tenant an API key names (``tbk_<tenant>.…``), or None."""
    return tenant_of_token(key[len(KEY_PREFIX) :]) if key.startswith(KEY_PREFIX) else None


def allows(granted: Scope, needed: Scope) -> bool:
    return SCOPES.index(granted) >= SCOPES.index(needed)


@dataclass(frozen=True)
class ApiKey:
    name: str
    scope: Scope
    hint: str
    created_at: str
    revoked_at: str | None


class ApiKeys:
    """The ``api_keys`` table, beside the event store."""

    def __init__(self, db: Database, *, tenant: str | None = None) -> None:
        self.db = db
        #: SQLite with kept read connections: ``authenticate`` is one read of a local file,
        #: ~10 µs, so it may run on the event loop's thread (the hop to a worker thread costs
        #: ~50 µs of CPU). PostgreSQL waits for a round trip: a worker thread.
        self.inline = db.dialect == "sqlite" and db.readers is not None
        # a key of a tenant carries the tenant's name (``tbk_<tenant>.…``): a service of many
        # tenants reads whose store to check it in (docs/scaling.md)
        self.tenant = tenant

    def ensure_schema(self) -> None:
        migrate(self.db)

    def create(self, name: str, scope: str) -> str:
        """A new key called ``name``; returns the key itself, which is never stored."""
        name = name.strip()
        if not name:
            raise InvalidInput("an API key needs a name (it is recorded as the actor)")
        check_text(name, ACTOR, what="API key name")  # it becomes every event's actor
        if scope not in SCOPES:
            raise InvalidInput(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
        key = KEY_PREFIX + tagged(self.tenant, secrets.token_urlsafe(32))
        hint = key[: len(key) - 43 + 4] + "…"  # the prefix (and tenant), 4 of the secret
        with self.db.connect() as conn:
            exists = conn.execute(
                self.db.sql("SELECT 1 FROM api_keys WHERE name = ?"), (name,)
            ).fetchone()
            if exists:
                raise AlreadyExists(f"an API key called {name!r} already exists")
            conn.execute(
                self.db.sql(
                    "INSERT INTO api_keys (name, scope, key_hash, hint, created_at)"
                    " VALUES (?, ?, ?, ?, ?)"
                ),
                (name, scope, hash_key(key), hint, datetime.now(UTC).isoformat()),
            )
        return key

    def authenticate(self, key: str) -> ApiKey | None:
        """The live key matching ``key``, or None (unknown or revoked).

        Every request asks, so it is one read statement, outside any transaction (SQLite: no
        write lock, which would queue the check behind the event writes and sleep in SQLite's
        busy handler; PostgreSQL: one round trip)."""
        row = self.db.read_text_row(
            "SELECT name, scope, hint, created_at, revoked_at FROM api_keys"
            " WHERE key_hash = ? AND revoked_at IS NULL",
            (hash_key(key),),
        )
        return _key(row) if row else None

    def list(self) -> list[ApiKey]:
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT name, scope, hint, created_at, revoked_at FROM api_keys ORDER BY name"
            ).fetchall()
        return [_key(row) for row in rows]

    def revoke(self, name: str) -> None:
        with self.db.connect() as conn:
            cursor = conn.execute(
                self.db.sql(
                    "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL"
                ),
                (datetime.now(UTC).isoformat(), name),
            )
            if cursor.rowcount != 1:
                raise NotFound(f"no live API key called {name!r}")


def _key(row: tuple[object, ...]) -> ApiKey:
    name, scope, hint, created_at, revoked_at = row
    return ApiKey(
        name=str(name),
        scope=cast(Scope, scope),
        hint=str(hint),
        created_at=str(created_at),
        revoked_at=None if revoked_at is None else str(revoked_at),
    )
