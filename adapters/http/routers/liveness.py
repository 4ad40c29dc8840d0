"""``GET /health/live``: the process answers; nothing else is asked (no database, no key).

A liveness probe (a supervisor restarting a hung process) wants exactly that. ``GET /health``
is the readiness report: it reads every read model's state from the database.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from adapters.http.routing import Router

router = Router(tags=["service"])


class Liveness(BaseModel):
    status: Literal["ok"]


ALIVE = {"status": "ok"}


@router.get("/health/live", response_model=Liveness)
async def get_liveness() -> dict[str, str]:
    """Always 200 ``{"status": "ok"}`` while the process answers requests: no database work
    and no API key (``GET /health`` reports the read models)."""
    return ALIVE
