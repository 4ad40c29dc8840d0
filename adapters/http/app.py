"""The ASGI application: routers, problem documents, idempotency, request logging."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response

from adapters import portal
from adapters.http import problems
from adapters.http.idempotency import IdempotencyMiddleware
from adapters.http.routers import (
    credit_notes,
    customers,
    events,
    invoices,
    packages,
    payments,
    settings,
    webhooks,
)
from adapters.service.context import Services
from adapters.service.health import ReadModelHealth

log = structlog.get_logger("tollbook.http")

DESCRIPTION = """The tollbook billing ledger over HTTP.

Authenticate with `Authorization: Bearer <API key>` (keys: `tollbook apikey create`).
Amounts are decimal strings. Errors are RFC 9457 `application/problem+json` documents with a
stable `code`. `ETag` carries the aggregate version; send it back in `If-Match` on edits.
Every POST accepts an `Idempotency-Key`. See docs/http-api.md and docs/integrators.md.
"""


def create_app(services: Services) -> FastAPI:
    app = FastAPI(title="tollbook", version="1", description=DESCRIPTION)
    app.state.services = services
    problems.install(app)
    for module in (settings, customers, packages, invoices, credit_notes, payments, events):
        app.include_router(module.router)
    app.include_router(webhooks.router)
    portal.install(app, services)  # the finance portal's pages under /portal
    app.add_middleware(IdempotencyMiddleware, store=services.idempotency)

    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
        response.headers["X-Request-Id"] = request_id
        log.info(
            "request",
            request_id=request_id,
            method=request.method,
            path=request.url.path,
            status=response.status_code,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return response

    read_models = ReadModelHealth(services)

    @app.get("/health", tags=["service"])
    def health() -> dict[str, Any]:
        """Liveness and the read models' state: always 200 while the process answers;
        ``status`` is ``degraded`` when a read model is stopped at an event it cannot apply
        (listed with its position, the event and the error) or cannot be read."""
        return read_models.report()

    return app
