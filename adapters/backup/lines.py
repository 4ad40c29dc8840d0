"""The lines of a backup's files: an event with its chain link, and a row of a table.

Both stores write and read the same lines, so a piece taken from SQLite restores into
PostgreSQL and the reverse. Bytes (an event's stored state, a BLOB/BYTEA column) travel as
base64, everything else as JSON's own numbers, strings and nulls (floats round-trip exactly:
``json`` writes their shortest repr).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from adapters.store.chain import GENESIS, link, record_digest

HASH = re.compile(r"[0-9a-f]{64}")  # a link as the chain writes it (chain.is_hash, faster)
EVENTS_FILE = "events.jsonl"
USAGE_FILE = "usage_cdrs.jsonl"
MANIFEST_FILE = "manifest.json"
#: a line longer than this is no line tollbook wrote (an event's state is ~14 KB at most)
MAX_LINE = 64 * 1024 * 1024


def table_file(table: str) -> str:
    return f"table.{table}.jsonl"


class BadLine(ValueError):
    """A line of a backup file that tollbook could not have written."""


@dataclass(frozen=True)
class EventLine:
    """One stored event exactly as stored, with the chain row written with it."""

    position: int
    aggregate_id: str
    version: int
    topic: str
    state: bytes
    prev_position: int
    hash: str

    def dumps(self) -> str:
        return json.dumps(
            {
                "position": self.position,
                "aggregate_id": self.aggregate_id,
                "version": self.version,
                "topic": self.topic,
                "state": base64.b64encode(self.state).decode("ascii"),
                "prev_position": self.prev_position,
                "hash": self.hash,
            },
            separators=(",", ":"),
        )

    @classmethod
    def loads(cls, line: bytes) -> EventLine:
        try:
            doc = json.loads(line)
        except ValueError as error:
            raise BadLine(f"not JSON: {error}") from None
        if not isinstance(doc, dict) or set(doc) != EVENT_KEYS:
            raise BadLine("not an event line (its keys are not those of one)")
        for key in ("position", "version", "prev_position"):
            if not _whole(doc[key]):
                raise BadLine(f"{key} is not a whole number from 0 to 2^63-1")
        if not (isinstance(doc["topic"], str) and 0 < len(doc["topic"]) <= 500):
            raise BadLine("topic is not a text of 1 to 500 characters")
        if not (isinstance(doc["hash"], str) and HASH.fullmatch(doc["hash"])):
            raise BadLine("hash is not 64 lowercase hex digits")
        try:
            aggregate = str(UUID(str(doc["aggregate_id"])))
            state = base64.b64decode(str(doc["state"]), validate=True)
        except (ValueError, binascii.Error):
            raise BadLine("aggregate id is no UUID, or state is no base64") from None
        return cls(
            doc["position"],
            aggregate,
            doc["version"],
            doc["topic"],
            state,
            doc["prev_position"],
            doc["hash"],
        )

    @property
    def event_type(self) -> str:
        """``Invoice.Issued`` of the topic ``domain.invoice:Invoice.Issued``."""
        return self.topic.rpartition(":")[2]


EVENT_KEYS = frozenset(
    {"position", "aggregate_id", "version", "topic", "state", "prev_position", "hash"}
)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


class ChainWalk:
    """Follows the chain from a known link, one event line at a time, as the recorder made it
    (adapters/store/chain.py): each line must link back to the last one and hash from it."""

    def __init__(self, position: int = 0, head: str = GENESIS, key: bytes | None = None):
        self.position = position
        self.head = head
        self.key = key

    def follow(self, event: EventLine) -> str:
        """Why ``event`` does not continue the chain (empty: it does, and is now its head)."""
        if event.position <= self.position:
            return f"position {event.position} is not after {self.position}"
        if event.prev_position != self.position:
            return (
                f"position {event.position} links back to position {event.prev_position},"
                f" but the chain so far ends at {self.position}: events are missing between"
            )
        digest = record_digest(
            event.position, event.aggregate_id, event.version, event.topic, event.state
        )
        if link(self.head, digest, self.key) != event.hash:
            return (
                f"position {event.position} ({event.event_type} of {event.aggregate_id}"
                f" version {event.version}) does not hash to its link: it was altered"
                " (or TOLLBOOK_AUDIT_KEY is not the key the ledger was written with)"
            )
        self.position, self.head = event.position, event.hash
        return ""


def encode_row(values: Sequence[Any]) -> str:
    return json.dumps([_encoded(v) for v in values], separators=(",", ":"))


def _encoded(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, UUID):
        return str(value)
    return value


def decode_row(line: bytes, width: int) -> list[Any]:
    try:
        values = json.loads(line)
    except ValueError as error:
        raise BadLine(f"not JSON: {error}") from None
    if not isinstance(values, list) or len(values) != width:
        raise BadLine(f"not a row of {width} values")
    return [_decoded(v) for v in values]


def _decoded(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) != {"b64"}:
            raise BadLine("a value that is an object other than {b64}")
        try:
            return base64.b64decode(str(value["b64"]), validate=True)
        except (ValueError, binascii.Error):
            raise BadLine("a b64 value that is no base64") from None
    if isinstance(value, list):
        raise BadLine("a value that is a list")
    return value


def table_header(table: str, columns: Sequence[str]) -> str:
    return json.dumps({"table": table, "columns": list(columns)}, separators=(",", ":"))
