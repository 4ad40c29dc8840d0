"""What every scheduled job gets: the ledger, its database, the scheduler's own tables, and
the service's stop signal. One context per scheduler instance (per process)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from uuid import uuid4

from adapters.accounting.config import Connection
from adapters.config import ConfigError
from adapters.ledger.application import Ledger
from adapters.mail.config import SmtpConfig
from adapters.store.database import Database
from adapters.usage.location import usage_database
from adapters.webhooks.store import WebhookStore
from adapters.webhooks.worker import WebhookWorker
from scheduler.state import SchedulerState


@dataclass
class SchedulerSettings:
    """How the scheduler behaves (see docs/scheduler.md)."""

    #: local time of day (customer's zone) at which invoice schedules run
    run_at: time = time(1, 0)
    #: issue the invoices a scheduled run creates (default: leave them as drafts)
    issue: bool = False
    #: seconds between export runs per connection, webhook passes, and schedule syncs
    export_every: float = 300.0
    webhooks_every: float = 2.0
    sync_every: float = 60.0
    #: seconds between passes over failed e-mail sends whose back-off has passed
    retry_sends_every: float = 60.0
    #: a lease on an export is renewed while it runs and lapses this long after a crash
    lease_seconds: float = 120.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SchedulerSettings:
        """``TOLLBOOK_SCHEDULE_AT`` (HH:MM), ``TOLLBOOK_SCHEDULE_ISSUE`` (1/0), and
        ``TOLLBOOK_EXPORT_EVERY`` / ``TOLLBOOK_WEBHOOKS_EVERY`` / ``TOLLBOOK_SCHEDULE_SYNC_EVERY``
        / ``TOLLBOOK_RETRY_SENDS_EVERY`` (seconds)."""
        env = os.environ if environ is None else environ
        settings = cls()
        at = env.get("TOLLBOOK_SCHEDULE_AT")
        if at:
            try:
                settings.run_at = time.fromisoformat(at)
            except ValueError:
                raise ConfigError(f"TOLLBOOK_SCHEDULE_AT must be HH:MM, got {at!r}") from None
        issue = env.get("TOLLBOOK_SCHEDULE_ISSUE", "0").strip().lower()
        settings.issue = issue in ("1", "true", "yes")
        for variable, attribute in (
            ("TOLLBOOK_EXPORT_EVERY", "export_every"),
            ("TOLLBOOK_WEBHOOKS_EVERY", "webhooks_every"),
            ("TOLLBOOK_SCHEDULE_SYNC_EVERY", "sync_every"),
            ("TOLLBOOK_RETRY_SENDS_EVERY", "retry_sends_every"),
        ):
            value = env.get(variable)
            if value:
                try:
                    seconds = float(value)
                except ValueError:
                    seconds = 0
                if not seconds > 0:
                    raise ConfigError(f"{variable} must be a number of seconds, got {value!r}")
                setattr(settings, attribute, seconds)
        return settings


@dataclass
class JobContext:
    ledger: Ledger
    db: Database
    settings: SchedulerSettings = field(default_factory=SchedulerSettings)
    connections: dict[str, Connection] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)
    #: this instance's name in leases
    instance: str = field(default_factory=lambda: f"scheduler-{uuid4().hex[:12]}")
    #: set when the scheduler starts (sync_jobs adds and removes jobs through it)
    scheduler: Any = None
    webhook_worker: WebhookWorker | None = None
    #: the SMTP settings failed sends are retried with; None: no mail configured, no retries
    mail: SmtpConfig | None = None
    #: what the mail templates read (TOLLBOOK_MAIL_TEMPLATES)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    #: where the usage is (TOLLBOOK_USAGE_DATABASE_URL); None: in ``db``, beside the ledger
    usage_db: Database | None = None

    def __post_init__(self) -> None:
        if self.usage_db is None:
            self.usage_db = usage_database(self.db)
        self.state = SchedulerState(self.db)
        self.state.ensure_schema()
        if self.webhook_worker is None:
            webhooks = WebhookStore(self.db)
            webhooks.ensure_schema()  # a worker may start before any API process made them
            self.webhook_worker = WebhookWorker(self.ledger, webhooks)

    def now(self) -> datetime:
        """The ledger's clock (injected in tests), which decides which periods have ended."""
        return self.ledger.clock()

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.ledger.clock
