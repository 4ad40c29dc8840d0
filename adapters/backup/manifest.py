"""A backup piece's manifest: what it holds, where it sits in the log, and the sha256 of each
file. Read with limits on everything (a manifest is input: it may come from anywhere)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from adapters.backup.lines import MANIFEST_FILE

FORMAT: Final = "tollbook-backup/1"
#: a manifest larger than this is no manifest tollbook wrote
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_FILES = 500
MAX_EVENT_TYPES = 1000
Position = Annotated[int, Field(ge=0, lt=2**63)]
Count = Annotated[int, Field(ge=0, lt=2**63)]
Hash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
#: a file of the piece: a plain name in its folder (no path, no "..", nothing hidden)
FileName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]*(\.[a-z0-9_]+){1,3}$", max_length=100)]
TableName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
EventType = Annotated[str, Field(min_length=1, max_length=200)]


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class FileEntry(Frozen):
    name: FileName
    sha256: Hash
    bytes: Count
    lines: Count


class Base(Frozen):
    """The piece an increment follows: where that piece's log ended, and its chain head."""

    position: Position
    chain_head: Hash
    usage_batch: Count


class Usage(Frozen):
    """The store's usage at the backup: to prove a restore holds the same CDRs."""

    batch: Count  # the last import batch
    rows: Count
    charge_micros: int = Field(ge=-(2**63), lt=2**63)


class Manifest(Frozen):
    format: Literal["tollbook-backup/1"]
    kind: Literal["full", "incremental"]
    store: Literal["sqlite", "postgres"]
    created_at: datetime
    tollbook_version: Annotated[str, Field(max_length=40)]
    schema_version: Annotated[int, Field(ge=0, le=9999)]
    keyed: bool  # the chain is HMAC'd (TOLLBOOK_AUDIT_KEY): restore needs the same key
    base: Base | None
    last_position: Position
    chain_head: Hash
    events: Count
    event_counts: Annotated[dict[EventType, Count], Field(max_length=MAX_EVENT_TYPES)]
    usage: Usage
    tables: Annotated[list[TableName], Field(max_length=MAX_FILES)]
    files: Annotated[list[FileEntry], Field(max_length=MAX_FILES)]
    #: with TOLLBOOK_AUDIT_KEY: HMAC-SHA-256 of everything above, so the checksums of the
    #: files that the chain does not cover (CDRs, tables) cannot be rewritten without the key
    signature: Hash | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        if (self.kind == "full") != (self.base is None):
            raise ValueError("a full backup has no base; an incremental one has one")
        if self.base is not None and self.base.position > self.last_position:
            raise ValueError("the base ends after the piece does")
        if self.created_at.tzinfo is None:
            raise ValueError("created_at has no time zone")
        names = [f.name for f in self.files]
        if len(set(names)) != len(names):
            raise ValueError("a file is listed twice")
        if sum(self.event_counts.values()) != self.events:
            raise ValueError("event_counts do not add up to events")
        return self

    def signed(self, key: bytes | None) -> Manifest:
        return self.model_copy(update={"signature": self.signature_with(key) if key else None})

    def signature_with(self, key: bytes) -> str:
        content = self.model_dump(mode="json", exclude={"signature"})
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(key, canonical, hashlib.sha256).hexdigest()

    def dumps(self) -> str:
        return self.model_dump_json(indent=2) + "\n"

    @property
    def start(self) -> tuple[int, str]:
        """The link the piece's events continue: its base's, or the chain's beginning."""
        from adapters.store.chain import GENESIS

        return (self.base.position, self.base.chain_head) if self.base else (0, GENESIS)


class ManifestInvalid(ValueError):
    """A manifest that cannot be read, or is not one tollbook wrote."""


def manifest_path(path: Path) -> Path:
    """A piece is named by its folder or by its manifest file."""
    return path / MANIFEST_FILE if path.is_dir() else path


def read_manifest(path: Path) -> Manifest:
    """The manifest at ``path`` (a piece's folder or its manifest.json), checked."""
    file = manifest_path(path)
    if not file.is_file():
        raise ManifestInvalid(f"no {MANIFEST_FILE} at {path}")
    with file.open("rb") as stream:
        data = stream.read(MAX_MANIFEST_BYTES + 1)
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestInvalid(f"manifest larger than {MAX_MANIFEST_BYTES:,} bytes")
    try:
        doc = json.loads(data)
    except ValueError as error:
        raise ManifestInvalid(f"manifest is not JSON: {error}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ManifestInvalid(f"not a tollbook backup manifest (format is not {FORMAT!r})")
    try:
        return Manifest.model_validate_json(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'manifest'}: {e['msg']}"
            for e in error.errors()[:5]
        )
        raise ManifestInvalid(f"manifest invalid: {problems}") from None
