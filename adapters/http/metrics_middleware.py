"""Counts every HTTP request and times it, by method, route template and status
(``tollbook_http_requests_total``, ``tollbook_http_request_duration_seconds``).

The route label is the template a request matched (``/invoices/{ref}``), never its path: ids
in paths would make a new time series per invoice; likewise a method outside the usual seven
is counted as ``other``. A request that matched no route (a 404
for an unknown path, or an answer given before routing, such as a kept read or a 413) is
matched against the routes here, and labelled ``unmatched`` when none fits.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters import metrics

UNMATCHED = "unmatched"
#: methods counted by name; any other (a client may send any token) is counted as "other"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    """Pure ASGI middleware: it sees the status of streamed answers too, and adds no task."""

    def __init__(self, app: ASGIApp, router: Router) -> None:
        self.app = app
        # the application's router: its routes are looked at only when a request matched
        # none (read when needed: routes mounted later, such as the portal's, count too)
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # as it came in: routing rewrites the scope (a mount moves its prefix to root_path)
        arrived = dict(scope)
        status = 500  # what the server answers when the application raised

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = _template(scope.get("route")) or self._route(arrived)
            method = scope["method"] if scope["method"] in METHODS else "other"
            labels = (method, route, str(status))
            metrics.HTTP_REQUESTS.labels(*labels).inc()
            metrics.HTTP_DURATION.labels(*labels).observe(time.perf_counter() - started)

    def _route(self, scope: Scope) -> str:
        return _matching(self.router.routes, scope) or UNMATCHED


def _matching(routes: Iterable[object], scope: Scope) -> str | None:
    """The template of the route among ``routes`` that fully matches ``scope``. A router
    included in the app matches as a whole (FastAPI 0.165 wraps it, and says which of its
    routes matched only while routing): its own routes are asked in turn. Anything this does
    not know how to look into is None, so the label stays bounded whatever FastAPI does."""
    for route in routes:
        matches = getattr(route, "matches", None)
        if matches is None:
            continue
        match, _ = matches(scope)
        if match is not Match.FULL:
            continue
        inner = getattr(route, "effective_candidates", None)
        found = _matching(inner(), scope) if callable(inner) else _template(route)
        if found is not None:
            return found
    return None


def _template(route: object) -> str | None:
    found = getattr(route, "path_format", None) or getattr(route, "path", None)
    return found if isinstance(found, str) and found else None
