"""``/settings``: the seller's account settings."""

from __future__ import annotations

from typing import Any

from fastapi import Body

from adapters.http.deps import Admin, Reader, Svc
from adapters.http.documents import SettingsDoc, answers
from adapters.http.routing import Router
from adapters.http.schemas import SettingsChange
from domain.changes import SettingsChanges
from domain.errors import InvalidInput

router = Router(prefix="/settings", tags=["settings"])


@router.get("", **answers(SettingsDoc))
def show_settings(svc: Svc, _: Reader) -> dict[str, Any]:
    return svc.ledger.settings().model_dump(mode="json")


@router.patch("", **answers(SettingsDoc))
def change_settings(
    svc: Svc,
    key: Admin,
    body: SettingsChange = Body(examples=[{"company_name": "Tolls Ltd"}]),
) -> dict[str, Any]:
    """Change some settings (admin keys only); unknown names are refused."""
    changes = SettingsChanges.model_validate(body.model_dump(exclude_unset=True))
    if not changes:
        raise InvalidInput("nothing to change")
    return svc.ledger.change_settings(changes, key.name).model_dump(mode="json")
