"""Everything a running service shares: the ledger, its database and the adapter tables."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from adapters.app.api_keys import ApiKeys
from adapters.app.grouped_probe import GroupedProbe
from adapters.app.idempotency_keys import IdempotencyStore
from adapters.app.reads import ReadProbe
from adapters.config import build_ledger, database_url, key_retention_days
from adapters.ledger.application import Ledger, utc_now
from adapters.metrics import LedgerMetrics
from adapters.store.database import Database
from adapters.webhooks.store import WebhookStore

#: The longest a long-poll (``GET /events?wait=``) waits; the query refuses more (422).
LONG_POLL_MAX_SECONDS = 30.0


@dataclass
class Services:
    ledger: Ledger
    db: Database
    # how often a long-poll or event stream looks for new events
    poll_interval: float = 0.25
    max_wait: float = LONG_POLL_MAX_SECONDS
    # set on shutdown so long-polls, streams and workers finish promptly
    stopping: threading.Event = field(default_factory=threading.Event)
    # days an Idempotency-Key's answer is given (None: for ever); TOLLBOOK_IDEMPOTENCY_KEY_DAYS
    key_retention_days: int | None = None
    #: the tenant this service acts for (None: a single-seller install); its keys and
    #: portal sessions carry the name (docs/scaling.md)
    tenant: str | None = None
    #: where webhook delivery and exports read events: ``database`` (poll the log) or
    #: ``jetstream`` (durable consumers on the relay's stream); ``serve --source``
    event_source: str = "database"

    def __post_init__(self) -> None:
        # a service counts its saves and conflicts (/metrics); a CLI command does not pay
        # for importing the metrics library
        self.ledger.observer = LedgerMetrics()
        self.api_keys = ApiKeys(self.db, tenant=self.tenant)
        self.idempotency = IdempotencyStore(self.db)
        # the ledger's clock stamps a subscription, so a key's age is measured on one clock
        self.webhooks = WebhookStore(self.db, clock=self.ledger.clock)
        self._probe: ReadProbe | GroupedProbe | None = None

    def read_probe(self) -> ReadProbe | GroupedProbe | None:
        """What decides whether a kept read still holds (adapters/app/reads.py); None on a
        store without an events table of its own."""
        if self._probe is None:
            table = getattr(self.ledger.recorder, "events_table_name", "")
            if not isinstance(table, str) or not table.replace("_", "").isalnum():
                return None
            if self.db.dialect == "sqlite":
                self._probe = ReadProbe(self.db, table)
            else:
                self._probe = GroupedProbe(self.db, table)
        return self._probe

    @classmethod
    def from_url(
        cls,
        url: str | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        tenant: str | None = None,
    ) -> Services:
        url = url or database_url()
        services = cls(
            ledger=build_ledger(url, clock=clock),
            # pooled (PostgreSQL; SQLite: kept read connections): every request checks its
            # API key; a new connection per request cost more than the query
            db=Database.from_url(url).pooled(),
            key_retention_days=key_retention_days(),
            tenant=tenant,
        )
        services.ensure_schema()
        return services

    def ensure_schema(self) -> None:
        """Create the adapter tables beside the event store (idempotent)."""
        self.api_keys.ensure_schema()
        self.idempotency.ensure_schema()
        self.webhooks.ensure_schema()

    def close(self) -> None:
        self.stopping.set()
        if self._probe is not None:
            self._probe.close()
        self.ledger.close()
        self.db.close()
