"""The web application ``tollbook serve`` hosts: the API with the finance portal mounted on it."""

from __future__ import annotations

from fastapi import FastAPI

from adapters import portal
from adapters.app.context import Services
from adapters.http.app import create_api
from adapters.portal.web import PREFIX as PORTAL_PREFIX


def create_app(services: Services, *, max_body_bytes: int | None = None) -> FastAPI:
    """The API and the portal on ``services``; bodies beyond ``max_body_bytes`` (default:
    ``TOLLBOOK_MAX_BODY_BYTES``, else 1 MiB) are refused with 413, and an unexpected error
    under the portal's prefix is answered as an HTML page."""
    app = create_api(services, max_body_bytes=max_body_bytes, html_prefix=PORTAL_PREFIX)
    portal.install(app, services)  # the finance portal's pages under /portal
    return app
