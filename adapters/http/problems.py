"""Errors as RFC 9457 problem documents (``application/problem+json``).

Every refusal carries a stable machine-readable ``code`` beside the human ``title``/``detail``:
the ledger's own error codes (``over_allocation``, ``invoice_not_editable``, ...) for rule
violations, and a few HTTP-level ones (``unauthorised``, ``forbidden``, ``validation_error``,
``version_mismatch``, ``idempotency_key_reused``, ``body_too_large``, ``internal_error``, ...).
Anything unexpected is a 500 ``internal_error`` without details (see ``request_context``).
"""

from __future__ import annotations

from typing import Any

import psycopg
import pydantic
import structlog
from eventsourcing import persistence as es_persistence
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.store.read_only_refusal import store_read_only
from domain.errors import (
    BillingError,
    ConcurrencyConflict,
    InvalidInput,
    NotFound,
    Unavailable,
    VersionMismatch,
)

PROBLEM_JSON = "application/problem+json"

#: what the store raises when its database cannot be reached or refuses every write (the
#: library's translations of the driver's errors, and the driver's own from plain SQL)
STORAGE_ERRORS: tuple[type[Exception], ...] = (
    es_persistence.OperationalError,
    es_persistence.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    psycopg.errors.ReadOnlySqlTransaction,
)

log = structlog.get_logger("tollbook.http")

TITLES = {
    400: "Bad request",
    401: "Unauthorised",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Content too large",
    422: "Unprocessable content",
    428: "Precondition required",
    500: "Internal server error",
    501: "Not implemented",
    503: "Service unavailable",
}

#: seconds a client is asked to wait before trying again when the store is unavailable
RETRY_AFTER = "5"


class Problem(Exception):
    """An HTTP-level refusal raised by the adapter itself (auth, preconditions, ...)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


#: Codes of the refusals Starlette itself raises (unknown path, wrong method, ...).
HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


def problem_body(
    status: int, code: str, detail: str, instance: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def problem_response(
    status: int,
    code: str,
    detail: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, code, detail, instance, **extra),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def status_for(error: BillingError) -> int:
    """Bad input 422, unknown ids 404, everything else the ledger refuses is a 409 conflict."""
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, InvalidInput):
        return 422
    if isinstance(error, VersionMismatch):
        return 412
    if isinstance(error, ConcurrencyConflict):
        return 409
    if isinstance(error, Unavailable):
        return 503
    return 409


def field_errors(errors: Any) -> list[dict[str, Any]]:
    """pydantic/FastAPI error items as ``{field, message, type}``; field is a dotted path."""
    return [
        {
            "field": ".".join(str(part) for part in item.get("loc", ())),
            "message": item.get("msg", ""),
            "type": item.get("type", ""),
        }
        for item in errors
    ]


def install(app: FastAPI) -> None:
    """Route every error the API can produce to a problem document."""

    async def on_problem(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, Problem)
        return problem_response(
            error.status,
            error.code,
            error.detail,
            request.url.path,
            error.headers,
            **error.extra,
        )

    async def on_billing(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, BillingError)
        status = status_for(error)
        log.info("request refused", code=error.code, status=status, path=request.url.path)
        extra: dict[str, Any] = {}
        existing = getattr(error, "existing_id", None)
        if existing:
            extra["existing_id"] = existing
        # the input the refusal concerns, as the domain named it (a client marks that field)
        if error.field is not None:
            extra["field"] = error.field
        if error.item is not None:
            extra["item"] = error.item
        headers: dict[str, str] = {}
        if isinstance(error, VersionMismatch):
            extra["current_version"] = error.current_version
            headers["ETag"] = f'"{error.current_version}"'
        if isinstance(error, Unavailable):
            headers["Retry-After"] = RETRY_AFTER
        return problem_response(status, error.code, str(error), request.url.path, headers, **extra)

    async def on_request_validation(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        errors = field_errors(error.errors())
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(422, "validation_error", detail, request.url.path, errors=errors)

    async def on_pydantic(request: Request, error: Exception) -> JSONResponse:
        # raised by the domain's own value models (e.g. a customer profile field)
        assert isinstance(error, pydantic.ValidationError)
        errors = field_errors(error.errors())
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(422, "validation_error", detail, request.url.path, errors=errors)

    async def on_http(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        code = HTTP_CODES.get(error.status_code, "http_error")
        return problem_response(
            error.status_code,
            code,
            str(error.detail),
            request.url.path,
            dict(error.headers or {}),
            **getattr(error, "extra", {}),
        )

    async def on_storage(request: Request, error: Exception) -> JSONResponse:
        # the store's database is down or unreachable (a stopped node, a full pool): the
        # request may succeed later; the details name hosts, so they stay in the log
        refusal = store_read_only(error)
        if refusal is not None:  # a table of a store marked read-only (read_only.py)
            return await on_billing(request, refusal)
        log.error("storage unavailable", path=request.url.path, error=str(error))
        return problem_response(
            503,
            "storage_unavailable",
            "the ledger's store is unavailable; nothing was written: try again shortly",
            request.url.path,
            {"Retry-After": RETRY_AFTER},
        )

    app.add_exception_handler(Problem, on_problem)
    for storage_error in STORAGE_ERRORS:
        app.add_exception_handler(storage_error, on_storage)
    app.add_exception_handler(BillingError, on_billing)
    app.add_exception_handler(RequestValidationError, on_request_validation)
    app.add_exception_handler(pydantic.ValidationError, on_pydantic)
    app.add_exception_handler(StarletteHTTPException, on_http)
