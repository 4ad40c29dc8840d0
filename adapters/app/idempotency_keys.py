"""The ``idempotency_keys`` table: Idempotency-Key outcomes of POSTs that write nothing to the
ledger (adapters/http/idempotency.py says which). Claimed, answered after the response,
released when the request fails, pruned after ``retain_for`` (24 hours)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from adapters.store.database import Database
from adapters.store.migrations.runner import migrate

RETAIN_FOR = timedelta(hours=24)
PRUNE_EVERY = timedelta(minutes=10)


@dataclass(frozen=True)
class Stored:
    fingerprint: str
    status: int | None
    headers: dict[str, str]
    body: str | None


class IdempotencyStore:
    """Claimed keys whose request never finished (the process died mid-request) are taken over
    after ``abandoned_after`` seconds, so a crash cannot lock a key forever."""

    def __init__(
        self,
        db: Database,
        abandoned_after: float = 300.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        retain_for: timedelta = RETAIN_FOR,
    ) -> None:
        self.db = db
        self.abandoned_after = abandoned_after
        self.clock = clock
        self.retain_for = retain_for
        self._pruned_at: datetime | None = None

    def ensure_schema(self) -> None:
        migrate(self.db)

    def prune(self, now: datetime | None = None) -> int:
        """Delete the keys claimed more than ``retain_for`` ago; how many went."""
        now = now or self.clock()
        self._pruned_at = now
        cutoff = (now - self.retain_for).astimezone(UTC).isoformat()
        with self.db.connect() as conn:
            cursor = conn.execute(
                self.db.sql("DELETE FROM idempotency_keys WHERE created_at < ?"), (cutoff,)
            )
            return int(cursor.rowcount)

    def claim(self, owner: str, key: str, fingerprint: str) -> Stored | None:
        """Claim the key for this request; or return what an earlier request stored."""
        insert = (
            "INSERT INTO idempotency_keys (owner, idem_key, fingerprint, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (owner, idem_key) DO NOTHING"
        )
        now = self.clock().astimezone(UTC)  # stored as UTC text, so text order is time order
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            self.prune(now)
        with self.db.connect() as conn:
            cursor = conn.execute(self.db.sql(insert), (owner, key, fingerprint, now.isoformat()))
            if cursor.rowcount == 1:
                return None
            row = conn.execute(
                self.db.sql(
                    "SELECT fingerprint, status, headers, body, created_at FROM idempotency_keys"
                    " WHERE owner = ? AND idem_key = ?"
                ),
                (owner, key),
            ).fetchone()
            fingerprint_, status, headers, body, created_at = row
            claimed_at = datetime.fromisoformat(str(created_at))
            if status is None and (now - claimed_at).total_seconds() > self.abandoned_after:
                taken = conn.execute(
                    self.db.sql(
                        "UPDATE idempotency_keys SET fingerprint = ?, created_at = ?"
                        " WHERE owner = ? AND idem_key = ? AND status IS NULL AND created_at = ?"
                    ),
                    (fingerprint, now.isoformat(), owner, key, created_at),
                )
                if taken.rowcount == 1:
                    return None
        return Stored(
            str(fingerprint_),
            None if status is None else int(status),
            json.loads(headers) if headers else {},
            None if body is None else str(body),
        )

    def lookup(self, owner: str, key: str) -> Stored | None:
        """What the table holds for the key (claimed or answered), without claiming it."""
        with self.db.connect() as conn:
            row = conn.execute(
                self.db.sql(
                    "SELECT fingerprint, status, headers, body FROM idempotency_keys"
                    " WHERE owner = ? AND idem_key = ?"
                ),
                (owner, key),
            ).fetchone()
        if row is None:
            return None
        fingerprint, status, headers, body = row
        return Stored(
            str(fingerprint),
            None if status is None else int(status),
            json.loads(headers) if headers else {},
            None if body is None else str(body),
        )

    def finish(self, owner: str, key: str, status: int, headers: dict[str, str], body: str) -> None:
        with self.db.connect() as conn:
            conn.execute(
                self.db.sql(
                    "UPDATE idempotency_keys SET status = ?, headers = ?, body = ?"
                    " WHERE owner = ? AND idem_key = ?"
                ),
                (status, json.dumps(headers), body, owner, key),
            )

    def release(self, owner: str, key: str) -> None:
        with self.db.connect() as conn:
            conn.execute(
                self.db.sql("DELETE FROM idempotency_keys WHERE owner = ? AND idem_key = ?"),
                (owner, key),
            )
