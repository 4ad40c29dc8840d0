"""Checking backup pieces before anything is written: their manifests, their files' checksums,
and that their events continue one chain from the first piece to the last.

Every refusal names the piece (its number in the order given, and its folder) and, where it
concerns an event, the position.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from adapters.backup.lines import (
    EVENTS_FILE,
    MAX_LINE,
    USAGE_FILE,
    BadLine,
    ChainWalk,
    EventLine,
    table_file,
)
from adapters.backup.manifest import Manifest, ManifestInvalid, read_manifest
from adapters.backup.tables import carried
from adapters.store.chain import audit_key

#: more pieces than this is no schedule anyone runs (a daily increment for ~3 years)
MAX_PIECES = 1000


class StepFailed(Exception):
    """A step of the restore that found something wrong; the message says what and where."""


@dataclass(frozen=True)
class Piece:
    number: int  # 1 for the full backup, then each increment in the order given
    folder: Path
    manifest: Manifest

    @property
    def label(self) -> str:
        return f"piece {self.number} ({self.folder})"

    def file(self, name: str) -> Path:
        return self.folder / name


def read_pieces(paths: Sequence[Path], migration_count: int) -> list[Piece]:
    """The pieces named by ``paths`` (folders or manifest files), checked for order and
    consistency; refuses naming the piece."""
    if not paths:
        raise StepFailed("no pieces given: name the full backup, then each increment in order")
    if len(paths) > MAX_PIECES:
        raise StepFailed(f"{len(paths)} pieces: at most {MAX_PIECES} (take a new full backup)")
    pieces = []
    for number, path in enumerate(paths, start=1):
        folder = path if path.is_dir() else path.parent
        try:
            manifest = read_manifest(path)
        except ManifestInvalid as error:
            raise StepFailed(f"piece {number} ({folder}): {error}") from None
        piece = Piece(number, folder, manifest)
        _check_piece(piece, migration_count)
        pieces.append(piece)
    _check_order(pieces)
    return pieces


def _check_piece(piece: Piece, migration_count: int) -> None:
    manifest = piece.manifest
    foreign = [t for t in manifest.tables if not carried(t)]  # on either kind of store
    if foreign:
        raise StepFailed(f"{piece.label}: a backup never carries table {foreign[0]}")
    if manifest.schema_version > migration_count:
        raise StepFailed(
            f"{piece.label} was made at schema version {manifest.schema_version}; this"
            f" tollbook knows {migration_count}: restore it with the newer tollbook"
        )
    key = audit_key()
    if manifest.keyed != (key is not None):
        raise StepFailed(
            f"{piece.label}: its chain was made with TOLLBOOK_AUDIT_KEY"
            f" {'set' if manifest.keyed else 'unset'}: restore with the same setting"
        )
    if key is not None and not hmac.compare_digest(
        manifest.signature or "", manifest.signature_with(key)
    ):
        raise StepFailed(
            f"{piece.label}: its manifest's signature does not match: the manifest was altered,"
            " or TOLLBOOK_AUDIT_KEY is not the key it was written with"
        )
    listed = {f.name for f in manifest.files}
    needed = {EVENTS_FILE, USAGE_FILE, *(table_file(t) for t in manifest.tables)}
    if needed - listed:
        raise StepFailed(f"{piece.label}: its manifest lists no {sorted(needed - listed)[0]}")
    root = piece.folder.resolve()
    for name in sorted(listed):
        path = piece.file(name)
        # names are plain (the manifest's pattern); a link could still point anywhere
        if path.is_symlink() or not path.is_file() or path.resolve().parent != root:
            raise StepFailed(f"{piece.label}: {name} is missing or is not a plain file")


def _check_order(pieces: list[Piece]) -> None:
    if pieces[0].manifest.kind != "full":
        raise StepFailed(f"{pieces[0].label} is an increment: give the full backup first")
    for before, after in pairwise(pieces):
        if after.manifest.kind != "incremental":
            raise StepFailed(f"{after.label} is a full backup: only the first piece may be one")
        if after.manifest.schema_version < before.manifest.schema_version:
            raise StepFailed(
                f"{after.label} has an older schema version than {before.label}: wrong order?"
            )


def verify_checksums(pieces: Sequence[Piece]) -> str:
    files = 0
    for piece in pieces:
        for entry in piece.manifest.files:
            size, digest = _digest(piece.file(entry.name))
            if (size, digest) != (entry.bytes, entry.sha256):
                raise StepFailed(
                    f"{piece.label}: {entry.name} has {size:,} bytes, sha256 {digest[:16]}…;"
                    f" its manifest says {entry.bytes:,} bytes, {entry.sha256[:16]}… (the file"
                    " was altered or cut short)"
                )
            files += 1
    return f"{files} files in {len(pieces)} pieces match their manifests"


def _digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Numbered lines of a backup file; a line cut off (no newline) or too long is refused."""
    with path.open("rb") as stream:
        number = 0
        while line := stream.readline(MAX_LINE + 1):
            number += 1
            if not line.endswith(b"\n"):
                raise BadLine(f"line {number} is cut off (or longer than {MAX_LINE:,} bytes)")
            yield number, line


def event_lines(piece: Piece) -> Iterator[EventLine]:
    """The piece's event lines, each refused with its line number if it is no event line."""
    try:
        for number, line in lines(piece.file(EVENTS_FILE)):
            yield _event(piece, number, line)
    except BadLine as error:  # a line cut off: the message has its number
        raise StepFailed(f"{piece.label}: {EVENTS_FILE}: {error}") from None


def _event(piece: Piece, number: int, line: bytes) -> EventLine:
    try:
        return EventLine.loads(line)
    except BadLine as error:
        raise StepFailed(f"{piece.label}: {EVENTS_FILE} line {number}: {error}") from None


def verify_chain(pieces: Sequence[Piece], progress: Callable[[str, int], None]) -> str:
    """Every piece continues the one before it and its events continue the chain link by
    link, ending exactly where its manifest says."""
    walk = ChainWalk(key=audit_key())
    usage_batch = verified = 0
    for index, piece in enumerate(pieces):
        previous = pieces[index - 1] if index else None
        manifest = piece.manifest
        if manifest.start != (walk.position, walk.head) or (
            manifest.base is not None and manifest.base.usage_batch != usage_batch
        ):
            assert previous is not None  # a full piece starts at the genesis link
            raise StepFailed(
                f"{piece.label} does not continue {previous.label}: it follows position"
                f" {manifest.start[0]} (chain head {manifest.start[1][:16]}…), {previous.label}"
                f" ends at position {walk.position} ({walk.head[:16]}…): a piece is missing,"
                " out of order, or of another ledger"
            )
        counts: Counter[str] = Counter()
        for event in event_lines(piece):
            problem = walk.follow(event)
            if problem:
                raise StepFailed(f"{piece.label}: {problem}")
            counts[event.event_type] += 1
            verified += 1
            if verified % 10_000 == 0:
                progress("events verified", verified)
        if (walk.position, walk.head) != (manifest.last_position, manifest.chain_head):
            raise StepFailed(
                f"{piece.label}: its events end at position {walk.position}; its manifest says"
                f" {manifest.last_position} (events were removed from its end, or added)"
            )
        if dict(counts) != manifest.event_counts:
            raise StepFailed(f"{piece.label}: its events per type differ from its manifest")
        usage_batch = manifest.usage.batch
    return (
        f"continuous from the first event to position {walk.position} over {len(pieces)}"
        f" piece(s); chain head {walk.head}"
    )


def verify_usage(pieces: Sequence[Piece]) -> str:
    """The CDRs of every piece together are the CDRs the store held at the last piece: as
    many, charging as much (a re-rate or a purge after the full backup is not in the
    increments, and would make a restore that bills differently)."""
    rows = charges = 0
    for piece in pieces:
        numbered = lines(piece.file(USAGE_FILE))
        try:
            _, first = next(numbered, (0, b"{}"))
            header = json.loads(first)
            at = list(header.get("columns", [])).index("charge_micros")
            for number, line in numbered:
                charge = json.loads(line)[at] if line else None
                if not isinstance(charge, int) or isinstance(charge, bool):
                    raise BadLine(f"line {number} has no whole charge")
                rows, charges = rows + 1, charges + charge
        except (BadLine, ValueError, AttributeError, IndexError, KeyError, TypeError) as error:
            raise StepFailed(
                f"{piece.label}: {USAGE_FILE}: not CDRs as a backup writes them ({error})"
            ) from None
    wanted = pieces[-1].manifest.usage
    if (rows, charges) != (wanted.rows, wanted.charge_micros):
        raise StepFailed(
            f"the pieces hold {rows} CDRs charging {charges} micro-units; the store held"
            f" {wanted.rows} charging {wanted.charge_micros} at the last backup: CDRs were"
            " re-rated or purged after the full backup, which increments do not carry (take"
            " a full backup after `usage rerate` or `usage purge`)"
        )
    return f"{rows} CDRs, as the store held at the last backup"
