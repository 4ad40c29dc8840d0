"""``tollbook settings ...``: the seller's account settings.

``settings show`` on a SQLite store reads the stored settings with ``sqlite3`` alone
(adapters/store/stored_settings.py) and builds the ledger only when that cannot answer, so this
module imports the ledger and the domain inside the commands that use them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from adapters.cli.context import emit_json, json_option, passes_state, say, state, table

if TYPE_CHECKING:
    from adapters.ledger.application import Ledger


@click.group()
def settings() -> None:
    """The seller's settings: company, tax defaults, numbering, line grouping."""


@settings.command("show")
@json_option
def show(as_json: bool) -> None:
    """Show the account settings."""
    from adapters.store.stored_settings import stored_settings

    current = state()
    doc: dict[str, Any] | None = None
    if current.tenant is None:  # a tenant's store is the directory's to name: the ledger's path
        doc = stored_settings(current.given_url)
    if doc is None:
        doc = current.ledger.settings().model_dump(mode="json")
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
    from domain.changes import SettingsChanges
    from domain.errors import InvalidInput
    from domain.settings import SellerSettings

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
