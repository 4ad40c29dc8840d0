"""Webhook subscriptions, their delivery queue and the attempt log, in the ledger's database.

All delivery state lives here (not in memory), so a restarted worker resumes where the last one
stopped: each subscription remembers the feed position it has queued up to, and each queued
delivery its attempts and next due time.

A subscription created with an ``Idempotency-Key`` carries the key (owner, key, request
fingerprint) and its answer (the first response's body) in its own row: the key's outcome is
committed by the same INSERT as the subscription, so a replay after any crash finds both or
neither, and a unique index lets one request per key create one (docs/http-api.md).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import psycopg

from adapters.store.database import Database
from adapters.store.migrations.runner import migrate
from adapters.webhooks.destinations import DestinationPolicy
from domain.errors import InvalidInput, NotFound
from domain.idempotency import KeyAlreadyCommitted

SUBSCRIPTION_COLUMNS = "id, url, secret, event_types, status, position, created_at, created_by"
DELIVERY_COLUMNS = (
    "id, subscription_id, position, event_id, event_type, aggregate_id, body, status, attempts,"
    " next_attempt_at, last_status, last_error, delivered_at"
)


KEY_COLUMNS = ("idem_owner", "idem_key", "idem_fingerprint", "idem_answer")


@dataclass(frozen=True)
class WebhookKey:
    """The Idempotency-Key of the request creating a subscription (set by the HTTP middleware
    for the route, adapters/http/idempotency.py)."""

    owner: str
    key: str
    fingerprint: str
    #: test-only fault injection, as for ledger writes: run right after the INSERT commits
    after_commit: Callable[[], None] | None = None


@dataclass(frozen=True)
class KeyedAnswer:
    """What a key committed with a subscription names: its request and its first answer."""

    fingerprint: str
    answer: dict[str, Any]
    subscription_id: str

    @property
    def used_at(self) -> datetime:
        """When the key was first used: when its subscription was created."""
        return datetime.fromisoformat(str(self.answer["created_at"]))


KEYED: ContextVar[WebhookKey | None] = ContextVar("tollbook_webhook_key", default=None)


@dataclass(frozen=True)
class Subscription:
    id: str
    url: str
    secret: str
    event_types: list[str]
    status: str  # active | removed
    position: int
    created_at: str
    created_by: str

    def doc(self) -> dict[str, Any]:
        """What the API and CLI show: the secret only as a hint."""
        return {
            "id": self.id,
            "url": self.url,
            "event_types": self.event_types,
            "status": self.status,
            "position": self.position,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "secret_hint": self.secret[:10] + "…",
        }

    def created_doc(self) -> dict[str, Any]:
        """The answer to the request that created it: the only one that shows the secret."""
        return {**self.doc(), "secret": self.secret}


@dataclass(frozen=True)
class Delivery:
    id: str
    subscription_id: str
    position: int
    event_id: str
    event_type: str
    aggregate_id: str
    body: str
    status: str  # pending | delivered | failed
    attempts: int
    next_attempt_at: float
    last_status: int | None
    last_error: str | None
    delivered_at: float | None

    def doc(self) -> dict[str, Any]:
        def iso(moment: float | None) -> str | None:
            return None if moment is None else datetime.fromtimestamp(moment, UTC).isoformat()

        return {
            "id": self.id,
            "subscription_id": self.subscription_id,
            "position": self.position,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "aggregate_id": self.aggregate_id,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": iso(self.next_attempt_at) if self.status == "pending" else None,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "delivered_at": iso(self.delivered_at),
        }


@dataclass(frozen=True)
class QueuedEvent:
    position: int
    event_id: str
    event_type: str
    aggregate_id: str
    body: str


class WebhookStore:
    def __init__(
        self,
        db: Database,
        policy: DestinationPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.clock = clock
        # which URLs may be subscribed (the delivering sender checks them again each time)
        self.policy = DestinationPolicy.from_env() if policy is None else policy

    def ensure_schema(self) -> None:
        migrate(self.db)

    # ----------------------------------------------------------- subscriptions

    def add(
        self, url: str, secret: str, event_types: Sequence[str], position: int, created_by: str
    ) -> Subscription:
        self.policy.check(url)  # its form first, then every address it resolves to
        if len(secret) < 16:
            raise InvalidInput("a webhook secret must be at least 16 characters")
        subscription = Subscription(
            id=str(uuid4()),
            url=url,
            secret=secret,
            event_types=list(event_types),
            status="active",
            position=position,
            created_at=self.clock().astimezone(UTC).isoformat(),
            created_by=created_by,
        )
        keyed = KEYED.get()
        key_values: tuple[str | None, ...] = (None, None, None, None)
        if keyed is not None:
            answer = json.dumps(subscription.created_doc())
            key_values = (keyed.owner, keyed.key, keyed.fingerprint, answer)
        try:
            with self.db.connect() as conn:
                conn.execute(
                    self.db.sql(
                        f"INSERT INTO webhook_subscriptions ({SUBSCRIPTION_COLUMNS},"
                        f" {', '.join(KEY_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                    (
                        subscription.id,
                        subscription.url,
                        subscription.secret,
                        json.dumps(subscription.event_types),
                        subscription.status,
                        subscription.position,
                        subscription.created_at,
                        subscription.created_by,
                        *key_values,
                    ),
                )
        except (sqlite3.IntegrityError, psycopg.IntegrityError):
            if keyed is not None and self.keyed(keyed.owner, keyed.key) is not None:
                raise KeyAlreadyCommitted(keyed.key) from None  # a concurrent request won
            raise
        if keyed is not None and keyed.after_commit is not None:
            keyed.after_commit()
        return subscription

    def keyed(self, owner: str, key: str) -> KeyedAnswer | None:
        """The subscription a request with this (owner, key) created, if one did."""
        with self.db.connect(write=False) as conn:
            row = conn.execute(
                self.db.sql(
                    "SELECT idem_fingerprint, idem_answer, id FROM webhook_subscriptions"
                    " WHERE idem_owner = ? AND idem_key = ?"
                ),
                (owner, key),
            ).fetchone()
        if row is None:
            return None
        return KeyedAnswer(str(row[0]), json.loads(row[1]), str(row[2]))

    def subscriptions(self, include_removed: bool = False) -> list[Subscription]:
        where = "" if include_removed else " WHERE status = 'active'"
        with self.db.connect() as conn:
            rows = conn.execute(
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions{where}"
                " ORDER BY created_at, id"
            ).fetchall()
        return [_subscription(row) for row in rows]

    def backlog(self) -> list[tuple[str, int, int, int]]:
        """Each active subscription's (id, position queued up to, pending deliveries, failed
        deliveries that gave up): what ``/metrics`` reports; index look-ups only."""
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT s.id, s.position,"
                " (SELECT COUNT(*) FROM webhook_deliveries d"
                "   WHERE d.subscription_id = s.id AND d.status = 'pending'),"
                " (SELECT COUNT(*) FROM webhook_deliveries d"
                "   WHERE d.subscription_id = s.id AND d.status = 'failed')"
                " FROM webhook_subscriptions s WHERE s.status = 'active' ORDER BY s.id"
            ).fetchall()
        return [(str(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]

    def subscription(self, ref: str) -> Subscription:
        """A subscription by id or unique id prefix (6+ characters)."""
        matches = [s for s in self.subscriptions(include_removed=True) if s.id == ref]
        if not matches and len(ref) >= 6:
            matches = [s for s in self.subscriptions(include_removed=True) if s.id.startswith(ref)]
        if len(matches) != 1:
            raise NotFound(f"unknown webhook subscription {ref!r}")
        return matches[0]

    def remove(self, ref: str) -> Subscription:
        """Stop delivering; the subscription and its delivery log are kept for the record."""
        subscription = self.subscription(ref)
        with self.db.connect() as conn:
            conn.execute(
                self.db.sql("UPDATE webhook_subscriptions SET status = 'removed' WHERE id = ?"),
                (subscription.id,),
            )
        return self.subscription(subscription.id)

    def retry_failed(self, ref: str, now: float) -> int:
        """Put deliveries that gave up back in the queue, due now."""
        subscription = self.subscription(ref)
        with self.db.connect() as conn:
            cursor = conn.execute(
                self.db.sql(
                    "UPDATE webhook_deliveries SET status = 'pending', attempts = 0,"
                    " next_attempt_at = ? WHERE subscription_id = ? AND status = 'failed'"
                ),
                (now, subscription.id),
            )
            return int(cursor.rowcount)

    def claim(self, subscription_id: str, owner: str, now: float, lease_seconds: float) -> bool:
        """Take the subscription's lease, so only one worker delivers its events at a time."""
        with self.db.connect() as conn:
            cursor = conn.execute(
                self.db.sql(
                    "UPDATE webhook_subscriptions SET lease_owner = ?, lease_until = ?"
                    " WHERE id = ? AND status = 'active'"
                    " AND (lease_until IS NULL OR lease_until < ? OR lease_owner = ?)"
                ),
                (owner, now + lease_seconds, subscription_id, now, owner),
            )
            return int(cursor.rowcount) == 1

    def release(self, subscription_id: str, owner: str) -> None:
        with self.db.connect() as conn:
            conn.execute(
                self.db.sql(
                    "UPDATE webhook_subscriptions SET lease_owner = NULL, lease_until = NULL"
                    " WHERE id = ? AND lease_owner = ?"
                ),
                (subscription_id, owner),
            )

    # -------------------------------------------------------------- deliveries

    def enqueue(
        self,
        subscription_id: str,
        events: Sequence[QueuedEvent],
        new_position: int,
        now: float,
    ) -> None:
        """Queue deliveries and move the subscription's position, in one transaction."""
        insert = self.db.sql(
            f"INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, NULL, NULL, NULL, ?)"
            " ON CONFLICT (subscription_id, position) DO NOTHING"
        )
        with self.db.connect() as conn:
            for event in events:
                conn.execute(
                    insert,
                    (
                        str(uuid4()),
                        subscription_id,
                        event.position,
                        event.event_id,
                        event.event_type,
                        event.aggregate_id,
                        event.body,
                        now,
                        now,
                    ),
                )
            conn.execute(
                self.db.sql(
                    "UPDATE webhook_subscriptions SET position = ? WHERE id = ? AND position < ?"
                ),
                (new_position, subscription_id, new_position),
            )

    def open_deliveries(self, subscription_id: str, limit: int = 500) -> list[Delivery]:
        """Pending and failed deliveries of one subscription, oldest position first."""
        with self.db.connect() as conn:
            rows = conn.execute(
                self.db.sql(
                    f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries"
                    " WHERE subscription_id = ? AND status IN ('pending', 'failed')"
                    " ORDER BY position LIMIT ?"
                ),
                (subscription_id, limit),
            ).fetchall()
        return [_delivery(row) for row in rows]

    def deliveries(
        self, subscription_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        clauses, params = [], []
        if subscription_id:
            clauses.append("subscription_id = ?")
            params.append(subscription_id)
        if status:
            clauses.append("status = ?")
            params.append(status)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.db.connect() as conn:
            rows = conn.execute(
                self.db.sql(
                    f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries{where}"
                    " ORDER BY position DESC, subscription_id LIMIT ?"
                ),
                (*params, limit),
            ).fetchall()
        return [_delivery(row) for row in rows]

    def record_attempt(
        self,
        delivery: Delivery,
        *,
        at: float,
        status_code: int | None,
        error: str | None,
        duration_ms: int,
        outcome: str,
        next_attempt_at: float,
    ) -> None:
        """Log one attempt and move the delivery on (delivered, retry later, or failed)."""
        attempt = delivery.attempts + 1
        with self.db.connect() as conn:
            conn.execute(
                self.db.sql(
                    "INSERT INTO webhook_attempts"
                    " (delivery_id, attempt, at, status_code, error, duration_ms)"
                    " VALUES (?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (delivery_id, attempt) DO NOTHING"
                ),
                (delivery.id, attempt, at, status_code, error, duration_ms),
            )
            conn.execute(
                self.db.sql(
                    "UPDATE webhook_deliveries SET status = ?, attempts = ?,"
                    " next_attempt_at = ?, last_status = ?, last_error = ?, delivered_at = ?"
                    " WHERE id = ?"
                ),
                (
                    outcome,
                    attempt,
                    next_attempt_at,
                    status_code,
                    error,
                    at if outcome == "delivered" else None,
                    delivery.id,
                ),
            )

    def attempts(self, delivery_id: str) -> list[dict[str, Any]]:
        with self.db.connect() as conn:
            rows = conn.execute(
                self.db.sql(
                    "SELECT attempt, at, status_code, error, duration_ms FROM webhook_attempts"
                    " WHERE delivery_id = ? ORDER BY attempt"
                ),
                (delivery_id,),
            ).fetchall()
        return [
            {
                "attempt": int(attempt),
                "at": datetime.fromtimestamp(float(at), UTC).isoformat(),
                "status_code": status_code,
                "error": error,
                "duration_ms": int(duration_ms),
            }
            for attempt, at, status_code, error, duration_ms in rows
        ]


def _subscription(row: Sequence[Any]) -> Subscription:
    id_, url, secret, types, status, position, created_at, created_by = row
    return Subscription(
        id=str(id_),
        url=str(url),
        secret=str(secret),
        event_types=list(json.loads(types)),
        status=str(status),
        position=int(position),
        created_at=str(created_at),
        created_by=str(created_by),
    )


def _delivery(row: Sequence[Any]) -> Delivery:
    (
        id_,
        subscription_id,
        position,
        event_id,
        event_type,
        aggregate_id,
        body,
        status,
        attempts,
        next_attempt_at,
        last_status,
        last_error,
        delivered_at,
    ) = row
    return Delivery(
        id=str(id_),
        subscription_id=str(subscription_id),
        position=int(position),
        event_id=str(event_id),
        event_type=str(event_type),
        aggregate_id=str(aggregate_id),
        body=str(body),
        status=str(status),
        attempts=int(attempts),
        next_attempt_at=float(next_attempt_at),
        last_status=None if last_status is None else int(last_status),
        last_error=None if last_error is None else str(last_error),
        delivered_at=None if delivered_at is None else float(delivered_at),
    )
