"""The counters and histograms tollbook's code moves as it works (docs/operations.md, "Metrics").

They live in prometheus-client's default registry, one set per process. What needs the
database (read-model lag, export and webhook backlogs) is not kept here: it is read when
``/metrics`` is scraped (adapters/app/collector.py), so it is never stale.

Labels are bounded on purpose: a route's template (``/invoices/{ref}``), never its path; a
job's kind or connection, never a customer id; a webhook subscription's id (there are few).
With ``tollbook serve --workers N`` the processes write these to files that every scrape adds
up (``enable_multiprocess``, adapters/service/metrics_server.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import Counter, Histogram, values

#: the directory multiprocess mode keeps its files in (prometheus-client's own variable)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# seconds: an API request is mostly milliseconds; a slow read or a write waiting for a lock
# is up to a few seconds
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# seconds: a billing run or CDR import of a small carrier takes seconds, a large one minutes
RUN_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

HTTP_REQUESTS = Counter(
    "tollbook_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "tollbook_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status code.",
    ["method", "route", "status"],
    buckets=REQUEST_BUCKETS,
)
EVENTS_WRITTEN = Counter(
    "tollbook_events_written",
    "Events the ledger saved to the event store, by operation.",
    ["operation"],
)
SAVES = Counter(
    "tollbook_event_store_saves",
    "Atomic saves the ledger made (each holds one or more events), by operation.",
    ["operation"],
)
CONFLICTS = Counter(
    "tollbook_event_store_conflicts",
    "Saves refused because another writer changed the same aggregate first (each is"
    " retried from fresh state), by operation.",
    ["operation"],
)
CONFLICTS_GIVEN_UP = Counter(
    "tollbook_event_store_conflicts_exhausted",
    "Commands that kept conflicting until the retries ran out (the caller got a 409 /"
    " exit 4), by operation.",
    ["operation"],
)
BILLING_RUN_DURATION = Histogram(
    "tollbook_billing_run_duration_seconds",
    "Duration of a billing run, by whether it was a dry run.",
    ["dry_run"],
    buckets=RUN_BUCKETS,
)
BILLING_RUN_INVOICES = Counter(
    "tollbook_billing_run_invoices",
    "Invoices a billing run dealt with, by action (created, extended, unchanged, refused, ...).",
    ["action"],
)
IMPORT_DURATION = Histogram(
    "tollbook_cdr_import_duration_seconds",
    "Duration of a CDR import, by outcome.",
    ["outcome"],
    buckets=RUN_BUCKETS,
)
IMPORT_ROWS = Counter(
    "tollbook_cdr_import_rows",
    "CDR rows read by imports, by result (inserted, duplicate, rejected).",
    ["result"],
)
WEBHOOK_ATTEMPTS = Counter(
    "tollbook_webhook_attempts",
    "Webhook delivery attempts, by subscription and outcome (delivered, retrying, gave_up).",
    ["subscription", "outcome"],
)
SCHEDULER_RUNS = Counter(
    "tollbook_scheduler_job_runs",
    "Scheduled job runs, by job kind and outcome (ok, failed).",
    ["job", "outcome"],
)
SCHEDULER_MISSES = Counter(
    "tollbook_scheduler_job_misses",
    "Scheduled runs that did not happen on time, by job kind and reason (missed: past its"
    " grace time; overlapping: the previous run still ran; late: ran a minute or more after"
    " it fell due, e.g. after downtime).",
    ["job", "reason"],
)


@contextmanager
def timed(histogram: Histogram, **labels: str) -> Iterator[dict[str, str]]:
    """Observe the block's duration in ``histogram``; the block may change the labels (an
    outcome known only at the end). A block that raises is observed with ``outcome=error``
    when the histogram has that label."""
    chosen = dict(labels)
    started = time.perf_counter()
    try:
        yield chosen
    except BaseException:
        if "outcome" in chosen:
            chosen["outcome"] = "error"
        raise
    finally:
        histogram.labels(**chosen).observe(time.perf_counter() - started)


def job_kind(job_id: str) -> str:
    """A scheduled job's label: ``invoice`` for every customer's schedule (one label, not
    one per customer), ``export:<connection>``, ``webhooks``."""
    kind, _, rest = job_id.partition(":")
    return job_id if kind == "export" and rest else kind


def multiprocess_dir() -> Path | None:
    directory = os.environ.get(MULTIPROC_ENV)
    return Path(directory) if directory else None


def enable_multiprocess(directory: Path) -> None:
    """From now on this process (and the processes it spawns, which inherit the variable)
    keeps its metrics in files under ``directory``, which a scrape adds up.

    Every metric here has labels, so no value exists before its first use: switching the
    value class now, before serving, covers all of them. Stale files from an earlier run
    are removed (their counters would be added to this run's)."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


class LedgerMetrics:
    """The ledger's ``SaveObserver`` (adapters/ledger/base.py): saves, events and conflicts."""

    def saved(self, operation: str, events: int) -> None:
        SAVES.labels(operation=operation).inc()
        EVENTS_WRITTEN.labels(operation=operation).inc(events)

    def conflicted(self, operation: str) -> None:
        CONFLICTS.labels(operation=operation).inc()

    def gave_up(self, operation: str) -> None:
        CONFLICTS_GIVEN_UP.labels(operation=operation).inc()
