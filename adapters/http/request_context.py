"""The outermost layer of every request: its id, its log line, and the last-resort 500.

Every request gets a request id (the client's ``X-Request-Id`` when it is a plain token,
else a new one), bound into the structlog context for everything the request logs and echoed
in the response. An exception nothing else handled is logged once with its traceback and the
request id, and answered with a 500 that says nothing about the cause: a problem document for
the API, an HTML page for the portal. Both carry the request id, so an operator can find the
traceback from what the user reports.
"""

from __future__ import annotations

import html
import re
import time
import uuid

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.http.problems import PROBLEM_JSON, problem_body

log = structlog.get_logger("tollbook.http")

HEADER = "X-Request-Id"
# A client's id is logged and echoed back: only a short plain token is taken as it is.
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# the fallback page loads nothing, so it may load nothing
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
INTERNAL_DETAIL = (
    "the server could not handle this request; the error is logged under its request_id"
)


def request_id_from(headers: Headers) -> str:
    presented = headers.get("x-request-id", "")
    return presented if _CLIENT_ID.fullmatch(presented) else uuid.uuid4().hex


class RequestContext:
    """Pure ASGI middleware (not ``BaseHTTPMiddleware``), so an exception from the app reaches
    it with the request id still bound, and streamed responses pass through untouched."""

    def __init__(self, app: ASGIApp, html_prefix: str | None = None) -> None:
        self.app = app
        self.html_prefix = html_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(Headers(scope=scope))
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                log.exception(
                    "unexpected error",
                    method=scope["method"],
                    path=scope["path"],
                    response_started=bool(status),
                )
                if status:
                    raise  # the answer is under way: the server can only cut the connection
                status = 500
                await self._internal_error(scope, request_id)(scope, receive, send)
            finally:
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    ms=round((time.perf_counter() - started) * 1000, 1),
                )

    def _internal_error(self, scope: Scope, request_id: str) -> Response:
        headers = {HEADER: request_id}
        path = str(scope["path"])
        prefix = self.html_prefix
        if prefix is not None and (path == prefix or path.startswith(prefix + "/")):
            return HTMLResponse(internal_error_page(request_id), 500, {**headers, **PAGE_HEADERS})
        body = problem_body(500, "internal_error", INTERNAL_DETAIL, path, request_id=request_id)
        return JSONResponse(body, 500, headers, media_type=PROBLEM_JSON)


def internal_error_page(request_id: str) -> str:
    """A page that needs nothing that might itself be broken (no template, no session)."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Something went wrong · tollbook finance</title></head><body>"
        "<h1>Something went wrong</h1>"
        '<p role="alert">The server could not handle this page; the error is logged.'
        f" If it keeps happening, quote reference <code>{html.escape(request_id)}</code>.</p>"
        '<p><a href="/portal/invoices">Back to the invoices</a></p></body></html>'
    )
