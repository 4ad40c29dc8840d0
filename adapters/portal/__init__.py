"""The finance portal: server-rendered pages under /portal, in the same process as the API.

``install(app, services)`` mounts it on the API's FastAPI app; every change goes through the
same ``Ledger`` application service the API uses, with the signed-in user as the actor.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from adapters.app.context import Services
from adapters.app.users import Users
from adapters.portal.web import HERE, PREFIX, Portal, make_templates


def install(app: FastAPI, services: Services) -> Portal:
    """Mount the portal's pages and static files on ``app``; creates its tables if missing."""
    from adapters.portal.pages import (
        auth,
        bulk,
        customers,
        invoices,
        payments,
        settings,
        statements,
    )

    users = Users(
        services.db,
        idle_minutes=float(os.environ.get("TOLLBOOK_PORTAL_IDLE_MINUTES", "30")),
        max_hours=float(os.environ.get("TOLLBOOK_PORTAL_MAX_HOURS", "12")),
        tenant=services.tenant,
    )
    users.ensure_schema()
    events_table = getattr(services.ledger.recorder, "events_table_name", None)
    if events_table is None:
        raise ValueError("the portal needs SQLite or PostgreSQL (its read models are SQL tables)")
    portal = Portal(
        services=services,
        users=users,
        templates=make_templates(),
    )
    app.state.portal = portal
    for module in (auth, bulk, invoices, customers, statements, payments, settings):
        app.include_router(module.router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="portal-static")
    return portal
