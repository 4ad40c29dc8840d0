"""The gauges ``/metrics`` reads from the database when it is scraped: how far behind the log
each read model, accounting connection and webhook subscription is, and what waits.

Computed per scrape, so never stale and nothing to keep in step across processes: a handful
of index look-ups (the log's head, the tracking rows, a count per subscription and per
connection). When the database cannot be read, ``tollbook_database_up`` is 0 and the other
gauges are left out of that scrape, rather than the scrape failing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import structlog
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from adapters.accounting.store import ExportStore
from adapters.app.context import Services
from adapters.app.health import ReadModelHealth, ReadModelState

log = structlog.get_logger("tollbook.service")


class DatabaseCollector(Collector):
    def __init__(
        self,
        services: Services,
        read_models: ReadModelHealth,
        connections: Callable[[], Iterable[str]] = tuple,
    ) -> None:
        self.services = services
        self.read_models = read_models
        self.connections = connections  # the configured accounting connections' names

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "tollbook_database_up", "1 when this scrape could read the database, else 0."
        )
        try:
            families = list(self._families())
        except Exception:
            log.warning("metrics: the database cannot be read", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterator[Metric]:
        state = self.read_models.state()
        head = GaugeMetricFamily("tollbook_log_head_position", "The event log's last position.")
        head.add_metric([], state.head)
        yield head
        yield from self._read_models(state)
        yield from self._exports(state.head)
        yield from self._webhooks(state.head)

    def _read_models(self, state: ReadModelState) -> Iterator[Metric]:
        position = GaugeMetricFamily(
            "tollbook_read_model_position",
            "The log position each read model has applied up to.",
            labels=["read_model"],
        )
        lag = GaugeMetricFamily(
            "tollbook_read_model_lag_positions",
            "Log positions each read model is behind the head.",
            labels=["read_model"],
        )
        stopped = GaugeMetricFamily(
            "tollbook_read_model_stopped",
            "1 when the read model is stopped at an event it cannot apply.",
            labels=["read_model"],
        )
        for name, at in state.positions.items():
            position.add_metric([name], at)
            lag.add_metric([name], state.lag(name))
            stopped.add_metric([name], 1 if name in state.stopped else 0)
        yield from (position, lag, stopped)

    def _exports(self, head: int) -> Iterator[Metric]:
        store = ExportStore(self.services.db)
        positions = {name: row[1] for name, row in store.positions().items()}
        for name in self.connections():
            positions.setdefault(name, 0)  # configured, never run yet: the whole log waits
        backlog = GaugeMetricFamily(
            "tollbook_export_backlog_positions",
            "Log positions each accounting connection has not exported yet.",
            labels=["connection"],
        )
        for name, at in sorted(positions.items()):
            backlog.add_metric([name], max(0, head - at))
        letters = GaugeMetricFamily(
            "tollbook_export_dead_letters",
            "Open dead letters per accounting connection (dead: failed for good; parked:"
            " waiting behind one).",
            labels=["connection", "status"],
        )
        counts = store.dead_letter_counts()
        for name in sorted(positions):
            for status in ("dead", "parked"):
                letters.add_metric([name, status], counts.pop((name, status), 0))
        for (name, status), count in sorted(counts.items()):  # a connection since removed
            letters.add_metric([name, status], count)
        yield from (backlog, letters)

    def _webhooks(self, head: int) -> Iterator[Metric]:
        waiting = GaugeMetricFamily(
            "tollbook_webhook_backlog",
            "Webhook deliveries not delivered, per subscription (pending: queued or retrying;"
            " failed: gave up, waiting for `tollbook webhook retry`).",
            labels=["subscription", "status"],
        )
        unqueued = GaugeMetricFamily(
            "tollbook_webhook_unqueued_positions",
            "Log positions after the last one queued for each subscription (events not yet"
            " looked at; not all of them are of the subscription's types).",
            labels=["subscription"],
        )
        for subscription, position, pending, failed in self.services.webhooks.backlog():
            waiting.add_metric([subscription, "pending"], pending)
            waiting.add_metric([subscription, "failed"], failed)
            unqueued.add_metric([subscription], max(0, head - position))
        yield from (waiting, unqueued)
