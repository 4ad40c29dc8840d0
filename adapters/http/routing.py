"""Routers that a request for another part of the API skips at once.

FastAPI (0.165) matches the routers included in the app one route at a time, about 3 µs a
route: a write to ``/payments/{ref}/allocations`` was compared with the 41 routes registered
before the payments router's (~110 µs of its ~2 ms of CPU). Every route of a router here
starts with a literal first path segment (``/invoices/...``), so a request whose path starts
with none of them cannot match any of its routes — fully, or by path only (a 405): the
router answers "no match" without comparing them. Anything else (a route whose first segment
is a parameter, a mount under a root path) is matched the ordinary way, and a FastAPI that
matches included routers differently never asks (then nothing changes).
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.routing import Match
from starlette.types import Scope


def head(path: str) -> str:
    """The first segment of a path: ``invoices`` of ``/invoices/INV-1``; "" of ``/``."""
    return path[1:].partition("/")[0]


class Router(APIRouter):
    """An ``APIRouter`` that says "no match" without trying its routes when a request's first
    path segment is none of theirs."""

    _heads: frozenset[str] | None = None
    _heads_of = -1  # how many routes ``_heads`` was taken from

    def heads(self) -> frozenset[str] | None:
        """The first segments of the routes' paths; None when one may match anything."""
        if self._heads_of != len(self.routes):
            paths = [getattr(route, "path", None) for route in self.routes]
            literal = all(isinstance(path, str) and "{" not in head(path) for path in paths)
            self._heads = frozenset(head(str(path)) for path in paths) if literal else None
            self._heads_of = len(self.routes)
        return self._heads

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        heads = self.heads()
        if heads is not None and not scope.get("root_path") and head(scope["path"]) not in heads:
            return Match.NONE, {}
        return super().matches(scope)
