"""``GET /ready`` (readiness, no key) and ``GET /metrics`` (Prometheus, a read key): what a
load balancer and a monitoring system ask of the service (docs/operations.md)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from adapters.app.exposition import CONTENT_TYPE, Exposition
from adapters.app.readiness import Readiness
from adapters.http.deps import Reader
from adapters.http.documents import ReadyDoc
from adapters.http.routing import Router

router = Router(tags=["service"])

READY_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": ReadyDoc, "description": "Every check holds."},
    503: {"model": ReadyDoc, "description": "A check does not hold; each says why."},
}
METRICS_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus text exposition format 0.0.4.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


@router.get("/ready", response_model=None, responses=READY_ANSWERS)
async def get_ready(request: Request) -> JSONResponse:
    """Readiness: 200 ``ready`` when the store answers, the schema migrations are current,
    no read model is stopped and each is within the allowed lag; else 503 ``unready`` with
    the reason of each check. No API key (load balancers and orchestrators ask it)."""
    readiness: Readiness = request.app.state.tollbook_readiness
    report = await run_in_threadpool(readiness.report)
    return JSONResponse(report, status_code=200 if report["status"] == "ready" else 503)


@router.get("/metrics", response_model=None, responses=METRICS_ANSWERS)
async def get_metrics(request: Request, _key: Reader) -> Response:
    """The service's metrics in the Prometheus text format (docs/operations.md lists each
    and what to alert on). Needs a key of any scope, or serve them on an address of their
    own without a key (``tollbook serve --metrics-bind``)."""
    exposition: Exposition = request.app.state.tollbook_exposition
    body = await run_in_threadpool(exposition.render)
    return Response(body, media_type=CONTENT_TYPE)
