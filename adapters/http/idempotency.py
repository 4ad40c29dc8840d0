"""``Idempotency-Key`` on POST: a retried request gets the first response, not a second effect.

The first request with a key claims it (a row with no response yet), runs, and stores its status,
a few headers and body. A replay with the same key and the same request (method, path, query,
body) gets that stored response back with ``Idempotent-Replayed: true``; the same key with a
different request is refused (422), and one still running answers 409. Keys are scoped to the
presented credential, so two clients cannot collide. Failures that say nothing about the
request (401/403, 5xx) release the key so a corrected retry can run.

Keys are kept for ``retain_for`` (24 hours by default, as payment APIs commonly do): long
enough for any client's retries, short enough that the table does not grow forever. Older
ones are deleted as requests come in, at most once every ``PRUNE_EVERY`` per process; a key
used again after that runs as a new request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.http.problems import problem_response
from adapters.store.database import Database
from adapters.store.ddl import serialise_ddl

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
KEPT_HEADERS = ("content-type", "location", "etag")

SCHEMA = """
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
"""
INDEX = "CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at)"
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
        with self.db.connect() as conn:
            serialise_ddl(self.db, conn)
            conn.execute(SCHEMA)
            conn.execute(INDEX)

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


def _credential(headers: Headers) -> str:
    presented = headers.get("authorization") or headers.get("x-api-key") or ""
    return hashlib.sha256(presented.encode("utf-8")).hexdigest()


def _fingerprint(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1")):
        digest.update(part.encode("utf-8") + b"\0")
    digest.update(body)
    return digest.hexdigest()


class IdempotencyMiddleware:
    """Pure ASGI middleware, so the request body can be read once and replayed to the app."""

    def __init__(self, app: ASGIApp, store: IdempotencyStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            await problem_response(
                400,
                "invalid_idempotency_key",
                f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters",
                path,
            )(scope, receive, send)
            return

        body = await _read_body(receive)
        owner = _credential(headers)
        fingerprint = _fingerprint(scope, body)
        stored = await run_in_threadpool(self.store.claim, owner, key, fingerprint)
        if stored is not None:
            await self._answer_replay(stored, fingerprint, key, scope, receive, send)
            return

        status = 0
        kept: dict[str, str] = {}
        chunks: list[bytes] = []

        async def replay_body() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for name, value in message.get("headers", []):
                    if name.decode("latin-1").lower() in KEPT_HEADERS:
                        kept[name.decode("latin-1").lower()] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        except BaseException:
            await run_in_threadpool(self.store.release, owner, key)
            raise
        if status in (401, 403) or status >= 500:
            await run_in_threadpool(self.store.release, owner, key)
        else:
            text = b"".join(chunks).decode("utf-8", errors="replace")
            await run_in_threadpool(self.store.finish, owner, key, status, kept, text)

    async def _answer_replay(
        self,
        stored: Stored,
        fingerprint: str,
        key: str,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        path = scope["path"]
        if stored.fingerprint != fingerprint:
            response: Any = problem_response(
                422,
                "idempotency_key_reused",
                f"Idempotency-Key {key!r} was already used for a different request",
                path,
            )
        elif stored.status is None:
            response = problem_response(
                409,
                "idempotency_key_in_progress",
                f"a request with Idempotency-Key {key!r} is still being processed; retry later",
                path,
                {"Retry-After": "1"},
            )
        else:
            response = Response(
                stored.body or "",
                status_code=stored.status,
                headers={**stored.headers, "Idempotent-Replayed": "true"},
            )
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> bytes:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)
