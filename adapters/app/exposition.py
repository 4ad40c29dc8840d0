"""One scrape of ``/metrics``: the process's counters and histograms (or, with several API
processes, every process's, added up from prometheus-client's multiprocess files) and the
gauges read from the database at that moment (adapters/app/collector.py)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from adapters import metrics
from adapters.accounting.config import load_connections
from adapters.app.collector import DatabaseCollector
from adapters.app.context import Services
from adapters.app.health import ReadModelHealth
from adapters.config_error import ConfigError

#: the text format every Prometheus version reads (our names need none of 1.0.0's escaping)
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


class _ThisProcess(Collector):
    """The default registry's metrics (ours, and the process's CPU, memory and GC)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def configured_connections() -> tuple[str, ...]:
    """The accounting connections' names; none when the file does not load (the scheduler
    refuses to start then, and ``tollbook doctor`` says why)."""
    try:
        return tuple(load_connections())
    except ConfigError:
        return ()


class Exposition:
    def __init__(self, services: Services, read_models: ReadModelHealth) -> None:
        names = configured_connections()
        self.registry = CollectorRegistry()
        directory = metrics.multiprocess_dir()
        if directory is not None:  # every process's files, added up (counters, histograms)
            MultiProcessCollector(self.registry, str(directory))  # type: ignore[no-untyped-call]
        else:
            self.registry.register(_ThisProcess())
        self.registry.register(DatabaseCollector(services, read_models, lambda: names))

    def render(self) -> bytes:
        """The text exposition format (version 0.0.4), ``CONTENT_TYPE``."""
        return generate_latest(self.registry)
