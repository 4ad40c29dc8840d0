"""Counts every HTTP request and times it, by method, route template and status
(``tollbook_http_requests_total``, ``tollbook_http_request_duration_seconds``).

The route label is the template a request matched (``/invoices/{ref}``), never its path: ids
in paths would make a new time series per invoice. A request that matched no route (a 404
for an unknown path, or an answer given before routing, such as a kept read or a 413) is
matched against the routes here, and labelled ``unmatched`` when none fits.
"""

from __future__ import annotations

import time

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters import metrics

UNMATCHED = "unmatched"


class RequestMetrics:
    """Pure ASGI middleware: it sees the status of streamed answers too, and adds no task."""

    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app = app
        self.routes = routes  # the application's, looked at only when a request matched none

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the application raised

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            labels = (scope["method"], self._route(scope), str(status))
            metrics.HTTP_REQUESTS.labels(*labels).inc()
            metrics.HTTP_DURATION.labels(*labels).observe(time.perf_counter() - started)

    def _route(self, scope: Scope) -> str:
        matched = scope.get("route")
        template = getattr(matched, "path_format", None) or getattr(matched, "path", None)
        if isinstance(template, str):
            return template
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                found = getattr(route, "path_format", None) or getattr(route, "path", None)
                return found if isinstance(found, str) else UNMATCHED
        return UNMATCHED
