"""Idempotency keys: a request's key recorded in the same transaction as the events it caused.

A write sent with an ``Idempotency-Key`` must happen once, whatever crashes, restarts, races or
late errors come between the commit and the client reading the answer. So the key is not kept
beside the ledger but in it: the save that writes the command's events also creates an
``IdempotencyKey`` aggregate whose id is derived from (owner, key). The store's unique
(originator_id, version) then lets exactly one save per key commit — a concurrent second one
fails as a whole, writing nothing — and the record names the aggregates (and versions) the
request changed, from which its response is derived again on a replay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from pydantic import Field

from domain.aggregate import Aggregate, Created, Stamp
from domain.values import Frozen

# Fixed namespace: the same (owner, key) names the same record on every server, for ever.
NAMESPACE = UUID("0b0a3c56-3b6f-5d0e-9b8e-5f1f2f6c1d7a")


def record_id(owner: str, key: str) -> UUID:
    return uuid5(NAMESPACE, f"{owner}\0{key}")


class Effect(Frozen):
    """One aggregate a request changed, and its version right after the request's commit."""

    kind: str = Field(max_length=64)
    aggregate_id: UUID
    version: int = Field(ge=1)


class IdempotencyKey(Aggregate):
    """A request sent with an Idempotency-Key and the changes its one commit made."""

    owner: str
    key: str
    fingerprint: str
    route: str
    path: str
    status: int
    effects: tuple[Effect, ...]

    class Recorded(Created):
        """A keyed request committed: its fingerprint, route and the aggregates it changed.

        ``owner`` is a one-way digest of the credential that sent it (keys are per caller);
        ``fingerprint`` a digest of method, path, query and body; ``status`` the route's
        success status; ``effects`` the aggregates and the versions the commit left them at.
        """

        owner: str = Field(max_length=64)
        key: str = Field(max_length=255)
        fingerprint: str = Field(max_length=64)
        route: str = Field(max_length=200)
        path: str = Field(max_length=2000)
        status: int = Field(ge=100, le=599)
        effects: tuple[Effect, ...]

        def apply(self, aggregate: Any) -> None:
            aggregate.owner = self.owner
            aggregate.key = self.key
            aggregate.fingerprint = self.fingerprint
            aggregate.route = self.route
            aggregate.path = self.path
            aggregate.status = self.status
            aggregate.effects = self.effects

    @classmethod
    def record(cls, request: KeyedRequest, effects: list[Effect], stamp: Stamp) -> IdempotencyKey:
        return cls._start(
            cls.Recorded,
            record_id(request.owner, request.key),
            stamp,
            owner=request.owner,
            key=request.key,
            fingerprint=request.fingerprint,
            route=request.route,
            path=request.path,
            status=request.status,
            effects=tuple(effects),
        )

    def effect(self, kind: str) -> Effect:
        """The first changed aggregate of a kind (the one a route answers with)."""
        for effect in self.effects:
            if effect.kind == kind:
                return effect
        raise LookupError(f"idempotency record {self.key!r} changed no {kind}")


@dataclass
class KeyedRequest:
    """What the ledger needs to know about the keyed request whose command it is saving.

    The HTTP adapter makes one per request and reads back what happened: ``committed`` when
    this request's save carried the record, ``lost`` when another request had committed the
    same key first (this one then wrote nothing).
    """

    owner: str
    key: str
    fingerprint: str
    route: str
    path: str
    status: int
    # test-only fault injection: runs right after the commit (see adapters/http/idempotency.py)
    after_commit: Callable[[], None] | None = None
    committed: IdempotencyKey | None = None
    lost: bool = False


class KeyAlreadyCommitted(Exception):
    """Another request committed this Idempotency-Key first; this one wrote nothing.

    Not a BillingError: it never reaches a client as such; the HTTP adapter answers with the
    committed request's outcome instead.
    """


def expired(used_at: datetime, now: datetime, retention_days: int | None) -> bool:
    """Whether a key first used at ``used_at`` is past its retention (None: kept for ever).

    Expiry never deletes anything and never lets the key run again: the key's record stays
    (events are never deleted), and a request with it is refused (``idempotency_key_expired``)
    instead of being answered, so a very late retry can neither duplicate the write nor get
    an answer the caller can no longer tell from a new one."""
    return retention_days is not None and now - used_at > timedelta(days=retention_days)
