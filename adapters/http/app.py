"""The API's ASGI application: routers, problem documents, idempotency, request logging.

Layers, outermost first: request id, logging and the last-resort 500 (``RequestContext``);
kept reads answered again while they hold (``KeptReads``); the body-size limit (``BodyLimit``,
before anything reads a body); idempotency; FastAPI's own exception handlers (``problems``);
the routers. The write guard makes a request's writes wait until what they write can be shown
(``write_guard``). ``tollbook serve`` mounts the portal on this app (adapters/service/app.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from adapters.app.context import Services
from adapters.app.exposition import Exposition
from adapters.app.health import ReadModelHealth
from adapters.app.readiness import Readiness, max_lag_from_env
from adapters.http import openapi, problems, write_guard
from adapters.http.body_limit import BodyLimit, max_body_bytes_from_env
from adapters.http.conditional import KeptReads, PageCache, read_cache_bytes
from adapters.http.documents import HealthDoc, answers
from adapters.http.idempotency import IdempotencyMiddleware
from adapters.http.metrics_middleware import RequestMetrics
from adapters.http.request_context import RequestContext
from adapters.http.routers import (
    credit_notes,
    customers,
    dunning,
    events,
    invoices,
    liveness,
    operations,
    packages,
    payments,
    settings,
    webhooks,
)

DESCRIPTION = """The tollbook billing ledger over HTTP.

Authenticate with `Authorization: Bearer <API key>` (keys: `tollbook apikey create`).
Amounts are decimal strings. Errors are RFC 9457 `application/problem+json` documents with a
stable `code`. `ETag` carries the aggregate version; send it back in `If-Match` on edits.
Every POST accepts an `Idempotency-Key`. Request bodies are limited in size (413 beyond).
See docs/http-api.md and docs/integrators.md.
"""


def create_api(
    services: Services, *, max_body_bytes: int | None = None, html_prefix: str | None = None
) -> FastAPI:
    """The API on ``services``; bodies beyond ``max_body_bytes`` (default:
    ``TOLLBOOK_MAX_BODY_BYTES``, else 1 MiB) are refused with 413. Errors under
    ``html_prefix`` (pages mounted beside the API) are answered as HTML pages."""
    app = FastAPI(
        title="tollbook",
        version="1",
        description=DESCRIPTION,
        docs_url=None,  # FastAPI's pages load their scripts from a CDN: openapi.install's do not
        redoc_url=None,
        responses=openapi.PROBLEM_RESPONSES,
        generate_unique_id_function=openapi.operation_id,
    )
    openapi.install(app)
    app.state.services = services
    problems.install(app)
    app.include_router(liveness.router)  # first: a probe pays for no other route's matching
    app.include_router(operations.router)
    for module in (
        settings,
        customers,
        packages,
        invoices,
        credit_notes,
        payments,
        dunning,
        events,
    ):
        app.include_router(module.router)
    app.include_router(webhooks.router)
    write_guard.install(services.ledger)
    # add_middleware wraps what is already there: the last one added is the outermost
    app.add_middleware(IdempotencyMiddleware, services=services)
    app.add_middleware(
        BodyLimit,
        max_bytes=max_body_bytes if max_body_bytes is not None else max_body_bytes_from_env(),
    )
    app.add_middleware(write_guard.WriteGuard)
    # answers kept by the reads (adapters/http/conditional.py), sent again while they hold
    app.state.tollbook_pages = pages = PageCache(read_cache_bytes())
    app.add_middleware(KeptReads, services=services, pages=pages)
    app.add_middleware(RequestContext, html_prefix=html_prefix)
    app.add_middleware(RequestMetrics, router=app.router)  # outermost: sees every answer

    read_models = ReadModelHealth(services)
    app.state.tollbook_readiness = Readiness(services, read_models, max_lag_from_env())
    app.state.tollbook_exposition = Exposition(services, read_models)

    @app.get("/health", tags=["service"], **answers(HealthDoc))
    def health() -> dict[str, Any]:
        """Liveness and the read models' state: always 200 while the process answers;
        ``status`` is ``degraded`` when a read model is stopped at an event it cannot apply
        (listed with its position, the event and the error) or cannot be read."""
        return read_models.report()

    return app
