"""``tollbook settings ...``: the seller's account settings."""

from __future__ import annotations

import click

from adapters.cli.context import emit_json, json_option, passes_state, say, table
from adapters.ledger.application import Ledger
from domain.changes import SettingsChanges
from domain.errors import InvalidInput
from domain.settings import SellerSettings


@click.group()
def settings() -> None:
    """The seller's settings: company, tax defaults, numbering, line grouping."""


@settings.command("show")
@json_option
@passes_state
def show(ledger: Ledger, actor: str, as_json: bool) -> None:
    """Show the account settings."""
    del actor
    doc = ledger.settings().model_dump(mode="json")
    if as_json:
        emit_json(doc)
    else:
        table("Account settings", ["setting", "value"], [[k, v] for k, v in doc.items()])


@settings.command("set")
@click.argument("assignments", nargs=-1, required=True, metavar="KEY=VALUE...")
@json_option
@passes_state
def set_(ledger: Ledger, actor: str, assignments: tuple[str, ...], as_json: bool) -> None:
    """Change settings, e.g. ``company_name="Tolls Ltd" default_tax_rate=20``."""
    known = set(SellerSettings.model_fields)
    changes: dict[str, str] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(f"expected KEY=VALUE, got {item!r}")
        if key not in known:
            raise InvalidInput(f"unknown setting {key!r}; known: {', '.join(sorted(known))}")
        changes[key] = value.replace("\\n", "\n")
    ledger.change_settings(SettingsChanges.model_validate(changes), actor)
    if as_json:
        emit_json(ledger.settings().model_dump(mode="json"))
    else:
        say(f"updated {', '.join(changes)}")
