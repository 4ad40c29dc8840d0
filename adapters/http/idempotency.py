"""``Idempotency-Key`` on POST: a retried write happens once and gets the first answer back.

Writes to the ledger (every route in ``replay.ROUTES``) record the key *in the ledger*: the
one save the route's command makes also creates the key's ``IdempotencyKey`` record, in the
same transaction (domain/idempotency.py), so the key is committed exactly when the request's
events are. Whatever happens after that commit — the process killed, a restart, an error while
answering — a replay finds the record and gets the route's answer derived again from it
(``replay.py``) with ``Idempotent-Replayed: true``, writing nothing. Two concurrent requests
with one key both run, but the store lets only one save carrying the key commit; the other
writes nothing and answers with the first one's outcome. A request refused before committing
(bad input, a rule, a conflict, auth) leaves no record, so a corrected retry can run. A key
reused for a different request (method, path, query or body) is refused with 422. Records are
events, so they are kept for ever: a replay a year later is still answered.

``POST /webhooks`` (not a ledger write) keeps its key in the subscription's own row: the
INSERT that creates the subscription also stores the key, the request's fingerprint and the
answer, so the key's outcome commits with the write (adapters/webhooks/store.py), exactly once
across crashes and races, like a ledger write. Any other POST (a path no route writes at, such
as a redirected ``/payments/``) keeps its key in the ``idempotency_keys`` table: claimed,
answered after the response, released when the request fails, pruned after ``retain_for``
(24 hours); such requests write nothing, so that table needs no crash safety.

Keys are scoped to the presented credential, so two clients cannot collide, and a replay is
only answered to a live (not revoked) key.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import datetime

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.app.context import Services
from adapters.app.idempotency_keys import Stored
from adapters.http.deps import authenticate
from adapters.http.problems import problem_response
from adapters.http.replay import ROUTES, keyed_route
from adapters.ledger.base import LedgerBase
from adapters.webhooks.store import KEYED as KEYED_SUBSCRIPTION
from adapters.webhooks.store import WebhookKey
from domain.idempotency import KeyedRequest, expired

log = structlog.get_logger("tollbook.http")

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
#: Printable ASCII, spaces allowed inside: a key is echoed in logs and problem documents, so
#: control characters (CR, LF, NUL, ANSI escapes) and anything non-ASCII are refused.
KEY_PATTERN = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
#: Test-only fault injection: when this variable is "1", the server process exits at once
#: right after a keyed request's commit, before any answer is built or sent, so a test can
#: prove that a replay after a restart finds the commit (tests/service/test_http_idempotency.py).
CRASH_AFTER_COMMIT = "TOLLBOOK_TEST_CRASH_AFTER_COMMIT"
KEPT_HEADERS = ("content-type", "location", "etag")
WEBHOOKS_PATH = "/webhooks"  # its key is kept in the subscription's row


def _presented(headers: Headers) -> str:
    """The API key as the auth dependency reads it (Bearer, else X-Api-Key)."""
    header = headers.get("authorization")
    if header:
        kind, _, value = header.partition(" ")
        return value.strip() if kind.lower() == "bearer" else header
    return headers.get("x-api-key") or ""


def owner_of(presented: str) -> str:
    """Keys are scoped to the credential. A salted digest, not the key table's own hash, since
    the ledger keeps it for ever."""
    return hashlib.sha256(b"tollbook idempotency owner\0" + presented.encode("utf-8")).hexdigest()


def fingerprint_of(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1")):
        digest.update(part.encode("utf-8") + b"\0")
    digest.update(body)
    return digest.hexdigest()


def key_problem(keys: list[str]) -> str | None:
    """Why the request's Idempotency-Key header(s) are unusable, or None when it is fine."""
    if len(keys) > 1:
        return "send one Idempotency-Key header, not several"
    [key] = keys
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        return f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters, not {len(key)}"
    if not KEY_PATTERN.fullmatch(key):
        return (
            "Idempotency-Key may hold only printable ASCII characters (no control characters)"
            " and may not start or end with a space"
        )
    return None


def _crash() -> None:
    os._exit(86)


@dataclass
class Buffered:
    """A whole response held back, so a request that lost its key to another can answer with
    the winner's outcome instead."""

    status: int = 0
    headers: list[tuple[bytes, bytes]] | None = None
    body: bytes = b""

    async def send_to(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status, "headers": self.headers or []}
        )
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


def _capture(buffered: Buffered) -> Send:
    async def capture(message: Message) -> None:
        if message["type"] == "http.response.start":
            buffered.status = int(message["status"])
            buffered.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            buffered.body += message.get("body", b"")

    return capture


class IdempotencyMiddleware:
    """Pure ASGI middleware, so the request body can be read once and replayed to the app."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services
        self.store = services.idempotency
        self.after_commit = _crash if os.environ.get(CRASH_AFTER_COMMIT) == "1" else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        keys = headers.getlist(HEADER)
        if not keys:
            await self.app(scope, receive, send)
            return
        problem = key_problem(keys)
        if problem is not None:
            await problem_response(400, "invalid_idempotency_key", problem, scope["path"])(
                scope, receive, send
            )
            return
        [key] = keys
        body = await _read_body(receive)
        presented = _presented(headers)
        owner = owner_of(presented)
        fingerprint = fingerprint_of(scope, body)

        async def replay_body() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        live = await authenticate(self.services.api_keys, presented)
        if live is None:
            # never answer a replay to an unknown or revoked key: the route refuses it (401)
            await self.app(scope, replay_body, send)
            return
        route = keyed_route(scope["path"])
        if route is not None:
            keyed = KeyedRequest(
                owner,
                key,
                fingerprint,
                route.template,
                scope["path"],
                route.status,
                after_commit=self.after_commit,
            )
            await self._in_ledger(keyed, scope, replay_body, send)
        elif scope["path"] == WEBHOOKS_PATH:
            webhook_key = WebhookKey(owner, key, fingerprint, self.after_commit)
            await self._in_subscription(webhook_key, scope, replay_body, send)
        else:
            await self._in_table(owner, key, fingerprint, scope, replay_body, send)

    # ------------------------------------------------------------- keys recorded in the ledger

    async def _in_ledger(
        self, keyed: KeyedRequest, scope: Scope, receive: Receive, send: Send
    ) -> None:
        answer = await run_in_threadpool(self._replay, keyed, scope["path"])
        if answer is None and await run_in_threadpool(self._elsewhere, keyed.owner, keyed.key):
            answer = _reused(keyed.key, scope["path"])  # it names a non-ledger request
        if answer is not None:
            await answer(scope, receive, send)
            return
        buffered = Buffered()
        with LedgerBase.keyed(keyed):
            try:
                await self.app(scope, receive, _capture(buffered))
            except Exception:
                if keyed.committed is None:
                    answer = await run_in_threadpool(self._replay, keyed, scope["path"])
                    if answer is not None:
                        await answer(scope, receive, send)
                        return
                # Committed, then failed: this client sees the error, its retry the outcome.
                log.warning("keyed request failed", key=keyed.key, committed=bool(keyed.committed))
                raise
        if keyed.committed is None:
            # It wrote nothing: it lost the key to a concurrent request, or a rule refused it
            # because that request's commit came first. Either way the committed request's
            # outcome is this key's answer; with no such commit, its own refusal is.
            answer = await run_in_threadpool(self._replay, keyed, scope["path"])
            if answer is not None:
                await answer(scope, receive, send)
                return
        await buffered.send_to(send)

    def _replay(self, keyed: KeyedRequest, path: str) -> Response | None:
        record = self.services.ledger.idempotency_record(keyed.owner, keyed.key)
        if record is None:
            return None
        if self._expired(record.created_on):
            return _expired(keyed.key, record.created_on, path)
        if record.fingerprint != keyed.fingerprint:
            return _reused(keyed.key, path)
        answer = ROUTES[record.route].render(self.services.ledger, record)
        log.info("idempotent replay", key=keyed.key, record_id=str(record.id))
        return JSONResponse(
            answer.body,
            status_code=record.status,
            headers={**answer.headers, "Idempotent-Replayed": "true"},
        )

    def _expired(self, used_at: datetime) -> bool:
        now = self.services.ledger.clock()
        return expired(used_at, now, self.services.key_retention_days)

    def _elsewhere(self, owner: str, key: str) -> bool:
        """The key names a request outside the ledger (a subscription, or the table)."""
        webhooks = self.services.webhooks
        return webhooks.keyed(owner, key) is not None or self.store.lookup(owner, key) is not None

    def _elsewhere_than_table(self, owner: str, key: str) -> bool:
        """The key names a ledger write or a subscription."""
        found = self.services.ledger.idempotency_record(owner, key) is not None
        return found or self.services.webhooks.keyed(owner, key) is not None

    # ---------------------------------------------- keys committed with a webhook subscription

    async def _in_subscription(
        self, keyed: WebhookKey, scope: Scope, receive: Receive, send: Send
    ) -> None:
        answer = await run_in_threadpool(self._subscription_replay, keyed, scope["path"])
        if answer is not None:
            await answer(scope, receive, send)
            return
        buffered = Buffered()
        token = KEYED_SUBSCRIPTION.set(keyed)
        try:
            await self.app(scope, receive, _capture(buffered))
        except Exception:
            # a concurrent request committed the key first (KeyAlreadyCommitted): its outcome
            answer = await run_in_threadpool(self._subscription_replay, keyed, scope["path"])
            if answer is None:
                raise
            await answer(scope, receive, send)
            return
        finally:
            KEYED_SUBSCRIPTION.reset(token)
        if not 200 <= buffered.status < 300:
            # it created nothing: it lost the key to a concurrent request (whose outcome is
            # the answer) or was refused (its own refusal is)
            answer = await run_in_threadpool(self._subscription_replay, keyed, scope["path"])
            if answer is not None:
                await answer(scope, receive, send)
                return
        await buffered.send_to(send)

    def _subscription_replay(self, keyed: WebhookKey, path: str) -> Response | None:
        if self.services.ledger.idempotency_record(keyed.owner, keyed.key) is not None:
            return _reused(keyed.key, path)  # the key already named a ledger write
        if self.store.lookup(keyed.owner, keyed.key) is not None:
            return _reused(keyed.key, path)
        found = self.services.webhooks.keyed(keyed.owner, keyed.key)
        if found is None:
            return None
        if self._expired(found.used_at):
            return _expired(keyed.key, found.used_at, path)
        if found.fingerprint != keyed.fingerprint:
            return _reused(keyed.key, path)
        log.info("idempotent replay", key=keyed.key, subscription_id=found.subscription_id)
        return JSONResponse(
            found.answer,
            status_code=201,
            headers={
                "Location": f"{WEBHOOKS_PATH}/{found.subscription_id}",
                "Idempotent-Replayed": "true",
            },
        )

    # ------------------------------------------------ keys in the adapter table (not crash-safe)

    async def _in_table(
        self, owner: str, key: str, fingerprint: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if await run_in_threadpool(self._elsewhere_than_table, owner, key):
            # the key already named a ledger write or a subscription: a different request
            await _reused(key, scope["path"])(scope, receive, send)
            return
        stored = await run_in_threadpool(self.store.claim, owner, key, fingerprint)
        if stored is not None:
            await _answer_stored(stored, fingerprint, key, scope, receive, send)
            return
        buffered = Buffered()
        try:
            await self.app(scope, receive, _capture(buffered))
        except BaseException:
            await run_in_threadpool(self.store.release, owner, key)
            raise
        if not 200 <= buffered.status < 300:
            # only a success is kept: a refused request wrote nothing, so a retry may run, and
            # a redirect (POST /webhooks/ -> /webhooks) is followed with the same key
            await run_in_threadpool(self.store.release, owner, key)
        else:
            kept = {
                name.decode("latin-1").lower(): value.decode("latin-1")
                for name, value in buffered.headers or []
                if name.decode("latin-1").lower() in KEPT_HEADERS
            }
            text = buffered.body.decode("utf-8", errors="replace")
            await run_in_threadpool(self.store.finish, owner, key, buffered.status, kept, text)
        await buffered.send_to(send)


def _expired(key: str, used_at: datetime, path: str) -> Response:
    return problem_response(
        422,
        "idempotency_key_expired",
        f"Idempotency-Key {key!r} was first used on {used_at.date().isoformat()}, longer ago"
        " than keys are kept (TOLLBOOK_IDEMPOTENCY_KEY_DAYS): nothing was written; send a new"
        " request with a new key",
        path,
    )


def _reused(key: str, path: str) -> Response:
    return problem_response(
        422,
        "idempotency_key_reused",
        f"Idempotency-Key {key!r} was already used for a different request",
        path,
    )


async def _answer_stored(
    stored: Stored, fingerprint: str, key: str, scope: Scope, receive: Receive, send: Send
) -> None:
    path = scope["path"]
    if stored.fingerprint != fingerprint:
        response: Response = _reused(key, path)
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
