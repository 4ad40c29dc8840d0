"""Accounting connections, configured in a TOML or JSON file (or inline JSON) named by env.

``TOLLBOOK_CONNECTIONS`` is a path to ``connections.toml`` / ``connections.json``, or the JSON
text itself. Secret values may be written as ``env:VARIABLE`` to read them from the
environment; they are held as ``SecretStr`` so they never appear in logs, reprs or errors.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from adapters.accounting.mapping import DEFAULTS, AccountMapping
from adapters.config_error import ConfigError

System = Literal["xero", "clearbooks", "freshbooks"]
SYSTEMS: tuple[System, ...] = ("xero", "clearbooks", "freshbooks")
SECRET_FIELDS = ("client_secret", "access_token", "api_key")


class Connection(BaseModel):
    """One accounting organisation / account that the ledger exports into."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    system: System
    base_url: str = ""
    # Xero (custom connection: client credentials) --------------------------------
    tenant_id: str = ""
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    token_url: str = ""
    # FreshBooks (bearer token) ----------------------------------------------------
    account_id: str = ""
    access_token: SecretStr = SecretStr("")
    # Clear Books (API key) --------------------------------------------------------
    api_key: SecretStr = SecretStr("")
    # Behaviour --------------------------------------------------------------------
    timeout_seconds: float = 30.0
    calls_per_minute: int = 0  # 0: the system's own published limit
    max_attempts: int = 6
    mapping: AccountMapping = Field(default_factory=AccountMapping)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value or any(ch.isspace() for ch in value):
            raise ValueError("a connection name must be one word, e.g. acme-xero")
        return value

    @model_validator(mode="after")
    def _system_fields(self) -> Connection:
        # A VAT treatment is Clear Books' own notion: elsewhere the map would be ignored silently.
        if self.mapping.vat_treatments and self.system != "clearbooks":
            raise ValueError(
                f"mapping.vat_treatments is for Clear Books connections, not {self.system}"
            )
        return self


def _resolve_secret(value: Any, environ: Mapping[str, str], where: str) -> Any:
    if isinstance(value, str) and value.startswith("env:"):
        variable = value[4:]
        if variable not in environ:
            raise ConfigError(f"{where} reads ${variable}, which is not set")
        return environ[variable]
    return value


def parse_connections(
    document: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> dict[str, Connection]:
    environ = os.environ if environ is None else environ
    section = document.get("connections", document)
    if not isinstance(section, Mapping):
        raise ConfigError("the connections file needs a [connections.NAME] table per connection")
    connections: dict[str, Connection] = {}
    for name, raw in section.items():
        if not isinstance(raw, Mapping):
            raise ConfigError(f"connection {name!r} must be a table of settings")
        fields = dict(raw)
        for secret in SECRET_FIELDS:
            if secret in fields:
                fields[secret] = _resolve_secret(fields[secret], environ, f"{name}.{secret}")
        system = fields.get("system")
        mapping = {**DEFAULTS.get(str(system), {}), **dict(fields.get("mapping") or {})}
        fields["mapping"] = mapping
        try:
            connections[name] = Connection.model_validate({**fields, "name": name})
        except pydantic.ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors()
            )
            raise ConfigError(f"connection {name!r}: {problems}") from None
    return connections


def load_connections(environ: Mapping[str, str] | None = None) -> dict[str, Connection]:
    """Every configured connection, by name (empty when none is configured)."""
    environ = os.environ if environ is None else environ
    source = environ.get("TOLLBOOK_CONNECTIONS", "").strip()
    if not source:
        return {}
    if source.startswith("{"):
        try:
            return parse_connections(json.loads(source), environ)
        except json.JSONDecodeError as error:
            raise ConfigError(f"TOLLBOOK_CONNECTIONS is not valid JSON: {error}") from None
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"TOLLBOOK_CONNECTIONS names {source}, which is not a file")
    text = path.read_text(encoding="utf-8")
    try:
        document = tomllib.loads(text) if path.suffix != ".json" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path}: {error}") from None
    return parse_connections(document, environ)


def choose(
    connections: Mapping[str, Connection], system: System, name: str | None
) -> list[Connection]:
    """The connections a command acts on: the named one, or every one of that system."""
    if name is not None:
        if name not in connections:
            known = ", ".join(sorted(connections)) or "none configured"
            raise ConfigError(f"no connection named {name!r} (known: {known})")
        chosen = connections[name]
        if chosen.system != system:
            raise ConfigError(f"connection {name!r} is a {chosen.system} connection, not {system}")
        return [chosen]
    matching = [c for c in connections.values() if c.system == system]
    if not matching:
        raise ConfigError(
            f"no {system} connection is configured: set TOLLBOOK_CONNECTIONS (see docs/exports.md)"
        )
    return matching
